//! ext4 metadata checksums (kernel Documentation/filesystems/ext4/checksums.rst).
//!
//! Every function here takes the raw bytes of one structure so that the
//! sanitizer can patch a copy and recompute its checksum before writing it
//! back. The checksum seed of a filesystem is [`Superblock::csum_seed`].
//!
//! ext4's crc32c is the kernel's `ext4_chksum(seed, data)`: the plain
//! CRC-32C register update, *without* the final inversion that the usual
//! "crc32c(data)" applies. [`ext4_crc32c`] converts between the two.
//!
//! [`Superblock::csum_seed`]: super::Superblock::csum_seed

use crate::util::{le_u16, le_u32};

/// A stored checksum next to the one computed from the bytes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    pub stored: u32,
    pub computed: u32,
}

impl Checksum {
    pub fn is_valid(&self) -> bool {
        self.stored == self.computed
    }
}

/// The kernel's `ext4_chksum(seed, data)`: CRC-32C (Castagnoli) continued
/// from register value `seed`, no final xor.
pub fn ext4_crc32c(seed: u32, data: &[u8]) -> u32 {
    // `crc32c_append` inverts on the way in and out; undo both so that the
    // raw register value is carried, as the kernel does.
    !crc32c::crc32c_append(!seed, data)
}

/// Table of the kernel's lib/crc16.c: CRC-16 with polynomial 0x8005,
/// bit-reflected (0xA001).
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// The kernel's `crc16(crc, data)` (used by the `uninit_bg`/gdt_csum
/// group descriptor checksum).
pub fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &byte in data {
        crc = (crc >> 8) ^ CRC16_TABLE[usize::from((crc as u8) ^ byte)];
    }
    crc
}

/// Byte offset of `s_checksum` in the superblock.
pub(crate) const SB_CHECKSUM_OFFSET: usize = 0x3FC;

/// Superblock checksum: crc32c(~0, superblock up to `s_checksum`).
/// `None` when `raw_sb` is shorter than a superblock.
pub fn superblock_checksum(raw_sb: &[u8]) -> Option<u32> {
    Some(ext4_crc32c(!0, raw_sb.get(..SB_CHECKSUM_OFFSET)?))
}

/// Recompute and store the superblock checksum in `raw_sb` (1024 bytes).
pub fn set_superblock_checksum(raw_sb: &mut [u8]) -> Option<()> {
    let csum = superblock_checksum(raw_sb)?;
    raw_sb
        .get_mut(SB_CHECKSUM_OFFSET..SB_CHECKSUM_OFFSET + 4)?
        .copy_from_slice(&csum.to_le_bytes());
    Some(())
}

/// Which group descriptor checksum a filesystem uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupDescCsum {
    /// Neither gdt_csum (`uninit_bg`) nor metadata_csum: `bg_checksum` unused.
    None,
    /// RO_COMPAT_GDT_CSUM: crc16(~0, uuid + le32 group + descriptor without
    /// `bg_checksum`).
    Crc16 { uuid: [u8; 16], has_64bit: bool },
    /// RO_COMPAT_METADATA_CSUM: crc32c(seed, le32 group + descriptor with
    /// `bg_checksum` zeroed) & 0xFFFF.
    Crc32c { csum_seed: u32 },
}

/// Offset of `bg_checksum` in a group descriptor.
pub(crate) const BG_CHECKSUM_OFFSET: usize = 0x1E;

