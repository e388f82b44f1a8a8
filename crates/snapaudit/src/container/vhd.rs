//! Microsoft VHD, as the "Virtual Hard Disk Image Format Specification"
//! (Microsoft, version 1.0, October 2006) defines it: fixed, dynamic and
//! differencing disks.
//!
//! A fixed disk is the raw disk followed by a 512-byte footer. A dynamic
//! disk starts with a copy of the footer, then a dynamic disk header that
//! locates the block allocation table (BAT); each allocated block is a
//! sector bitmap followed by the block's data. A differencing disk is a
//! dynamic disk whose unallocated sectors (BAT entry unused, or bitmap bit
//! clear) read from its parent, which its header's parent locators name.
//!
//! The virtual size follows qemu (`block/vpc.c`, 10.0), so that the disk
//! read here is the one `qemu-img info` reports: Virtual PC and old qemu
//! images (creator application `vpc ` or `qemu`) are as large as their CHS
//! geometry says, every other creator's as its `current_size` says, and a
//! geometry at the CHS maximum always means `current_size`.
//!
//! All fields are big-endian.

use super::{
    BackingRef, Data, Extent, FileId, Files, Format, HostFile, Layer, check_disjoint, push_merged,
};
use crate::util::{be_u16, be_u32, be_u64};
use crate::{Error, Result};

const SECTOR_BYTES: u64 = 512;

/// Hard Disk Footer (spec "Hard Disk Footer Format"), 512 bytes: at the
/// end of every VHD, and copied at byte 0 of dynamic and differencing ones.
const FOOTER_BYTES: usize = 512;
const F_COOKIE: &[u8] = b"conectix";
const F_DATA_OFFSET: usize = 16;
const F_CREATOR_APPLICATION: usize = 28;
const F_CURRENT_SIZE: usize = 48;
/// Disk Geometry: cylinders (u16), heads (u8), sectors per track (u8).
const F_DISK_GEOMETRY: usize = 56;
const F_DISK_TYPE: usize = 60;
const F_CHECKSUM: usize = 64;

const DISK_TYPE_FIXED: u32 = 2;
const DISK_TYPE_DYNAMIC: u32 = 3;
const DISK_TYPE_DIFFERENCING: u32 = 4;

/// Dynamic Disk Header (spec "Dynamic Disk Header Format"), 1024 bytes, at
/// the footer's Data Offset.
const DYN_HEADER_BYTES: usize = 1024;
const D_COOKIE: &[u8] = b"cxsparse";
const D_TABLE_OFFSET: usize = 16;
const D_MAX_TABLE_ENTRIES: usize = 28;
const D_BLOCK_SIZE: usize = 32;
const D_CHECKSUM: usize = 36;
/// Parent Unicode Name: the parent's file name, UTF-16 big-endian.
const D_PARENT_UNICODE_NAME: usize = 64;
const PARENT_UNICODE_NAME_BYTES: usize = 512;
/// Eight Parent Locator Entries of 24 bytes: platform code (u32),
/// platform data space (u32), platform data length (u32), reserved (u32),
/// platform data offset (u64).
const D_PARENT_LOCATORS: usize = 576;
const PARENT_LOCATORS: usize = 8;
const LOCATOR_BYTES: usize = 24;
const L_DATA_LENGTH: usize = 8;
const L_DATA_OFFSET: usize = 16;

/// Platform codes of the locators that hold a path we can follow:
/// Windows relative and absolute paths (UTF-16 little-endian) and a Mac OS X
/// file URL (UTF-8). `Wi2r`/`Wi2k` are deprecated, `Mac ` holds an alias
/// record, not a path.
const PLATFORM_W2RU: u32 = u32::from_be_bytes(*b"W2ru");
const PLATFORM_W2KU: u32 = u32::from_be_bytes(*b"W2ku");
const PLATFORM_MACX: u32 = u32::from_be_bytes(*b"MacX");
/// No path is longer (Windows' own limit is 32 767 UTF-16 units).
const MAX_LOCATOR_BYTES: u32 = 64 << 10;

