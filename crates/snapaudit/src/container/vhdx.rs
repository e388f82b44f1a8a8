//! Microsoft VHDX, as "[MS-VHDX]: Virtual Hard Disk v2 (VHDX) File Format"
//! (version 1.0) defines it.
//!
//! Read: the file type identifier, the two headers (the valid one with the
//! higher sequence number, CRC-32C checked), the region table (CRC-32C
//! checked, the backup copy when the first is damaged), the metadata items
//! a reader needs (file parameters, virtual disk size, logical sector
//! size) and the BAT with its payload block states. The "leave blocks
//! allocated" flag only tells writers not to free blocks; reading ignores
//! it.
//!
//! Refused with an `Unsupported` error that names them: a non-empty log
//! (an image not closed cleanly, whose metadata may be stale until the log
//! is replayed), differencing disks (`HasParent`), and region or metadata
//! items marked required that this reader does not know.
//!
//! All fields are little-endian; GUIDs are stored with their first three
//! fields little-endian, as Windows stores them.

use uuid::Uuid;

use super::{Data, Extent, FileId, Files, Format, HostFile, Layer, check_disjoint, push_merged};
use crate::util::{le_u16, le_u32, le_u64};
use crate::{Error, Result};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// File Type Identifier (MS-VHDX 2.2.1), at byte 0.
const FILE_SIGNATURE: &[u8] = b"vhdxfile";

/// Header (2.2.2): two copies of 4 KiB, at 64 KiB and 128 KiB.
const HEADER_OFFSETS: [u64; 2] = [64 * KIB, 128 * KIB];
const HEADER_BYTES: usize = 4096;
const H_SIGNATURE: &[u8] = b"head";
const H_CHECKSUM: usize = 4;
const H_SEQUENCE_NUMBER: usize = 8;
const H_LOG_GUID: usize = 48;
const H_VERSION: usize = 66;

/// Region Table (2.2.3): two copies of 64 KiB, at 192 KiB and 256 KiB.
const REGION_TABLE_OFFSETS: [u64; 2] = [192 * KIB, 256 * KIB];
const REGION_TABLE_BYTES: usize = 64 * KIB as usize;
const R_SIGNATURE: &[u8] = b"regi";
const R_CHECKSUM: usize = 4;
const R_ENTRY_COUNT: usize = 8;
/// Entries of 32 bytes from byte 16: Guid, FileOffset (u64), Length (u32),
/// Required (bit 0 of a u32).
const R_ENTRIES: usize = 16;
const REGION_ENTRY_BYTES: usize = 32;
const MAX_TABLE_ENTRIES: usize = 2047;

const BAT_REGION: Uuid = Uuid::from_u128(0x2DC27766_F623_4200_9D64_115E9BFD4A08);
const METADATA_REGION: Uuid = Uuid::from_u128(0x8B7CA206_4790_4B9A_B8FE_575F050F886E);

/// Metadata Table (2.2.4): 64 KiB at the start of the metadata region.
const METADATA_TABLE_BYTES: usize = 64 * KIB as usize;
const M_SIGNATURE: &[u8] = b"metadata";
const M_ENTRY_COUNT: usize = 10;
/// Entries of 32 bytes from byte 32: ItemId, Offset (u32, from the start
/// of the region), Length (u32), flags (u32: IsUser, IsVirtualDisk,
/// IsRequired).
const M_ENTRIES: usize = 32;
const METADATA_ENTRY_BYTES: usize = 32;
const M_IS_REQUIRED: u32 = 1 << 2;

/// Known metadata items (2.6.2).
const FILE_PARAMETERS: Uuid = Uuid::from_u128(0xCAA16737_FA36_4D43_B3B6_33F0AA44E76B);
const VIRTUAL_DISK_SIZE: Uuid = Uuid::from_u128(0x2FA54224_CD1B_4876_B211_5DBED83BF4B8);
const PAGE_83_DATA: Uuid = Uuid::from_u128(0xBECA12AB_B2E6_4523_93EF_C309E000C746);
const LOGICAL_SECTOR_SIZE: Uuid = Uuid::from_u128(0x8141BF1D_A96F_4709_BA47_F233A8FAAB5F);
const PHYSICAL_SECTOR_SIZE: Uuid = Uuid::from_u128(0xCDA348C7_445D_4471_9CC9_E9885251C556);
const PARENT_LOCATOR: Uuid = Uuid::from_u128(0xA8D35F2D_B30B_454D_ABF7_D3D84834AB0C);
/// File Parameters: BlockSize (u32), then LeaveBlocksAllocated (bit 0) and
/// HasParent (bit 1).
const FP_HAS_PARENT: u32 = 1 << 1;

