//! VMDK hosted sparse extents: the "KDMV" header, the grain directory and
//! grain tables, and streamOptimized's compressed grains with markers.
//!
//! Layout: VMware Virtual Disk Format 1.1, "Hosted Sparse Extents" and
//! "Stream-Optimized Compressed Sparse Extents"; behaviour as qemu's
//! `block/vmdk.c` (`vmdk_open_vmdk4`, `get_cluster_offset`,
//! `vmdk_read_extent`). All fields are little-endian; offsets and sizes
//! named `*_sectors` count 512-byte sectors.

use super::super::{Codec, Data, Extent, FileId, HostFile, push_merged};
use crate::util::{le_u16, le_u32, le_u64};
use crate::{Error, Result};

pub(super) const SECTOR_BYTES: u64 = 512;
pub(super) const MAGIC: &[u8] = b"KDMV";

/// SparseExtentHeader (spec "Hosted Sparse Extent Header"), packed:
/// magicNumber u32 @0, version u32 @4, flags u32 @8, capacity @12,
/// grainSize @20, descriptorOffset @28, descriptorSize @36 (SectorType =
/// u64), numGTEsPerGT u32 @44, rgdOffset @48, gdOffset @56, overHead @64,
/// uncleanShutdown u8 @72, four newline-detection chars @73..77,
/// compressAlgorithm u16 @77, padding to 512.
const H_VERSION: usize = 4;
const H_FLAGS: usize = 8;
const H_CAPACITY: usize = 12;
const H_GRAIN_SIZE: usize = 20;
const H_DESCRIPTOR_OFFSET: usize = 28;
const H_DESCRIPTOR_SIZE: usize = 36;
const H_NUM_GTES_PER_GT: usize = 44;
const H_GD_OFFSET: usize = 56;
const H_COMPRESS_ALGORITHM: usize = 77;

/// flags bit 2: a grain table entry of 1 is a zeroed grain (qemu
/// `VMDK4_FLAG_ZERO_GRAIN`).
const FLAG_ZERO_GRAIN: u32 = 1 << 2;
/// flags bit 17: every grain starts with a marker (streamOptimized).
const FLAG_MARKERS: u32 = 1 << 17;
const COMPRESSION_NONE: u16 = 0;
const COMPRESSION_DEFLATE: u16 = 1;
/// gdOffset of a streamOptimized header: the grain directory is found from
/// the footer, a copy of the header near the end of the file.
const GD_AT_END: u64 = u64::MAX;
/// A grain table entry of 1 with [`FLAG_ZERO_GRAIN`].
const GTE_ZEROED: u32 = 1;

/// qemu reads versions 1 to 3 (3 only read-only, which is all we do).
const MAX_VERSION: u32 = 3;
/// Grains of more than 2 MiB are not written by any tool, and a larger
/// compressed grain could not be unpacked in one piece.
const MAX_GRAIN_SECTORS: u64 = 4096;
/// qemu's limit on a grain table ("L2 table size too big"); the spec fixes
/// it at 512.
const MAX_GTES_PER_GT: u32 = 512;
/// An embedded descriptor is a few hundred bytes; qemu reads at most 1 MiB.
pub(super) const MAX_DESCRIPTOR_BYTES: u64 = 1 << 20;
/// Marker of a compressed grain (spec "Grain Marker"): lba u64, size u32,
/// then `size` bytes of zlib data.
const GRAIN_MARKER_BYTES: u64 = 12;
/// Footer layout (qemu `vmdk_open_vmdk4`): the footer marker, the footer
/// (a header), the end-of-stream marker, one sector each, at the end.
const FOOTER_TAIL_BYTES: u64 = 3 * SECTOR_BYTES;
/// Metadata marker types (spec "Metadata Marker"): numSectors u64 @0,
/// size u32 @8 (0 for metadata), type u32 @12.
const MARKER_EOS: u32 = 0;
const MARKER_FOOTER: u32 = 3;

/// The header fields reading needs.
#[derive(Debug, Clone)]
pub(super) struct SparseHeader {
    pub flags: u32,
    pub capacity_sectors: u64,
    pub grain_size_sectors: u64,
    pub descriptor_offset_sectors: u64,
    pub descriptor_size_sectors: u64,
    pub num_gtes_per_gt: u32,
    pub gd_offset_sectors: u64,
    pub compress_algorithm: u16,
    /// Where this header was read (0, or the footer's place).
    pub at: u64,
}

impl SparseHeader {
    pub fn capacity_bytes(&self) -> u64 {
        // Checked in `read_header`.
        self.capacity_sectors * SECTOR_BYTES
    }

