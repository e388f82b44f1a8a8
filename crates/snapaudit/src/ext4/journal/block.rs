//! The blocks of a JBD2 log: the common header, descriptor blocks and
//! their tags, commit blocks and revoke blocks, with their checksums.
//!
//! Layouts: the kernel's Documentation/filesystems/ext4/journal.rst
//! ("Block Header", "Descriptor Block", "Revocation Block", "Commit Block")
//! and include/linux/jbd2.h. Every field is big-endian.

use super::superblock::JournalSuperblock;
use crate::util::{be_u16, be_u32, be_u64};
use crate::{Error, Result};

/// `h_magic` of every journal metadata block.
pub const JBD2_MAGIC_NUMBER: u32 = 0xC03B_3998;
/// `sizeof(journal_header_t)`.
pub const HEADER_BYTES: usize = 12;
/// `sizeof(jbd2_journal_revoke_header_t)`: the header and `r_count`.
const REVOKE_HEADER_BYTES: usize = 16;

/// Descriptor tag `t_flags`.
pub const FLAG_ESCAPE: u16 = 1;
pub const FLAG_SAME_UUID: u16 = 2;
pub const FLAG_LAST_TAG: u16 = 8;

/// Commit block `h_chksum_type`/`h_chksum_size` of a checksum v1 commit.
const JBD2_CRC32_CHKSUM: u8 = 1;
const JBD2_CRC32_CHKSUM_SIZE: u8 = 4;

/// `journal_header_t`.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub h_magic: u32,
    pub h_blocktype: u32,
    pub h_sequence: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockType {
    Descriptor,
    Commit,
    SuperblockV1,
    SuperblockV2,
    Revoke,
}

impl Header {
    pub fn parse(b: &[u8]) -> Option<Header> {
        Some(Header {
            h_magic: be_u32(b, 0)?,
            h_blocktype: be_u32(b, 4)?,
            h_sequence: be_u32(b, 8)?,
        })
    }

    pub fn blocktype(&self) -> Option<BlockType> {
        Some(match self.h_blocktype {
            1 => BlockType::Descriptor,
            2 => BlockType::Commit,
            3 => BlockType::SuperblockV1,
            4 => BlockType::SuperblockV2,
            5 => BlockType::Revoke,
            _ => return None,
        })
    }
}

/// The kernel's `jbd2_chksum(seed, data)`: the CRC-32C register continued
/// from `seed`, no final inversion (ext4's own checksums use the same).
pub fn jbd2_chksum(seed: u32, data: &[u8]) -> u32 {
    crate::ext4::layout::csum::ext4_crc32c(seed, data)
}

/// Table of the kernel's `crc32_be` (polynomial 0x04C11DB7, MSB first).
const CRC32_BE_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// The kernel's `crc32_be(crc, data)`, which checksum v1 commit blocks
/// carry (continued from ~0 over a transaction's blocks, no final xor).
pub fn crc32_be(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc = (crc << 8) ^ CRC32_BE_TABLE[usize::from((crc >> 24) as u8 ^ byte)];
    }
    crc
}

/// One descriptor tag (`journal_block_tag_t` or `journal_block_tag3_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The filesystem block the following log block is a copy of.
    pub blocknr: u64,
    pub t_flags: u16,
    /// `t_checksum`: 32 bits in tag3, the low 16 in the older tag.
    pub t_checksum: u32,
}

/// The tags of descriptor block `b` (at volume offset `at`): what
/// `count_tags()` and the replay loop of fs/jbd2/recovery.c walk. Tags
/// fill the block up to its checksum tail; the last one carries
/// `JBD2_FLAG_LAST_TAG`. A descriptor whose tags reach the end of the
/// block without that flag is refused (the kernel writes the flag on
/// every descriptor; without it, the block is not one it wrote).
pub fn descriptor_tags(jsb: &JournalSuperblock, b: &[u8], at: u64) -> Result<Vec<Tag>> {
    let tag_bytes = jsb.tag_bytes();
    let end = b.len().saturating_sub(jsb.tail_bytes());
    let csum3 = jsb.has_incompat(super::superblock::INCOMPAT_CSUM_V3);
    let mut tags = Vec::new();
    let mut off = HEADER_BYTES;
    while off + tag_bytes <= end {
        let field32 = |o: usize| be_u32(b, off + o).unwrap_or(0);
        // t_flags is the low half of tag3's 32-bit field, at the same
        // offset as the older tag's 16-bit one.
        let t_flags = be_u16(b, off + 6).unwrap_or(0);
        let mut blocknr = u64::from(field32(0));
        if jsb.is_64bit() {
            blocknr |= u64::from(field32(8)) << 32;
        }
        let t_checksum = if csum3 {
            field32(12)
        } else {
            u32::from(be_u16(b, off + 4).unwrap_or(0))
        };
        tags.push(Tag {
            blocknr,
            t_flags,
            t_checksum,
        });
        off += tag_bytes;
        if t_flags & FLAG_SAME_UUID == 0 {
            off += 16;
        }
        if t_flags & FLAG_LAST_TAG != 0 {
            return Ok(tags);
        }
    }
    Err(Error::corrupt(
        at,
        format!(
            "journal descriptor block: its {} tags run past the end of the {}-byte block without a last-tag flag",
            tags.len(),
            b.len()
        ),
    ))
}