/// A BAT entry for a block that is not allocated.
const BAT_UNUSED: u32 = 0xFFFF_FFFF;
/// The spec's default block is 2 MiB; qemu accepts any power of two from a
/// sector up. Larger than this is corrupt, not a reason to allocate.
const MAX_BLOCK_BYTES: u64 = 256 << 20;
/// qemu's `VHD_MAX_SECTORS`: 2040 GiB, the format's limit.
const MAX_DISK_SECTORS: u64 = 0xff00_0000;
/// qemu's `VHD_MAX_GEOMETRY`: 65535 cylinders × 16 heads × 255 sectors,
/// the geometry writers store when the size does not fit CHS.
const MAX_GEOMETRY_SECTORS: u64 = 65535 * 16 * 255;

pub(crate) fn parse(files: &mut Files, id: FileId) -> Result<Layer> {
    let f = files.get(id);
    let name = f.display();
    let (footer, footer_at) = read_footer(f, &name)?;
    let virtual_size = virtual_size(&footer, footer_at, &name)?;
    let disk_type = field32(&footer, F_DISK_TYPE);
    match disk_type {
        DISK_TYPE_FIXED => {
            // The data runs from byte 0 up to the footer.
            if virtual_size > footer_at {
                return Err(Error::corrupt(
                    footer_at + F_CURRENT_SIZE as u64,
                    format!(
                        "{name}: fixed VHD of {virtual_size} bytes has only {footer_at} bytes before its footer (truncated?)"
                    ),
                ));
            }
            // The data area is a raw disk: its holes are the disk's.
            files.set_passthrough(id);
            let mut layer = Layer::raw(id, virtual_size);
            layer.format = Format::VhdFixed;
            Ok(layer)
        }
        DISK_TYPE_DYNAMIC | DISK_TYPE_DIFFERENCING => {
            let differencing = disk_type == DISK_TYPE_DIFFERENCING;
            let data_offset = field64(&footer, F_DATA_OFFSET);
            let mut header = [0u8; DYN_HEADER_BYTES];
            f.read_into(data_offset, &mut header, "VHD dynamic disk header")?;
            if !header.starts_with(D_COOKIE) {
                return Err(Error::corrupt(
                    data_offset,
                    format!(
                        "{name}: no VHD dynamic disk header (cookie \"cxsparse\") at the footer's data offset {data_offset}"
                    ),
                ));
            }
            verify_checksum(
                &header,
                D_CHECKSUM,
                data_offset,
                "dynamic disk header",
                &name,
            )?;
            let extents = blocks(f, id, &header, data_offset, virtual_size, &name)?;
            let backing = if differencing {
                Some(parent(files, id, &header, data_offset)?)
            } else {
                None
            };
            Ok(Layer {
                format: if differencing {
                    Format::VhdDifferencing
                } else {
                    Format::VhdDynamic
                },
                virtual_size,
                extents,
                backing,
                snapshots: Vec::new(),
            })
        }
        other => Err(Error::unsupported(format!(
            "{name}: VHD disk type {other} (snapaudit reads fixed (2), dynamic (3) and differencing (4) disks)"
        ))),
    }
}

/// A big-endian field of a fixed-size structure read whole: the offsets are
/// constants inside it, so the lookup cannot miss.
fn field32(b: &[u8], at: usize) -> u32 {
    be_u32(b, at).unwrap_or_default()
}

fn field64(b: &[u8], at: usize) -> u64 {
    be_u64(b, at).unwrap_or_default()
}

/// The footer that describes the disk, and its offset in the file.
///
/// A fixed disk has its footer only in the last sector; its first sector is
/// guest data, which may itself begin with the cookie (a VHD stored on a
/// VHD), so a sound fixed footer at the end wins. Otherwise the copy at
/// byte 0 is read, as qemu reads it.
fn read_footer(f: &HostFile, name: &str) -> Result<([u8; FOOTER_BYTES], u64)> {
    let size = f.size();
    if size < FOOTER_BYTES as u64 {
        return Err(Error::corrupt(
            0,
            format!("{name}: {size} bytes cannot hold a 512-byte VHD footer"),
        ));
    }
    let tail_at = size - FOOTER_BYTES as u64;
    let mut tail = [0u8; FOOTER_BYTES];
    f.read_into(tail_at, &mut tail, "VHD footer")?;
    let mut head = [0u8; FOOTER_BYTES];
    f.read_into(0, &mut head, "VHD footer copy")?;
    let tail_is_fixed = tail.starts_with(F_COOKIE)
        && checksum(&tail, F_CHECKSUM) == field32(&tail, F_CHECKSUM)
        && field32(&tail, F_DISK_TYPE) == DISK_TYPE_FIXED;
    let (footer, at) = if tail_is_fixed {
        (tail, tail_at)
    } else if head.starts_with(F_COOKIE) {
        (head, 0)
    } else if tail.starts_with(F_COOKIE) {
        (tail, tail_at)
    } else {
        return Err(Error::corrupt(
            tail_at,
            format!(
                "{name}: no VHD footer (cookie \"conectix\") at byte 0 or in the last sector (truncated?)"
            ),
        ));
    };
    verify_checksum(&footer, F_CHECKSUM, at, "footer", name)?;
    Ok((footer, at))
}