    pub fn compressed(&self) -> bool {
        self.compress_algorithm == COMPRESSION_DEFLATE
    }
}

fn field<T>(v: Option<T>, at: u64, name: &str) -> Result<T> {
    v.ok_or_else(|| Error::corrupt(at, format!("{name}: VMDK header is truncated")))
}

/// The header at `at` in `f`, checked.
fn read_header(f: &HostFile, at: u64) -> Result<SparseHeader> {
    let name = f.display();
    let h = f.read_vec(at, SECTOR_BYTES, "VMDK sparse extent header")?;
    if !h.starts_with(MAGIC) {
        return Err(Error::corrupt(
            at,
            format!("{name}: no VMDK sparse extent header (KDMV) at file offset {at}"),
        ));
    }
    let u32_at = |off: usize| field(le_u32(&h, off), at, &name);
    let u64_at = |off: usize| field(le_u64(&h, off), at, &name);
    let version = u32_at(H_VERSION)?;
    if version == 0 || version > MAX_VERSION {
        return Err(Error::unsupported(format!(
            "{name}: VMDK sparse extent version {version} (snapaudit reads versions 1 to {MAX_VERSION})"
        )));
    }
    let header = SparseHeader {
        flags: u32_at(H_FLAGS)?,
        capacity_sectors: u64_at(H_CAPACITY)?,
        grain_size_sectors: u64_at(H_GRAIN_SIZE)?,
        descriptor_offset_sectors: u64_at(H_DESCRIPTOR_OFFSET)?,
        descriptor_size_sectors: u64_at(H_DESCRIPTOR_SIZE)?,
        num_gtes_per_gt: u32_at(H_NUM_GTES_PER_GT)?,
        gd_offset_sectors: u64_at(H_GD_OFFSET)?,
        compress_algorithm: field(le_u16(&h, H_COMPRESS_ALGORITHM), at, &name)?,
        at,
    };
    if header.grain_size_sectors == 0 || header.grain_size_sectors > MAX_GRAIN_SECTORS {
        return Err(Error::corrupt(
            at + H_GRAIN_SIZE as u64,
            format!(
                "{name}: VMDK grain size of {} sectors is outside 1..={MAX_GRAIN_SECTORS} (2 MiB)",
                header.grain_size_sectors
            ),
        ));
    }
    if header.num_gtes_per_gt == 0 || header.num_gtes_per_gt > MAX_GTES_PER_GT {
        return Err(Error::corrupt(
            at + H_NUM_GTES_PER_GT as u64,
            format!(
                "{name}: VMDK grain tables of {} entries (1..={MAX_GTES_PER_GT} expected)",
                header.num_gtes_per_gt
            ),
        ));
    }
    if header.capacity_sectors.checked_mul(SECTOR_BYTES).is_none() {
        return Err(Error::corrupt(
            at + H_CAPACITY as u64,
            format!(
                "{name}: VMDK capacity of {} sectors does not fit in 64 bits of bytes",
                header.capacity_sectors
            ),
        ));
    }
    match header.compress_algorithm {
        COMPRESSION_NONE | COMPRESSION_DEFLATE => {}
        other => {
            return Err(Error::unsupported(format!(
                "{name}: VMDK compression algorithm {other} (snapaudit reads none and deflate)"
            )));
        }
    }
    Ok(header)
}

/// The header that describes the extent in `f`: the one at byte 0, or,
/// when its gdOffset says the grain directory was written last (a
/// streamOptimized stream), the footer's copy, which takes precedence.
pub(super) fn open(f: &HostFile) -> Result<SparseHeader> {
    let header = read_header(f, 0)?;
    if header.gd_offset_sectors != GD_AT_END {
        return Ok(header);
    }
    let name = f.display();
    let end = f.size() / SECTOR_BYTES * SECTOR_BYTES;
    let Some(tail_at) = end.checked_sub(FOOTER_TAIL_BYTES).filter(|&t| t > 0) else {
        return Err(Error::corrupt(
            end,
            format!(
                "{name}: VMDK grain directory is at the end, but the {}-byte file is too short to hold a footer",
                f.size()
            ),
        ));
    };
    let tail = f.read_vec(tail_at, FOOTER_TAIL_BYTES, "VMDK footer")?;
    let marker = |off: usize| -> Option<(u64, u32, u32)> {
        Some((
            le_u64(&tail, off)?,
            le_u32(&tail, off + 8)?,
            le_u32(&tail, off + 12)?,
        ))
    };
    let eos_at = 2 * SECTOR_BYTES as usize;
    let footer_ok = matches!(marker(0), Some((_, 0, MARKER_FOOTER)))
        && matches!(marker(eos_at), Some((0, 0, MARKER_EOS)));
    if !footer_ok {
        return Err(Error::corrupt(
            tail_at,
            format!(
                "{name}: VMDK footer: no footer marker at file offset {tail_at} followed by the footer and an end-of-stream marker (truncated stream?)"
            ),
        ));
    }
    let footer = read_header(f, tail_at + SECTOR_BYTES)?;
    if footer.gd_offset_sectors == GD_AT_END {
        return Err(Error::corrupt(
            footer.at + H_GD_OFFSET as u64,
            format!("{name}: VMDK footer does not say where the grain directory is"),
        ));
    }
    Ok(footer)
}