/// Group descriptor checksum of descriptor `raw_desc` (exactly `s_desc_size`
/// bytes, or 32 without 64bit) for group `group`; `None` when the filesystem
/// has no descriptor checksums or `raw_desc` is too short.
pub fn group_desc_checksum(kind: GroupDescCsum, group: u32, raw_desc: &[u8]) -> Option<u16> {
    let before = raw_desc.get(..BG_CHECKSUM_OFFSET)?;
    let after = raw_desc.get(BG_CHECKSUM_OFFSET + 2..)?;
    match kind {
        GroupDescCsum::None => None,
        GroupDescCsum::Crc16 { uuid, has_64bit } => {
            let mut crc = crc16(!0, &uuid);
            crc = crc16(crc, &group.to_le_bytes());
            crc = crc16(crc, before);
            // The kernel only covers the bytes past bg_checksum when the
            // descriptor is the 64-byte (64bit) kind.
            if has_64bit {
                crc = crc16(crc, after);
            }
            Some(crc)
        }
        GroupDescCsum::Crc32c { csum_seed } => {
            let mut crc = ext4_crc32c(csum_seed, &group.to_le_bytes());
            crc = ext4_crc32c(crc, before);
            crc = ext4_crc32c(crc, &[0, 0]);
            crc = ext4_crc32c(crc, after);
            Some((crc & 0xFFFF) as u16)
        }
    }
}

/// Recompute and store `bg_checksum` in `raw_desc`.
pub fn set_group_desc_checksum(kind: GroupDescCsum, group: u32, raw_desc: &mut [u8]) -> Option<()> {
    let csum = group_desc_checksum(kind, group, raw_desc)?;
    raw_desc
        .get_mut(BG_CHECKSUM_OFFSET..BG_CHECKSUM_OFFSET + 2)?
        .copy_from_slice(&csum.to_le_bytes());
    Some(())
}

/// Block or inode bitmap checksum: crc32c(seed, bitmap). `bitmap` is the
/// part of the bitmap block that covers the group: `s_clusters_per_group / 8`
/// bytes for block bitmaps, `s_inodes_per_group / 8` for inode bitmaps.
/// Only the low 16 bits are stored when descriptors are 32 bytes.
pub fn bitmap_checksum(csum_seed: u32, bitmap: &[u8]) -> u32 {
    ext4_crc32c(csum_seed, bitmap)
}

/// Offsets of `l_i_checksum_lo`, `i_extra_isize` and `i_checksum_hi` in an inode.
pub(crate) const I_CHECKSUM_LO_OFFSET: usize = 0x7C;
pub(crate) const I_EXTRA_ISIZE_OFFSET: usize = 0x80;
pub(crate) const I_CHECKSUM_HI_OFFSET: usize = 0x82;
/// EXT4_GOOD_OLD_INODE_SIZE.
pub(crate) const GOOD_OLD_INODE_SIZE: usize = 128;

/// Per-inode checksum seed: crc32c(crc32c(fs seed, le32 ino), le32 i_generation).
pub fn inode_csum_seed(csum_seed: u32, ino: u32, i_generation: u32) -> u32 {
    let crc = ext4_crc32c(csum_seed, &ino.to_le_bytes());
    ext4_crc32c(crc, &i_generation.to_le_bytes())
}

/// Whether `i_checksum_hi` lies inside the inode's extra space
/// (EXT4_FITS_IN_INODE: `i_extra_isize` ≥ 4).
fn has_checksum_hi(raw_inode: &[u8]) -> bool {
    raw_inode.len() > GOOD_OLD_INODE_SIZE
        && le_u16(raw_inode, I_EXTRA_ISIZE_OFFSET).is_some_and(|extra| {
            usize::from(extra) + GOOD_OLD_INODE_SIZE >= I_CHECKSUM_HI_OFFSET + 2
        })
}