const MIN_BLOCK_BYTES: u64 = MIB;
const MAX_BLOCK_BYTES: u64 = 256 * MIB;
/// The format's largest virtual disk.
const MAX_DISK_BYTES: u64 = 64 << 40;

/// BAT entry (2.5.1): State in bits 0–2, FileOffsetMB in bits 20–63.
const BAT_STATE_MASK: u64 = 7;
const BAT_OFFSET_SHIFT: u32 = 20;
const PAYLOAD_BLOCK_NOT_PRESENT: u64 = 0;
const PAYLOAD_BLOCK_UNDEFINED: u64 = 1;
const PAYLOAD_BLOCK_ZERO: u64 = 2;
const PAYLOAD_BLOCK_UNMAPPED: u64 = 3;
/// Draft 0.95 of the format numbered "unmapped" 5; qemu reads it so.
const PAYLOAD_BLOCK_UNMAPPED_V095: u64 = 5;
const PAYLOAD_BLOCK_FULLY_PRESENT: u64 = 6;
const PAYLOAD_BLOCK_PARTIALLY_PRESENT: u64 = 7;
/// BAT entries read at a time.
const BAT_CHUNK_ENTRIES: u64 = 128 * KIB;

pub(crate) fn parse(files: &mut Files, id: FileId) -> Result<Layer> {
    let f = files.get(id);
    let name = f.display();
    let mut signature = [0u8; 8];
    f.read_into(0, &mut signature, "VHDX file type identifier")?;
    if signature != FILE_SIGNATURE {
        return Err(Error::corrupt(
            0,
            format!("{name}: no VHDX file type identifier"),
        ));
    }
    read_header(f, &name)?;
    let regions = read_region_table(f, &name)?;
    let meta = read_metadata(f, &regions.metadata, &name)?;
    let extents = read_bat(f, id, &regions, &meta, &name)?;
    Ok(Layer {
        format: Format::Vhdx,
        virtual_size: meta.virtual_disk_size,
        extents,
        backing: None,
        snapshots: Vec::new(),
    })
}

fn guid(b: &[u8], at: usize) -> Uuid {
    let raw: [u8; 16] = b
        .get(at..at + 16)
        .and_then(|s| s.try_into().ok())
        .unwrap_or_default();
    Uuid::from_bytes_le(raw)
}

/// A little-endian field of a fixed-size structure read whole: the offsets
/// are inside it, so the lookups cannot miss.
fn field32(b: &[u8], at: usize) -> u32 {
    le_u32(b, at).unwrap_or_default()
}

fn field64(b: &[u8], at: usize) -> u64 {
    le_u64(b, at).unwrap_or_default()
}

/// CRC-32C of `b` with its checksum field at `field` taken as zero
/// (MS-VHDX 2.2.2, 2.2.3).
fn crc(b: &[u8], field: usize) -> u32 {
    let mut copy = b.to_vec();
    if let Some(sum) = copy.get_mut(field..field + 4) {
        sum.fill(0);
    }
    crc32c::crc32c(&copy)
}

/// Choose the current header: the valid one (signature, CRC-32C) with the
/// higher sequence number. Refuses an image whose log must be replayed.
fn read_header(f: &HostFile, name: &str) -> Result<()> {
    let mut best: Option<(u64, u64, Vec<u8>)> = None;
    let mut why = Vec::new();
    for at in HEADER_OFFSETS {
        let h = f.read_vec(at, HEADER_BYTES as u64, "VHDX header")?;
        if !h.starts_with(H_SIGNATURE) {
            why.push(format!("at {at}: no \"head\" signature"));
            continue;
        }
        let stored = field32(&h, H_CHECKSUM);
        let computed = crc(&h, H_CHECKSUM);
        if stored != computed {
            why.push(format!(
                "at {at}: CRC-32C {stored:#010x}, its bytes give {computed:#010x}"
            ));
            continue;
        }
        let sequence = field64(&h, H_SEQUENCE_NUMBER);
        if best.as_ref().is_none_or(|(seq, _, _)| sequence > *seq) {
            best = Some((sequence, at, h));
        }
    }
    let Some((_, at, header)) = best else {
        return Err(Error::corrupt(
            HEADER_OFFSETS[0],
            format!("{name}: neither VHDX header is valid ({})", why.join("; ")),
        ));
    };
    let version = le_u16(&header, H_VERSION).unwrap_or_default();
    if version != 1 {
        return Err(Error::unsupported(format!(
            "{name}: VHDX header version {version} at {at} (snapaudit reads version 1)"
        )));
    }
    if !guid(&header, H_LOG_GUID).is_nil() {
        return Err(Error::unsupported(format!(
            "{name}: VHDX log is not empty: the image was not closed cleanly; open it once with qemu-img check -r all or Hyper-V"
        )));
    }
    Ok(())
}