/// The descriptor embedded in a monolithicSparse or streamOptimized file,
/// up to its first NUL; `None` when the header records none.
pub(super) fn embedded_descriptor(f: &HostFile, header: &SparseHeader) -> Result<Option<String>> {
    if header.descriptor_offset_sectors == 0 || header.descriptor_size_sectors == 0 {
        return Ok(None);
    }
    let name = f.display();
    let bad = || {
        Error::corrupt(
            header.at + H_DESCRIPTOR_OFFSET as u64,
            format!(
                "{name}: VMDK embedded descriptor of {} sectors at sector {} is too large or lies outside the file",
                header.descriptor_size_sectors, header.descriptor_offset_sectors
            ),
        )
    };
    let at = header
        .descriptor_offset_sectors
        .checked_mul(SECTOR_BYTES)
        .ok_or_else(bad)?;
    let len = header
        .descriptor_size_sectors
        .checked_mul(SECTOR_BYTES)
        .filter(|&l| l <= MAX_DESCRIPTOR_BYTES)
        .ok_or_else(bad)?;
    if !f.contains(at, len) {
        return Err(bad());
    }
    let raw = f.read_vec(at, len, "VMDK embedded descriptor")?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    Ok(Some(String::from_utf8_lossy(&raw[..end]).into_owned()))
}

/// Append to `out` the allocated grains of the sparse extent in `f` (file
/// `id`), whose first byte is at `virt_base` of the virtual disk.
///
/// Work and memory are bounded by the file: the grain directory and every
/// grain table must lie inside it and no two tables may overlap, so the
/// entries read (and the extents produced) are at most a quarter of its
/// size.
pub(super) fn map_grains(
    f: &HostFile,
    id: FileId,
    header: &SparseHeader,
    virt_base: u64,
    out: &mut Vec<Extent>,
) -> Result<()> {
    let name = f.display();
    let grain_bytes = header.grain_size_sectors * SECTOR_BYTES;
    let gtes = u64::from(header.num_gtes_per_gt);
    // At most 2 MiB × 512: no overflow.
    let gt_coverage_bytes = grain_bytes * gtes;
    let capacity_bytes = header.capacity_bytes();
    let gd_entries = capacity_bytes.div_ceil(gt_coverage_bytes);
    let gd_at = header.gd_offset_sectors.checked_mul(SECTOR_BYTES);
    let gd_bytes = gd_entries * 4;
    let gd_field_at = header.at + H_GD_OFFSET as u64;
    let gd_at = match gd_at {
        Some(at) if f.contains(at, gd_bytes) => at,
        _ => {
            return Err(Error::corrupt(
                gd_field_at,
                format!(
                    "{name}: VMDK grain directory of {gd_entries} entries (for a {capacity_bytes}-byte extent) at sector {} runs past the end of the {}-byte file",
                    header.gd_offset_sectors,
                    f.size()
                ),
            ));
        }
    };
    let gd = f.read_vec(gd_at, gd_bytes, "VMDK grain directory")?;
    let gt_bytes = gtes * 4;
    let tables = grain_tables(f, &gd, gd_at, gt_bytes)?;
    let ctx = GrainCtx {
        f,
        id,
        header,
        grain_bytes,
        capacity_bytes,
        virt_base,
    };
    let mut gt = vec![0u8; gt_bytes as usize];
    for (gd_index, gt_at) in tables {
        f.read_into(gt_at, &mut gt, "VMDK grain table")?;
        for (j, raw) in gt.chunks_exact(4).enumerate() {
            let grain_index = gd_index * gtes + j as u64;
            // Below the capacity, so no overflow.
            let virt = grain_index.saturating_mul(grain_bytes);
            if virt >= capacity_bytes {
                break;
            }
            let gte = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            ctx.entry(gte, virt, gt_at + j as u64 * 4, out)?;
        }
    }
    Ok(())
}