/// Inode checksum over `raw_inode` (exactly `s_inode_size` bytes) with both
/// checksum fields taken as zero, as `ext4_inode_csum` computes it. The
/// stored value is the low 16 bits in `l_i_checksum_lo` and, when
/// `i_extra_isize` ≥ 4, the high 16 bits in `i_checksum_hi`; see
/// [`inode_checksum_mask`].
pub fn inode_checksum(csum_seed: u32, ino: u32, raw_inode: &[u8]) -> Option<u32> {
    let i_generation = le_u32(raw_inode, 0x64)?;
    let mut crc = inode_csum_seed(csum_seed, ino, i_generation);
    crc = ext4_crc32c(crc, raw_inode.get(..I_CHECKSUM_LO_OFFSET)?);
    crc = ext4_crc32c(crc, &[0, 0]);
    crc = ext4_crc32c(
        crc,
        raw_inode.get(I_CHECKSUM_LO_OFFSET + 2..GOOD_OLD_INODE_SIZE)?,
    );
    if raw_inode.len() > GOOD_OLD_INODE_SIZE {
        crc = ext4_crc32c(
            crc,
            raw_inode.get(GOOD_OLD_INODE_SIZE..I_CHECKSUM_HI_OFFSET)?,
        );
        let rest_from = if has_checksum_hi(raw_inode) {
            crc = ext4_crc32c(crc, &[0, 0]);
            I_CHECKSUM_HI_OFFSET + 2
        } else {
            I_CHECKSUM_HI_OFFSET
        };
        crc = ext4_crc32c(crc, raw_inode.get(rest_from..)?);
    }
    Some(crc)
}

/// The bits of [`inode_checksum`] that the inode stores: all 32 when it has
/// `i_checksum_hi`, else the low 16.
pub fn inode_checksum_mask(raw_inode: &[u8]) -> u32 {
    if has_checksum_hi(raw_inode) {
        u32::MAX
    } else {
        0xFFFF
    }
}

/// The checksum stored in `raw_inode` (lo and, where present, hi).
pub fn stored_inode_checksum(raw_inode: &[u8]) -> Option<u32> {
    let lo = u32::from(le_u16(raw_inode, I_CHECKSUM_LO_OFFSET)?);
    let hi = if has_checksum_hi(raw_inode) {
        u32::from(le_u16(raw_inode, I_CHECKSUM_HI_OFFSET)?)
    } else {
        0
    };
    Some(lo | (hi << 16))
}

/// Recompute and store the checksum of `raw_inode` (inode number `ino`).
pub fn set_inode_checksum(csum_seed: u32, ino: u32, raw_inode: &mut [u8]) -> Option<()> {
    let csum = inode_checksum(csum_seed, ino, raw_inode)?;
    let hi = has_checksum_hi(raw_inode);
    raw_inode
        .get_mut(I_CHECKSUM_LO_OFFSET..I_CHECKSUM_LO_OFFSET + 2)?
        .copy_from_slice(&((csum & 0xFFFF) as u16).to_le_bytes());
    if hi {
        raw_inode
            .get_mut(I_CHECKSUM_HI_OFFSET..I_CHECKSUM_HI_OFFSET + 2)?
            .copy_from_slice(&((csum >> 16) as u16).to_le_bytes());
    }
    Some(())
}

/// Size of `struct ext4_dir_entry_tail` at the end of a checksummed
/// directory leaf block.
pub(crate) const DIR_TAIL_LEN: usize = 12;

/// Whether `block` ends with a directory checksum tail
/// (`det_reserved_zero1` = 0, `det_rec_len` = 12, `det_reserved_zero2` = 0,
/// `det_reserved_ft` = 0xDE).
pub fn has_dir_tail(block: &[u8]) -> bool {
    let Some(tail_at) = block.len().checked_sub(DIR_TAIL_LEN) else {
        return false;
    };
    le_u32(block, tail_at) == Some(0)
        && le_u16(block, tail_at + 4) == Some(DIR_TAIL_LEN as u16)
        && block.get(tail_at + 6) == Some(&0)
        && block.get(tail_at + 7) == Some(&0xDE)
}