/// The spec's checksum: the one's complement of the sum of every byte of
/// the structure except the four of the checksum field.
fn checksum(b: &[u8], field: usize) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(field..field + 4).contains(i))
        .fold(0u32, |sum, (_, &byte)| sum.wrapping_add(u32::from(byte)));
    !sum
}

fn verify_checksum(b: &[u8], field: usize, at: u64, what: &str, name: &str) -> Result<()> {
    let stored = field32(b, field);
    let computed = checksum(b, field);
    if stored != computed {
        return Err(Error::corrupt(
            at + field as u64,
            format!(
                "{name}: VHD {what} at file offset {at} has checksum {stored:#010x}, its bytes give {computed:#010x}"
            ),
        ));
    }
    Ok(())
}

/// The virtual size, by qemu's rule (module documentation).
fn virtual_size(footer: &[u8], footer_at: u64, name: &str) -> Result<u64> {
    let cylinders = u64::from(be_u16(footer, F_DISK_GEOMETRY).unwrap_or_default());
    let heads = u64::from(footer.get(F_DISK_GEOMETRY + 2).copied().unwrap_or_default());
    let sectors = u64::from(footer.get(F_DISK_GEOMETRY + 3).copied().unwrap_or_default());
    let chs_sectors = cylinders * heads * sectors;
    let creator = footer.get(F_CREATOR_APPLICATION..F_CREATOR_APPLICATION + 4);
    let uses_chs = matches!(creator, Some(b"vpc ") | Some(b"qemu"));
    let current_size = field64(footer, F_CURRENT_SIZE);
    let total_sectors = if uses_chs && chs_sectors != MAX_GEOMETRY_SECTORS {
        chs_sectors
    } else {
        current_size / SECTOR_BYTES
    };
    if total_sectors > MAX_DISK_SECTORS {
        return Err(Error::corrupt(
            footer_at + F_CURRENT_SIZE as u64,
            format!(
                "{name}: VHD disk of {total_sectors} sectors (current_size {current_size}) is larger than the format's 2040 GiB"
            ),
        ));
    }
    Ok(total_sectors * SECTOR_BYTES)
}