/// The allocated grain tables as (grain directory index, file offset), in
/// directory order; each inside the file and overlapping no other.
fn grain_tables(f: &HostFile, gd: &[u8], gd_at: u64, gt_bytes: u64) -> Result<Vec<(u64, u64)>> {
    let name = f.display();
    let mut tables = Vec::new();
    for (i, raw) in gd.chunks_exact(4).enumerate() {
        let gt_sector = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if gt_sector == 0 {
            continue; // No table: the whole range is unallocated.
        }
        let gt_at = u64::from(gt_sector) * SECTOR_BYTES;
        if !f.contains(gt_at, gt_bytes) {
            return Err(Error::corrupt(
                gd_at + i as u64 * 4,
                format!(
                    "{name}: VMDK grain directory entry {i} points at a grain table at file offset {gt_at}, past the end of the {}-byte file",
                    f.size()
                ),
            ));
        }
        tables.push((i as u64, gt_at));
    }
    let mut sorted: Vec<u64> = tables.iter().map(|&(_, at)| at).collect();
    sorted.sort_unstable();
    for w in sorted.windows(2) {
        if let [a, b] = w
            && b - a < gt_bytes
        {
            return Err(Error::corrupt(
                *b,
                format!(
                    "{name}: VMDK grain tables at file offsets {a} and {b} overlap (two directory entries share a table)"
                ),
            ));
        }
    }
    Ok(tables)
}

struct GrainCtx<'a> {
    f: &'a HostFile,
    id: FileId,
    header: &'a SparseHeader,
    grain_bytes: u64,
    capacity_bytes: u64,
    virt_base: u64,
}

impl GrainCtx<'_> {
    /// One grain table entry `gte` (read at `gte_at`) for the grain at
    /// `virt` of the extent.
    fn entry(&self, gte: u32, virt: u64, gte_at: u64, out: &mut Vec<Extent>) -> Result<()> {
        if gte == 0 {
            return Ok(()); // Unallocated: the parent disk, or zeros.
        }
        let len = self.grain_bytes.min(self.capacity_bytes - virt);
        let virt = self.virt_base + virt;
        if gte == GTE_ZEROED && self.header.flags & FLAG_ZERO_GRAIN != 0 {
            push_merged(
                out,
                Extent {
                    virt,
                    len,
                    data: Data::Zero,
                },
            );
            return Ok(());
        }
        let offset = u64::from(gte) * SECTOR_BYTES;
        let data = if self.header.compressed() {
            self.compressed(offset, gte_at)?
        } else {
            if !self.f.contains(offset, len) {
                return Err(self.past_end(offset, len, gte_at));
            }
            Data::Host {
                file: self.id,
                offset,
            }
        };
        push_merged(out, Extent { virt, len, data });
        Ok(())
    }

    /// A compressed grain at `offset`: behind a marker that gives its
    /// stored size, or, without markers, a zlib stream of unknown length
    /// that qemu reads from at most two grains' worth of bytes.
    fn compressed(&self, offset: u64, gte_at: u64) -> Result<Data> {
        let name = self.f.display();
        let max_stored = 2 * self.grain_bytes;
        let (data_at, stored_len) = if self.header.flags & FLAG_MARKERS != 0 {
            let mut marker = [0u8; GRAIN_MARKER_BYTES as usize];
            if !self.f.contains(offset, GRAIN_MARKER_BYTES) {
                return Err(self.past_end(offset, GRAIN_MARKER_BYTES, gte_at));
            }
            self.f.read_into(offset, &mut marker, "VMDK grain marker")?;
            let size = u64::from(u32::from_le_bytes([
                marker[8], marker[9], marker[10], marker[11],
            ]));
            if size == 0 || size > max_stored {
                return Err(Error::corrupt(
                    offset,
                    format!(
                        "{name}: VMDK grain marker at file offset {offset} gives {size} bytes of compressed data for a {}-byte grain",
                        self.grain_bytes
                    ),
                ));
            }
            let data_at = offset + GRAIN_MARKER_BYTES;
            if !self.f.contains(data_at, size) {
                return Err(self.past_end(data_at, size, gte_at));
            }
            (data_at, size)
        } else {
            if offset >= self.f.size() {
                return Err(self.past_end(offset, 1, gte_at));
            }
            (offset, max_stored.min(self.f.size() - offset))
        };
        Ok(Data::Compressed {
            file: self.id,
            offset: data_at,
            stored_len,
            unit_len: self.grain_bytes,
            skip: 0,
            codec: Codec::Zlib,
        })
    }

    fn past_end(&self, offset: u64, len: u64, gte_at: u64) -> Error {
        Error::corrupt(
            gte_at,
            format!(
                "{}: VMDK grain table entry at file offset {gte_at} points at {len} bytes at {offset}, past the end of the {}-byte file",
                self.f.display(),
                self.f.size()
            ),
        )
    }
}
