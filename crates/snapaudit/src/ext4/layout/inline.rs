//! Inline data (kernel Documentation/filesystems/ext4/inlinedata.rst): a
//! small file or directory kept inside its inode — the first 60 bytes in
//! `i_block`, the rest in the value of the in-inode extended attribute
//! `system.data` (attributes.rst, "In-inode extended attributes").

use super::Layout;
use super::csum::GOOD_OLD_INODE_SIZE;
use super::inode::Inode;
use super::map::FileByteRange;
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// `h_magic` of the in-inode attribute area.
const EXT4_XATTR_MAGIC: u32 = 0xEA02_0000;
/// `e_name_index` of the `system.` namespace.
const EXT4_XATTR_INDEX_SYSTEM: u8 = 7;
/// Size of `struct ext4_xattr_entry` before the name.
const XATTR_ENTRY_HEADER_LEN: usize = 16;
/// Offset and size of `i_block` in the inode record.
pub(crate) const I_BLOCK_OFFSET: usize = 0x28;
pub(crate) const I_BLOCK_LEN: usize = 60;

/// Where the `system.data` value is: byte offset inside the inode record
/// and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SystemData {
    pub(crate) offset_in_inode: usize,
    pub(crate) len: usize,
}

/// Find the `system.data` attribute in the in-inode attribute area of
/// `raw` (the inode record). `None` when there is none.
pub(crate) fn find_system_data(inode: &Inode, raw: &[u8]) -> Result<Option<SystemData>> {
    let corrupt = |off: usize, what: String| {
        Error::corrupt(
            inode.offset_bytes + off as u64,
            format!("inode {}: {what}", inode.ino),
        )
    };
    if raw.len() <= GOOD_OLD_INODE_SIZE {
        return Ok(None);
    }
    let area = GOOD_OLD_INODE_SIZE + usize::from(inode.i_extra_isize);
    if le_u32(raw, area) != Some(EXT4_XATTR_MAGIC) {
        return Ok(None);
    }
    // Value offsets count from the first entry, right after h_magic.
    let first_entry = area + 4;
    let mut entry = first_entry;
    // Each entry is at least 16 bytes, so the loop ends within the record.
    while let Some(word) = le_u32(raw, entry) {
        if word == 0 {
            // EXT4_XATTR_IS_LAST_ENTRY.
            break;
        }
        let header = raw
            .get(entry..entry + XATTR_ENTRY_HEADER_LEN)
            .ok_or_else(|| corrupt(entry, "in-inode attribute entry truncated".to_string()))?;
        let e_name_len = usize::from(header[0]);
        let e_name_index = header[1];
        let e_value_offs = usize::from(le_u16(header, 2).unwrap_or(0));
        let e_value_inum = le_u32(header, 4).unwrap_or(0);
        let e_value_size = le_u32(header, 8).unwrap_or(0) as usize;
        let name = raw
            .get(entry + XATTR_ENTRY_HEADER_LEN..entry + XATTR_ENTRY_HEADER_LEN + e_name_len)
            .ok_or_else(|| {
                corrupt(
                    entry,
                    "in-inode attribute name runs past the inode".to_string(),
                )
            })?;
        if e_name_index == EXT4_XATTR_INDEX_SYSTEM && name == b"data" {
            if e_value_inum != 0 {
                return Err(Error::unsupported(format!(
                    "inode {}: inline data stored in an extended-attribute inode",
                    inode.ino
                )));
            }
            let offset_in_inode = first_entry + e_value_offs;
            if offset_in_inode + e_value_size > raw.len() {
                return Err(corrupt(
                    entry,
                    format!(
                        "system.data value at {offset_in_inode}+{e_value_size} runs past the {}-byte inode",
                        raw.len()
                    ),
                ));
            }
            return Ok(Some(SystemData {
                offset_in_inode,
                len: e_value_size,
            }));
        }
        // EXT4_XATTR_LEN: header + name, rounded up to 4 bytes.
        entry += (XATTR_ENTRY_HEADER_LEN + e_name_len + 3) & !3;
    }
    Ok(None)
}

/// The content of an inline-data file as ranges of the inode record in the
/// volume: `i_block` first, then the `system.data` value, clipped to `i_size`.
pub(crate) fn inline_byte_ranges(layout: &Layout<'_>, inode: &Inode) -> Result<Vec<FileByteRange>> {
    let raw = layout.inode_bytes(inode.ino)?;
    let mut ranges = Vec::with_capacity(2);
    let head = inode.i_size.min(I_BLOCK_LEN as u64);
    if head > 0 {
        ranges.push(FileByteRange {
            volume_offset_bytes: inode.offset_bytes + I_BLOCK_OFFSET as u64,
            len_bytes: head,
            file_offset_bytes: 0,
        });
    }
    let tail = inode.i_size - head;
    if tail > 0 {
        let data = find_system_data(inode, raw)?.ok_or_else(|| {
            Error::corrupt(
                inode.offset_bytes,
                format!(
                    "inode {}: inline file of {} bytes has no system.data attribute for the bytes past 60",
                    inode.ino, inode.i_size
                ),
            )
        })?;
        if (data.len as u64) < tail {
            return Err(Error::corrupt(
                inode.offset_bytes,
                format!(
                    "inode {}: inline file of {} bytes, expected a system.data value of {tail} bytes, found {}",
                    inode.ino, inode.i_size, data.len
                ),
            ));
        }
        ranges.push(FileByteRange {
            volume_offset_bytes: inode.offset_bytes + data.offset_in_inode as u64,
            len_bytes: tail,
            file_offset_bytes: I_BLOCK_LEN as u64,
        });
    }
    Ok(ranges)
}