/// The extents of a dynamic or differencing disk: for each allocated block,
/// the runs of sectors its bitmap marks as present.
fn blocks(
    f: &HostFile,
    id: FileId,
    header: &[u8],
    header_at: u64,
    virtual_size: u64,
    name: &str,
) -> Result<Vec<Extent>> {
    let block_size = u64::from(field32(header, D_BLOCK_SIZE));
    if !block_size.is_power_of_two() || !(SECTOR_BYTES..=MAX_BLOCK_BYTES).contains(&block_size) {
        return Err(Error::corrupt(
            header_at + D_BLOCK_SIZE as u64,
            format!(
                "{name}: VHD block size {block_size} is not a power of two from 512 bytes to 256 MiB"
            ),
        ));
    }
    // One bit per sector, padded to a whole sector.
    let bitmap_bytes = (block_size / SECTOR_BYTES)
        .div_ceil(8)
        .next_multiple_of(SECTOR_BYTES);
    let max_table_entries = u64::from(field32(header, D_MAX_TABLE_ENTRIES));
    let needed = virtual_size.div_ceil(block_size);
    if max_table_entries < needed {
        return Err(Error::corrupt(
            header_at + D_MAX_TABLE_ENTRIES as u64,
            format!(
                "{name}: VHD BAT of {max_table_entries} entries cannot map the {virtual_size}-byte disk ({needed} blocks of {block_size} bytes)"
            ),
        ));
    }
    let table_offset = field64(header, D_TABLE_OFFSET);
    let table_bytes = needed * 4;
    if !f.contains(table_offset, table_bytes) {
        return Err(Error::corrupt(
            header_at + D_TABLE_OFFSET as u64,
            format!(
                "{name}: VHD BAT of {table_bytes} bytes at {table_offset} runs past the end of the {}-byte file",
                f.size()
            ),
        ));
    }
    let bat = f.read_vec(table_offset, table_bytes, "VHD block allocation table")?;
    // Every byte range of the file something claims: the footer and its
    // copy, the header, the BAT, then each block; two claims on one byte
    // are corrupt.
    let footer_at = f.size() - FOOTER_BYTES as u64;
    let mut claims: Vec<(u64, u64, u64)> = vec![
        (0, FOOTER_BYTES as u64, 0),
        (footer_at, f.size(), footer_at),
        (header_at, header_at + DYN_HEADER_BYTES as u64, header_at),
        (table_offset, table_offset + table_bytes, table_offset),
    ];
    let mut extents = Vec::new();
    let mut bitmap = vec![0u8; bitmap_bytes as usize];
    for (i, raw) in bat.chunks_exact(4).enumerate() {
        let entry = field32(raw, 0);
        if entry == BAT_UNUSED {
            continue;
        }
        let entry_at = table_offset + i as u64 * 4;
        let bitmap_at = u64::from(entry) * SECTOR_BYTES;
        let data_at = bitmap_at + bitmap_bytes;
        let block_end = data_at + block_size;
        if block_end > f.size() {
            return Err(Error::corrupt(
                entry_at,
                format!(
                    "{name}: VHD BAT entry {i} puts its block at {bitmap_at}..{block_end}, past the end of the {}-byte file (truncated?)",
                    f.size()
                ),
            ));
        }
        claims.push((bitmap_at, block_end, entry_at));
        f.read_into(bitmap_at, &mut bitmap, "VHD sector bitmap")?;
        let block_virt = i as u64 * block_size;
        let len = block_size.min(virtual_size - block_virt);
        push_present_runs(&mut extents, &bitmap, block_virt, len, id, data_at);
    }
    check_disjoint(&mut claims, name, "VHD")?;
    Ok(extents)
}

/// The sectors of one block whose bitmap bit is set (most significant bit
/// of byte 0 first, as the spec and Virtual PC number them); a clear bit is
/// a sector the block does not hold.
fn push_present_runs(
    out: &mut Vec<Extent>,
    bitmap: &[u8],
    block_virt: u64,
    len: u64,
    file: FileId,
    data_at: u64,
) {
    let sectors = len.div_ceil(SECTOR_BYTES);
    let bit = |s: u64| {
        bitmap
            .get((s / 8) as usize)
            .is_some_and(|b| b & (0x80 >> (s % 8)) != 0)
    };
    let mut s = 0;
    while s < sectors {
        let present = bit(s);
        let mut end = s + 1;
        while end < sectors && bit(end) == present {
            end += 1;
        }
        if present {
            let start_bytes = s * SECTOR_BYTES;
            push_merged(
                out,
                Extent {
                    virt: block_virt + start_bytes,
                    len: (end * SECTOR_BYTES).min(len) - start_bytes,
                    data: Data::Host {
                        file,
                        offset: data_at + start_bytes,
                    },
                },
            );
        }
        s = end;
    }
}