/// A region of the file: `offset..offset + length`.
#[derive(Debug, Clone, Copy)]
struct Region {
    offset: u64,
    length: u64,
    /// Where the region table records it, for errors.
    entry_at: u64,
}

#[derive(Debug)]
struct Regions {
    bat: Region,
    metadata: Region,
}

fn read_region_table(f: &HostFile, name: &str) -> Result<Regions> {
    let mut why = Vec::new();
    let mut table = None;
    for at in REGION_TABLE_OFFSETS {
        let t = f.read_vec(at, REGION_TABLE_BYTES as u64, "VHDX region table")?;
        if !t.starts_with(R_SIGNATURE) {
            why.push(format!("at {at}: no \"regi\" signature"));
            continue;
        }
        let stored = field32(&t, R_CHECKSUM);
        let computed = crc(&t, R_CHECKSUM);
        if stored != computed {
            why.push(format!(
                "at {at}: CRC-32C {stored:#010x}, its bytes give {computed:#010x}"
            ));
            continue;
        }
        table = Some((at, t));
        break;
    }
    let Some((table_at, t)) = table else {
        return Err(Error::corrupt(
            REGION_TABLE_OFFSETS[0] + R_CHECKSUM as u64,
            format!(
                "{name}: neither VHDX region table is valid ({})",
                why.join("; ")
            ),
        ));
    };
    let count = field32(&t, R_ENTRY_COUNT) as usize;
    if count > MAX_TABLE_ENTRIES {
        return Err(Error::corrupt(
            table_at + R_ENTRY_COUNT as u64,
            format!(
                "{name}: VHDX region table claims {count} entries, at most {MAX_TABLE_ENTRIES}"
            ),
        ));
    }
    let (mut bat, mut metadata) = (None, None);
    // The headers' first megabyte, then every region: no two may overlap.
    let mut claims = vec![(0, MIB, 0)];
    for n in 0..count {
        let e = R_ENTRIES + n * REGION_ENTRY_BYTES;
        let entry_at = table_at + e as u64;
        let id = guid(&t, e);
        let region = Region {
            offset: field64(&t, e + 16),
            length: u64::from(field32(&t, e + 24)),
            entry_at,
        };
        let required = field32(&t, e + 28) & 1 != 0;
        let slot = if id == BAT_REGION {
            &mut bat
        } else if id == METADATA_REGION {
            &mut metadata
        } else if required {
            return Err(Error::unsupported(format!(
                "{name}: VHDX region {id} is marked required and snapaudit does not know it"
            )));
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(Error::corrupt(
                entry_at,
                format!("{name}: VHDX region table lists region {id} twice"),
            ));
        }
        if !region.offset.is_multiple_of(MIB)
            || !region.length.is_multiple_of(MIB)
            || region.length == 0
            || !f.contains(region.offset, region.length)
        {
            return Err(Error::corrupt(
                entry_at,
                format!(
                    "{name}: VHDX region {id} at {} of {} bytes is not whole megabytes inside the {}-byte file (truncated?)",
                    region.offset,
                    region.length,
                    f.size()
                ),
            ));
        }
        claims.push((region.offset, region.offset + region.length, entry_at));
        *slot = Some(region);
    }
    check_disjoint(&mut claims, name, "VHDX")?;
    match (bat, metadata) {
        (Some(bat), Some(metadata)) => Ok(Regions { bat, metadata }),
        _ => Err(Error::corrupt(
            table_at,
            format!("{name}: VHDX region table lacks the BAT or the metadata region"),
        )),
    }
}

/// What the metadata region says about the disk.
#[derive(Debug)]
struct Metadata {
    block_size: u64,
    logical_sector_size: u64,
    virtual_disk_size: u64,
}