/// `jbd2_descriptor_block_csum_verify()`, also used for revoke blocks:
/// crc32c(j_csum_seed, block with its 4-byte tail zeroed) against the tail.
pub fn tail_checksum_ok(seed: u32, b: &[u8]) -> bool {
    let Some(split) = b.len().checked_sub(4) else {
        return false;
    };
    let (body, tail) = b.split_at(split);
    let provided = be_u32(tail, 0).unwrap_or(0);
    let crc = jbd2_chksum(jbd2_chksum(seed, body), &[0; 4]);
    crc == provided
}

/// `jbd2_block_tag_csum_verify()`: crc32c(j_csum_seed, sequence (be32),
/// data block) against the tag's 32 bits (tag3) or low 16 bits.
pub fn data_checksum_ok(
    jsb: &JournalSuperblock,
    seed: u32,
    tag: &Tag,
    sequence: u32,
    data: &[u8],
) -> bool {
    let csum = jbd2_chksum(jbd2_chksum(seed, &sequence.to_be_bytes()), data);
    if jsb.has_incompat(super::superblock::INCOMPAT_CSUM_V3) {
        tag.t_checksum == csum
    } else {
        tag.t_checksum == csum & 0xFFFF
    }
}

/// `struct commit_header`, the fields recovery checks.
#[derive(Debug, Clone, Copy)]
pub struct Commit {
    pub h_chksum_type: u8,
    pub h_chksum_size: u8,
    /// `h_chksum[0]`.
    pub h_chksum0: u32,
    pub h_commit_sec: u64,
}

impl Commit {
    pub fn parse(b: &[u8]) -> Commit {
        Commit {
            h_chksum_type: b.get(0xC).copied().unwrap_or(0),
            h_chksum_size: b.get(0xD).copied().unwrap_or(0),
            h_chksum0: be_u32(b, 0x10).unwrap_or(0),
            h_commit_sec: be_u64(b, 0x30).unwrap_or(0),
        }
    }

    /// Checksum v1: the crc32_be of the transaction's descriptor and data
    /// blocks, or no checksum at all (type and size 0).
    pub fn v1_ok(&self, crc32_sum: u32) -> bool {
        let matches = crc32_sum == self.h_chksum0
            && self.h_chksum_type == JBD2_CRC32_CHKSUM
            && self.h_chksum_size == JBD2_CRC32_CHKSUM_SIZE;
        matches || (self.h_chksum_type == 0 && self.h_chksum_size == 0)
    }
}

/// `jbd2_commit_block_csum_verify()`: crc32c(j_csum_seed, the block with
/// `h_chksum[0]` zeroed) against `h_chksum[0]`.
pub fn commit_checksum_ok(seed: u32, b: &[u8]) -> bool {
    let (Some(head), Some(rest)) = (b.get(..0x10), b.get(0x14..)) else {
        return false;
    };
    let provided = be_u32(b, 0x10).unwrap_or(0);
    let crc = jbd2_chksum(jbd2_chksum(jbd2_chksum(seed, head), &[0; 4]), rest);
    crc == provided
}

/// The block numbers a revoke block (at volume offset `at`) revokes:
/// `r_count` bytes of it (header included) hold 4-byte entries, or 8-byte
/// ones under the 64bit feature (`scan_revoke_records()`).
pub fn revoke_records(jsb: &JournalSuperblock, b: &[u8], at: u64) -> Result<Vec<u64>> {
    let r_count = be_u32(b, HEADER_BYTES).unwrap_or(0) as usize;
    let room = b.len().saturating_sub(jsb.tail_bytes());
    if r_count > room {
        return Err(Error::corrupt(
            at,
            format!(
                "journal revoke block: r_count {r_count} bytes is larger than the {room} bytes the block holds"
            ),
        ));
    }
    let record_bytes = if jsb.is_64bit() { 8 } else { 4 };
    let mut out = Vec::with_capacity(r_count.saturating_sub(REVOKE_HEADER_BYTES) / record_bytes);
    let mut off = REVOKE_HEADER_BYTES;
    while off + record_bytes <= r_count {
        let blocknr = if record_bytes == 4 {
            be_u32(b, off).map(u64::from)
        } else {
            be_u64(b, off)
        };
        out.push(blocknr.unwrap_or(0));
        off += record_bytes;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_be_matches_the_standard_check_value() {
        // CRC-32/MPEG-2 (init ~0, no reflection, no final xor) of
        // "123456789" is 0x0376E6E7.
        assert_eq!(crc32_be(!0, b"123456789"), 0x0376_E6E7);
    }
}
