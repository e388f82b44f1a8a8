//! GUID Partition Table (UEFI 2.10, section 5.3).
//!
//! We validate both headers ourselves — signature, header CRC, entry size,
//! entry count against the image size, entry-array CRC, where the backup
//! sits — and only then let the `gpt` crate parse the entries: that crate
//! asserts on the entry size and does not check the entry array's CRC or the
//! backup header's position, which are exactly the things a truncated or
//! grown snapshot gets wrong.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use super::{Partition, PartitionTable, PartitionType, TableKind, TableProblem};
use crate::Result;
use crate::util::{le_u32, le_u64, slice};

const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The only entry size the `gpt` crate (and every real tool) writes.
const ENTRY_BYTES: u32 = 128;
/// Far above any real table (the default is 128 entries) yet small enough
/// that validating the array costs nothing.
const MAX_ENTRIES: u32 = 1 << 16;
/// GPT attribute bit 2: legacy BIOS bootable.
const ATTR_LEGACY_BIOS_BOOTABLE: u64 = 1 << 2;

/// A GPT header (UEFI 2.10 table 5-5), the fields we check.
#[derive(Debug, Clone)]
struct Header {
    offset_bytes: u64,
    my_lba: u64,
    alternate_lba: u64,
    partition_entry_lba: u64,
    number_of_partition_entries: u32,
    size_of_partition_entry: u32,
    partition_entry_array_crc32: u32,
    disk_guid: uuid::Uuid,
}

/// Why a header could not be used.
type HeaderFault = String;

fn parse_header(disk: &[u8], lba: u64, sector: u64) -> Result<Header, HeaderFault> {
    let offset_bytes = lba
        .checked_mul(sector)
        .ok_or_else(|| format!("header LBA {lba} overflows"))?;
    let off =
        usize::try_from(offset_bytes).map_err(|_| format!("header LBA {lba} is out of range"))?;
    let Some(raw) = slice(disk, off, sector as usize) else {
        return Err(format!(
            "no header at LBA {lba} (byte {offset_bytes}): the image ends at byte {}",
            disk.len()
        ));
    };
    if &raw[..8] != SIGNATURE {
        return Err(format!(
            "no \"EFI PART\" signature at LBA {lba} (byte {offset_bytes})"
        ));
    }
    let field = |o: usize| le_u32(raw, o).unwrap_or(0);
    let header_size = field(12);
    if !(92..=sector as u32).contains(&header_size) {
        return Err(format!(
            "header at LBA {lba} claims a size of {header_size} bytes (expected 92..={sector})"
        ));
    }
    let mut bytes = raw[..header_size as usize].to_vec();
    let stored_crc = field(16);
    bytes[16..20].fill(0);
    let computed_crc = crc32fast::hash(&bytes);
    if stored_crc != computed_crc {
        return Err(format!(
            "header at LBA {lba} has CRC32 {stored_crc:#010x}, but its bytes give {computed_crc:#010x}"
        ));
    }
    let guid_bytes: [u8; 16] = raw[56..72]
        .try_into()
        .map_err(|_| "short header".to_string())?;
    Ok(Header {
        offset_bytes,
        my_lba: le_u64(raw, 24).unwrap_or(0),
        alternate_lba: le_u64(raw, 32).unwrap_or(0),
        partition_entry_lba: le_u64(raw, 72).unwrap_or(0),
        number_of_partition_entries: field(80),
        size_of_partition_entry: field(84),
        partition_entry_array_crc32: field(88),
        // GPT GUIDs are stored mixed-endian.
        disk_guid: uuid::Uuid::from_bytes_le(guid_bytes),
    })
}

/// Where the entry array of `h` lies, if it is sane and inside the image.
fn entry_array<'d>(disk: &'d [u8], h: &Header, sector: u64) -> Result<&'d [u8], HeaderFault> {
    if h.size_of_partition_entry != ENTRY_BYTES {
        return Err(format!(
            "partition entries are {} bytes each; only {ENTRY_BYTES} is supported",
            h.size_of_partition_entry
        ));
    }
    if h.number_of_partition_entries > MAX_ENTRIES {
        return Err(format!(
            "the header claims {} partition entries (at most {MAX_ENTRIES} are plausible)",
            h.number_of_partition_entries
        ));
    }
    let len = u64::from(h.number_of_partition_entries) * u64::from(ENTRY_BYTES);
    let start = h
        .partition_entry_lba
        .checked_mul(sector)
        .ok_or_else(|| "partition entry LBA overflows".to_string())?;
    let end = start
        .checked_add(len)
        .ok_or_else(|| "partition entry array overflows".to_string())?;
    if end > disk.len() as u64 {
        return Err(format!(
            "the partition entry array (LBA {}, {len} bytes) runs past the end of the image at byte {}",
            h.partition_entry_lba,
            disk.len()
        ));
    }
    Ok(&disk[start as usize..end as usize])
}