fn read_metadata(f: &HostFile, region: &Region, name: &str) -> Result<Metadata> {
    let t = f.read_vec(
        region.offset,
        METADATA_TABLE_BYTES as u64,
        "VHDX metadata table",
    )?;
    if !t.starts_with(M_SIGNATURE) {
        return Err(Error::corrupt(
            region.offset,
            format!(
                "{name}: no VHDX metadata table (signature \"metadata\") at {}",
                region.offset
            ),
        ));
    }
    let count = usize::from(le_u16(&t, M_ENTRY_COUNT).unwrap_or_default());
    if count > MAX_TABLE_ENTRIES {
        return Err(Error::corrupt(
            region.offset + M_ENTRY_COUNT as u64,
            format!(
                "{name}: VHDX metadata table claims {count} entries, at most {MAX_TABLE_ENTRIES}"
            ),
        ));
    }
    let (mut file_parameters, mut disk_size, mut sector_size) = (None, None, None);
    for n in 0..count {
        let e = M_ENTRIES + n * METADATA_ENTRY_BYTES;
        let entry_at = region.offset + e as u64;
        let id = guid(&t, e);
        let offset = u64::from(field32(&t, e + 16));
        let length = u64::from(field32(&t, e + 20));
        let flags = field32(&t, e + 24);
        let (slot, want) = if id == FILE_PARAMETERS {
            (&mut file_parameters, 8)
        } else if id == VIRTUAL_DISK_SIZE {
            (&mut disk_size, 8)
        } else if id == LOGICAL_SECTOR_SIZE {
            (&mut sector_size, 4)
        } else if id == PAGE_83_DATA || id == PHYSICAL_SECTOR_SIZE || id == PARENT_LOCATOR {
            continue; // Known, and not needed to read the disk.
        } else if flags & M_IS_REQUIRED != 0 {
            return Err(Error::unsupported(format!(
                "{name}: VHDX metadata item {id} is marked required and snapaudit does not know it"
            )));
        } else {
            continue;
        };
        // Items live after the table, inside the region.
        if length < want
            || offset < METADATA_TABLE_BYTES as u64
            || offset
                .checked_add(length)
                .is_none_or(|end| end > region.length)
        {
            return Err(Error::corrupt(
                entry_at,
                format!(
                    "{name}: VHDX metadata item {id} of {length} bytes at {offset} does not fit the {}-byte metadata region",
                    region.length
                ),
            ));
        }
        let value = f.read_vec(region.offset + offset, want, "VHDX metadata item")?;
        *slot = Some((value, region.offset + offset));
    }
    let missing = |what: &str| {
        Error::corrupt(
            region.offset,
            format!("{name}: VHDX metadata has no {what} item"),
        )
    };
    let (fp, fp_at) = file_parameters.ok_or_else(|| missing("file parameters"))?;
    let (ds, ds_at) = disk_size.ok_or_else(|| missing("virtual disk size"))?;
    let (ss, ss_at) = sector_size.ok_or_else(|| missing("logical sector size"))?;
    let block_size = u64::from(field32(&fp, 0));
    if field32(&fp, 4) & FP_HAS_PARENT != 0 {
        return Err(Error::unsupported(format!(
            "{name}: a differencing VHDX (HasParent); snapaudit does not read VHDX parents yet (merge it with `qemu-img convert -O vhdx` or Hyper-V's Merge-VHD)"
        )));
    }
    if !block_size.is_power_of_two() || !(MIN_BLOCK_BYTES..=MAX_BLOCK_BYTES).contains(&block_size) {
        return Err(Error::corrupt(
            fp_at,
            format!(
                "{name}: VHDX block size {block_size} is not a power of two from 1 MiB to 256 MiB"
            ),
        ));
    }
    let logical_sector_size = u64::from(field32(&ss, 0));
    if logical_sector_size != 512 && logical_sector_size != 4096 {
        return Err(Error::corrupt(
            ss_at,
            format!("{name}: VHDX logical sector size {logical_sector_size} is not 512 or 4096"),
        ));
    }
    let virtual_disk_size = field64(&ds, 0);
    if virtual_disk_size > MAX_DISK_BYTES || !virtual_disk_size.is_multiple_of(logical_sector_size)
    {
        return Err(Error::corrupt(
            ds_at,
            format!(
                "{name}: VHDX virtual disk size {virtual_disk_size} is not a multiple of the {logical_sector_size}-byte sector up to the format's 64 TiB"
            ),
        ));
    }
    Ok(Metadata {
        block_size,
        logical_sector_size,
        virtual_disk_size,
    })
}