/// The parent of a differencing disk: the first of its relative Windows
/// path, absolute Windows path and Mac OS X URL locators that names an
/// existing file (else the first of them, for the error), else the bare
/// parent name of the header.
fn parent(files: &Files, id: FileId, header: &[u8], header_at: u64) -> Result<BackingRef> {
    let f = files.get(id);
    let name = f.display();
    let mut candidates: Vec<(u8, String)> = Vec::new();
    for n in 0..PARENT_LOCATORS {
        let at = D_PARENT_LOCATORS + n * LOCATOR_BYTES;
        let code = field32(header, at);
        let preference = match code {
            PLATFORM_W2RU => 0,
            PLATFORM_W2KU => 1,
            PLATFORM_MACX => 2,
            _ => continue,
        };
        let length = field32(header, at + L_DATA_LENGTH);
        let offset = field64(header, at + L_DATA_OFFSET);
        if length == 0 {
            continue;
        }
        if length > MAX_LOCATOR_BYTES {
            return Err(Error::corrupt(
                header_at + (at + L_DATA_LENGTH) as u64,
                format!("{name}: VHD parent locator {n} claims {length} bytes"),
            ));
        }
        let raw = f.read_vec(offset, u64::from(length), "VHD parent locator")?;
        let path = if code == PLATFORM_MACX {
            file_url_path(&String::from_utf8_lossy(&raw))
        } else {
            windows_path(&utf16(&raw, u16::from_le_bytes))
        };
        if !path.is_empty() {
            candidates.push((preference, path));
        }
    }
    candidates.sort_by_key(|(preference, _)| *preference);
    let chosen = candidates
        .iter()
        .find(|(_, path)| files.resolve_name(id, path).exists())
        .or(candidates.first())
        .map(|(_, path)| path.clone());
    let chosen = match chosen {
        Some(path) => path,
        None => {
            let raw = header
                .get(D_PARENT_UNICODE_NAME..D_PARENT_UNICODE_NAME + PARENT_UNICODE_NAME_BYTES)
                .unwrap_or_default();
            let bare = windows_path(&utf16(raw, u16::from_be_bytes));
            if bare.is_empty() {
                return Err(Error::corrupt(
                    header_at + D_PARENT_LOCATORS as u64,
                    format!(
                        "{name}: differencing VHD names no parent (no W2ru, W2ku or MacX locator, no parent name)"
                    ),
                ));
            }
            bare
        }
    };
    Ok(BackingRef {
        name: chosen,
        format: None,
    })
}

/// UTF-16 code units in the byte order `decode` reads, up to the first NUL.
fn utf16(raw: &[u8], decode: fn([u8; 2]) -> u16) -> String {
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| decode([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// A Windows path as a name `Files::resolve_name` can follow: backslashes
/// become slashes and a leading `.\` goes, so that `.\base.vhd` resolves
/// next to the child. An absolute `C:\...` path stays unresolvable here,
/// but its base name still works with `--backing-dir`.
fn windows_path(s: &str) -> String {
    let s = s.trim_end_matches('\0').replace('\\', "/");
    let mut s = s.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_string()
}

/// The path of a `file://` URL (`file://localhost/Users/x/base.vhd`),
/// percent-decoded.
fn file_url_path(url: &str) -> String {
    let url = url.trim_end_matches('\0');
    let path = url.strip_prefix("file://").unwrap_or(url);
    let path = path.strip_prefix("localhost").unwrap_or(path);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_the_complement_of_the_byte_sum_without_the_field() {
        let mut b = [0u8; 16];
        b[0] = 1;
        b[1] = 2;
        b[8..12].copy_from_slice(&[0xff; 4]); // the field itself is skipped
        assert_eq!(checksum(&b, 8), !3u32);
    }

    #[test]
    fn parent_paths_are_turned_into_names_relative_to_the_child() {
        assert_eq!(windows_path(".\\base.vhd"), "base.vhd");
        assert_eq!(windows_path(".\\dir\\base.vhd\0"), "dir/base.vhd");
        assert_eq!(windows_path("C:\\vms\\base.vhd"), "C:/vms/base.vhd");
        assert_eq!(
            file_url_path("file://localhost/Users/a%20b/base.vhd"),
            "/Users/a b/base.vhd"
        );
        assert_eq!(file_url_path("file:///tmp/x.vhd"), "/tmp/x.vhd");
        let le: Vec<u8> = "a.vhd\0junk"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(utf16(&le, u16::from_le_bytes), "a.vhd");
    }

    #[test]
    fn bitmap_runs_follow_the_most_significant_bit_first() {
        let mut out = Vec::new();
        // Sectors 0, 1 and 7 present; 8 sectors in the block.
        push_present_runs(&mut out, &[0b1100_0001], 4096, 4096, FileId(0), 1000);
        let runs: Vec<(u64, u64, Data)> = out.iter().map(|e| (e.virt, e.len, e.data)).collect();
        let host = |offset| Data::Host {
            file: FileId(0),
            offset,
        };
        assert_eq!(
            runs,
            vec![
                (4096, 1024, host(1000)),
                (4096 + 3584, 512, host(1000 + 3584))
            ]
        );
    }
}