/// Read a GPT if the disk has one (`Ok(None)` otherwise).
pub(super) fn read(disk: &[u8]) -> Result<Option<PartitionTable>> {
    let len = disk.len() as u64;
    // The logical sector size is where the primary header is; a disk whose
    // primary is destroyed is recognised by a backup in its last sector.
    let sector = [512u64, 4096].into_iter().find(|&s| {
        let primary = disk.get(s as usize..s as usize + 8) == Some(&SIGNATURE[..]);
        let last = (len / s).checked_sub(1).map(|l| l * s);
        let backup =
            last.is_some_and(|o| disk.get(o as usize..o as usize + 8) == Some(&SIGNATURE[..]));
        primary || backup
    });
    let Some(sector) = sector else {
        return Ok(None);
    };
    let last_lba = (len / sector).saturating_sub(1);
    let mut problems = Vec::new();

    let primary = parse_header(disk, 1, sector);
    let backup_lba = primary.as_ref().map_or(last_lba, |h| h.alternate_lba);
    let backup = parse_header(disk, backup_lba, sector);

    let chosen = match (&primary, &backup) {
        (Ok(p), Ok(_)) => {
            if p.alternate_lba != last_lba {
                problems.push(TableProblem::warning(
                    format!(
                        "the backup GPT header is at LBA {} but the disk's last LBA is {last_lba}: the image was grown or shrunk after partitioning (sgdisk -e relocates the backup)",
                        p.alternate_lba
                    ),
                    None,
                ));
            }
            p
        }
        (Ok(p), Err(fault)) => {
            problems.push(TableProblem::warning(
                format!("the backup GPT header is missing or invalid ({fault}); the image may be truncated"),
                Some(p.alternate_lba.saturating_mul(sector)),
            ));
            p
        }
        (Err(fault), Ok(b)) => {
            problems.push(TableProblem::warning(
                format!("the primary GPT header is invalid ({fault}); the backup header was used"),
                Some(sector),
            ));
            b
        }
        (Err(pf), Err(bf)) => {
            problems.push(TableProblem::error(
                format!("the GPT cannot be read: primary header: {pf}; backup header: {bf}"),
                Some(sector),
            ));
            return Ok(Some(empty_gpt(sector, problems)));
        }
    };

    let array = match entry_array(disk, chosen, sector) {
        Ok(a) => a,
        Err(fault) => {
            problems.push(TableProblem::error(
                format!("the GPT partition entry array cannot be read: {fault}"),
                Some(chosen.offset_bytes),
            ));
            return Ok(Some(empty_gpt(sector, problems)));
        }
    };
    let array_crc = crc32fast::hash(array);
    if array_crc != chosen.partition_entry_array_crc32 {
        problems.push(TableProblem::error(
            format!(
                "the GPT partition entry array has CRC32 {array_crc:#010x}, but the header records {:#010x}: the entries were modified or corrupted",
                chosen.partition_entry_array_crc32
            ),
            Some(chosen.partition_entry_lba.saturating_mul(sector)),
        ));
    }
    if chosen.my_lba == 0 {
        problems.push(TableProblem::warning(
            "the GPT header's own LBA is 0",
            Some(chosen.offset_bytes),
        ));
    }
    check_protective_mbr(disk, &mut problems);

    let partitions = match parse_entries_with_crate(disk, sector) {
        Ok(p) => p,
        Err(fault) => {
            problems.push(TableProblem::error(
                format!("the GPT partition entries cannot be parsed: {fault}"),
                Some(chosen.offset_bytes),
            ));
            Vec::new()
        }
    };
    let mut table = PartitionTable {
        kind: TableKind::Gpt,
        sector_bytes: sector,
        disk_id: Some(chosen.disk_guid.hyphenated().to_string()),
        partitions: Vec::new(),
        problems,
    };
    for (index, p) in partitions {
        match convert(index, &p, sector) {
            Ok(part) => table.partitions.push(part),
            Err(fault) => table.problems.push(TableProblem::error(fault, None)),
        }
    }
    Ok(Some(table))
}