/// The payload blocks of the BAT (MS-VHDX 2.5): after every `chunk_ratio`
/// payload entries comes one sector bitmap entry, which only differencing
/// disks use.
fn read_bat(
    f: &HostFile,
    id: FileId,
    regions: &Regions,
    meta: &Metadata,
    name: &str,
) -> Result<Vec<Extent>> {
    let block_size = meta.block_size;
    let chunk_ratio = (1u64 << 23) * meta.logical_sector_size / block_size;
    let data_blocks = meta.virtual_disk_size.div_ceil(block_size);
    let total_entries = match data_blocks {
        0 => 0,
        n => n + (n - 1) / chunk_ratio,
    };
    let bat = regions.bat;
    if total_entries * 8 > bat.length {
        return Err(Error::corrupt(
            bat.entry_at,
            format!(
                "{name}: VHDX BAT region of {} bytes cannot hold the {total_entries} entries of the {}-byte disk",
                bat.length, meta.virtual_disk_size
            ),
        ));
    }
    let mut extents = Vec::new();
    let mut claims = vec![
        (0, MIB, 0),
        (bat.offset, bat.offset + bat.length, bat.entry_at),
        (
            regions.metadata.offset,
            regions.metadata.offset + regions.metadata.length,
            regions.metadata.entry_at,
        ),
    ];
    let mut j = 0u64;
    while j < total_entries {
        let n = BAT_CHUNK_ENTRIES.min(total_entries - j);
        let chunk = f.read_vec(bat.offset + j * 8, n * 8, "VHDX BAT")?;
        for (k, raw) in chunk.chunks_exact(8).enumerate() {
            let index = j + k as u64;
            if (index + 1).is_multiple_of(chunk_ratio + 1) {
                continue; // A sector bitmap entry.
            }
            let block = index - index / (chunk_ratio + 1);
            let entry = field64(raw, 0);
            let entry_at = bat.offset + index * 8;
            let virt = block * block_size;
            let len = block_size.min(meta.virtual_disk_size - virt);
            match entry & BAT_STATE_MASK {
                PAYLOAD_BLOCK_NOT_PRESENT
                | PAYLOAD_BLOCK_UNDEFINED
                | PAYLOAD_BLOCK_UNMAPPED
                | PAYLOAD_BLOCK_UNMAPPED_V095 => {}
                PAYLOAD_BLOCK_ZERO => push_merged(
                    &mut extents,
                    Extent {
                        virt,
                        len,
                        data: Data::Zero,
                    },
                ),
                PAYLOAD_BLOCK_FULLY_PRESENT => {
                    // FileOffsetMB in place: the entry with its low 20 bits clear.
                    let offset = entry & !((1u64 << BAT_OFFSET_SHIFT) - 1);
                    if !f.contains(offset, len) {
                        return Err(Error::corrupt(
                            entry_at,
                            format!(
                                "{name}: VHDX BAT entry of block {block} points at {offset}, past the end of the {}-byte file (truncated?)",
                                f.size()
                            ),
                        ));
                    }
                    claims.push((offset, offset + len, entry_at));
                    push_merged(
                        &mut extents,
                        Extent {
                            virt,
                            len,
                            data: Data::Host { file: id, offset },
                        },
                    );
                }
                PAYLOAD_BLOCK_PARTIALLY_PRESENT => {
                    return Err(Error::corrupt(
                        entry_at,
                        format!(
                            "{name}: VHDX block {block} is partially present, which only a differencing disk may be"
                        ),
                    ));
                }
                state => {
                    return Err(Error::corrupt(
                        entry_at,
                        format!(
                            "{name}: VHDX BAT entry of block {block} has unknown state {state}"
                        ),
                    ));
                }
            }
        }
        j += n;
    }
    check_disjoint(&mut claims, name, "VHDX")?;
    Ok(extents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_read_with_their_first_three_fields_little_endian() {
        // The BAT region GUID as it stands on disk (MS-VHDX 2.2.3.1).
        let raw = [
            0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD,
            0x4A, 0x08,
        ];
        assert_eq!(guid(&raw, 0), BAT_REGION);
    }

    #[test]
    fn crc_ignores_the_stored_checksum() {
        let mut b = vec![7u8; 64];
        let before = crc(&b, 4);
        b[4..8].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(crc(&b, 4), before);
        b[4..8].fill(0);
        assert_eq!(crc32c::crc32c(&b), before);
    }
}