/// Checksum of a directory leaf block: crc32c(inode seed, block up to the
/// tail). `None` when the block has no tail.
pub fn dir_block_checksum(
    csum_seed: u32,
    ino: u32,
    i_generation: u32,
    block: &[u8],
) -> Option<u32> {
    if !has_dir_tail(block) {
        return None;
    }
    let covered = block.get(..block.len() - DIR_TAIL_LEN)?;
    Some(ext4_crc32c(
        inode_csum_seed(csum_seed, ino, i_generation),
        covered,
    ))
}

/// The checksum stored in a directory leaf block's tail.
pub fn stored_dir_block_checksum(block: &[u8]) -> Option<u32> {
    if !has_dir_tail(block) {
        return None;
    }
    le_u32(block, block.len() - 4)
}

/// Recompute and store a directory leaf block's tail checksum.
pub fn set_dir_block_checksum(
    csum_seed: u32,
    ino: u32,
    i_generation: u32,
    block: &mut [u8],
) -> Option<()> {
    let csum = dir_block_checksum(csum_seed, ino, i_generation, block)?;
    let at = block.len() - 4;
    block.get_mut(at..)?.copy_from_slice(&csum.to_le_bytes());
    Some(())
}

/// Offset of `struct ext4_extent_tail` in an extent tree block: right after
/// the `eh_max` slots (12-byte header, 12-byte entries).
fn extent_tail_offset(block: &[u8]) -> Option<usize> {
    let eh_max = usize::from(le_u16(block, 4)?);
    let at = 12 + 12 * eh_max;
    (at + 4 <= block.len()).then_some(at)
}

/// Checksum of an extent tree block: crc32c(inode seed, block up to the tail).
pub fn extent_block_checksum(
    csum_seed: u32,
    ino: u32,
    i_generation: u32,
    block: &[u8],
) -> Option<u32> {
    let at = extent_tail_offset(block)?;
    Some(ext4_crc32c(
        inode_csum_seed(csum_seed, ino, i_generation),
        block.get(..at)?,
    ))
}

/// The checksum stored in an extent tree block's tail.
pub fn stored_extent_block_checksum(block: &[u8]) -> Option<u32> {
    le_u32(block, extent_tail_offset(block)?)
}

/// Recompute and store an extent tree block's tail checksum.
pub fn set_extent_block_checksum(
    csum_seed: u32,
    ino: u32,
    i_generation: u32,
    block: &mut [u8],
) -> Option<()> {
    let csum = extent_block_checksum(csum_seed, ino, i_generation, block)?;
    let at = extent_tail_offset(block)?;
    block
        .get_mut(at..at + 4)?
        .copy_from_slice(&csum.to_le_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The standard CRC-32C check value of "123456789" is 0xE3069283;
        // ext4's raw register form is its complement with seed ~0.
        assert_eq!(!ext4_crc32c(!0, b"123456789"), 0xE306_9283);
        // Continuing a raw crc over two halves equals one pass.
        let one = ext4_crc32c(0x1234_5678, b"hello world");
        let two = ext4_crc32c(ext4_crc32c(0x1234_5678, b"hello "), b"world");
        assert_eq!(one, two);
    }

    #[test]
    fn crc16_matches_the_arc_check_value() {
        // CRC-16/ARC (poly 0x8005 reflected, init 0) of "123456789" is 0xBB3D;
        // lib/crc16.c is the same register without init/xor conventions.
        assert_eq!(crc16(0, b"123456789"), 0xBB3D);
    }

    #[test]
    fn dir_tail_is_recognised_only_when_exact() {
        let mut block = vec![0u8; 1024];
        block[1012 + 4] = 12;
        block[1012 + 7] = 0xDE;
        assert!(has_dir_tail(&block));
        set_dir_block_checksum(7, 2, 0, &mut block).expect("tail present");
        assert_eq!(
            stored_dir_block_checksum(&block),
            dir_block_checksum(7, 2, 0, &block)
        );
        block[1012 + 7] = 0xDD;
        assert!(!has_dir_tail(&block));
        assert!(!has_dir_tail(&[0u8; 4]));
    }
}