fn empty_gpt(sector: u64, problems: Vec<TableProblem>) -> PartitionTable {
    PartitionTable {
        kind: TableKind::Gpt,
        sector_bytes: sector,
        disk_id: None,
        partitions: Vec::new(),
        problems,
    }
}

/// A protective MBR holds one 0xEE entry; anything else beside it makes a
/// hybrid MBR, which BIOS-booting firmware may read instead of the GPT.
fn check_protective_mbr(disk: &[u8], problems: &mut Vec<TableProblem>) {
    if disk.get(510..512) != Some(&[0x55, 0xAA][..]) {
        problems.push(TableProblem::warning(
            "the disk has a GPT but no protective MBR (no 0x55AA signature at byte 510)",
            Some(510),
        ));
        return;
    }
    let types: Vec<u8> = (0..4)
        .filter_map(|i| disk.get(446 + 16 * i + 4).copied())
        .collect();
    let protective = types.contains(&0xEE);
    let others = types.iter().filter(|&&t| t != 0 && t != 0xEE).count();
    if !protective {
        problems.push(TableProblem::warning(
            "the MBR of this GPT disk has no protective 0xEE entry",
            Some(446),
        ));
    } else if others > 0 {
        problems.push(TableProblem::warning(
            format!("hybrid MBR: besides the protective entry, the MBR lists {others} partition(s) that BIOS boot code may use instead of the GPT"),
            Some(446),
        ));
    }
}

/// Read-only view of the image for the `gpt` crate, which wants `Write`
/// even when it only reads; every write fails.
#[derive(Debug)]
struct ReadOnlyDisk<'d>(Cursor<&'d [u8]>);

impl Read for ReadOnlyDisk<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for ReadOnlyDisk<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

impl Write for ReadOnlyDisk<'_> {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "snapaudit never writes the input image",
        ))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn parse_entries_with_crate(
    disk: &[u8],
    sector: u64,
) -> Result<Vec<(u32, gpt::partition::Partition)>, String> {
    let lb = if sector == 4096 {
        gpt::disk::LogicalBlockSize::Lb4096
    } else {
        gpt::disk::LogicalBlockSize::Lb512
    };
    // The headers were validated above; the unwind guard is defence in depth
    // against a panic inside the third-party parser on input we did not
    // anticipate, which must become an error and not abort an audit.
    let parsed = std::panic::catch_unwind(|| {
        gpt::GptConfig::new()
            .writable(false)
            .only_valid_headers(false)
            .logical_block_size(lb)
            .open_from_device(ReadOnlyDisk(Cursor::new(disk)))
            .map(|d| {
                d.partitions()
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect::<Vec<_>>()
            })
    });
    match parsed {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the gpt parser failed on this table".to_string()),
    }
}

fn convert(index: u32, p: &gpt::partition::Partition, sector: u64) -> Result<Partition, String> {
    if p.last_lba < p.first_lba {
        return Err(format!(
            "GPT partition {index} ends (LBA {}) before it starts (LBA {})",
            p.last_lba, p.first_lba
        ));
    }
    let start_bytes = p
        .first_lba
        .checked_mul(sector)
        .ok_or_else(|| format!("GPT partition {index}: start LBA {} overflows", p.first_lba))?;
    let size_bytes = (p.last_lba - p.first_lba)
        .checked_add(1)
        .and_then(|n| n.checked_mul(sector))
        .filter(|s| start_bytes.checked_add(*s).is_some())
        .ok_or_else(|| format!("GPT partition {index}: size overflows"))?;
    Ok(Partition {
        index,
        start_bytes,
        size_bytes,
        partition_type: PartitionType::Gpt(
            p.part_type_guid
                .guid
                .hyphenated()
                .to_string()
                .to_uppercase(),
        ),
        name: Some(p.name.clone()).filter(|n| !n.is_empty()),
        partuuid: Some(p.part_guid.hyphenated().to_string()),
        bootable: p.flags & ATTR_LEGACY_BIOS_BOOTABLE != 0,
        fs: None,
    })
}
