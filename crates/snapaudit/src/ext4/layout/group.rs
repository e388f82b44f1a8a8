//! Block groups: descriptors (kernel Documentation/filesystems/ext4/
//! group_descr.rst) and the fixed metadata at the start of each group
//! (blockgroup.rst "Layout", "Flexible Block Groups", "Meta Block Groups").

use super::Layout;
use super::csum::{self, Checksum};
use super::features::{CompatFeatures, IncompatFeatures, RoCompatFeatures};
use super::superblock::{SUPERBLOCK_OFFSET, Superblock};
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// `bg_flags` (group_descr.rst, table bgflags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupFlags(pub u16);

impl GroupFlags {
    /// Inode table and bitmap are not initialized (EXT4_BG_INODE_UNINIT).
    pub const INODE_UNINIT: u16 = 0x1;
    /// Block bitmap is not initialized (EXT4_BG_BLOCK_UNINIT).
    pub const BLOCK_UNINIT: u16 = 0x2;
    /// Inode table is zeroed (EXT4_BG_INODE_ZEROED).
    pub const INODE_ZEROED: u16 = 0x4;

    pub fn inode_uninit(self) -> bool {
        self.0 & Self::INODE_UNINIT != 0
    }
    pub fn block_uninit(self) -> bool {
        self.0 & Self::BLOCK_UNINIT != 0
    }
    pub fn inode_zeroed(self) -> bool {
        self.0 & Self::INODE_ZEROED != 0
    }
}

/// `struct ext4_group_desc` (group_descr.rst). 32 bytes without 64bit;
/// with 64bit `s_desc_size` bytes whose `_hi` halves are combined here.
/// Counts are in clusters for `bg_free_blocks_count` (bigalloc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDesc {
    /// Group number.
    pub group: u32,
    /// Byte offset of this descriptor in the volume (of the primary copy).
    pub offset_bytes: u64,
    pub bg_block_bitmap: u64,
    pub bg_inode_bitmap: u64,
    pub bg_inode_table: u64,
    pub bg_free_blocks_count: u32,
    pub bg_free_inodes_count: u32,
    pub bg_used_dirs_count: u32,
    pub bg_flags: GroupFlags,
    pub bg_exclude_bitmap: u64,
    pub bg_block_bitmap_csum: u32,
    pub bg_inode_bitmap_csum: u32,
    pub bg_itable_unused: u32,
    pub bg_checksum: u16,
}

/// Whether `a` is a power of `b` (the kernel's `test_root`).
fn is_power_of(mut a: u32, b: u32) -> bool {
    loop {
        if a < b {
            return false;
        }
        if a == b {
            return true;
        }
        if !a.is_multiple_of(b) {
            return false;
        }
        a /= b;
    }
}

/// Group geometry derived from the superblock alone.
impl Superblock {
    /// First block of group `group`: s_first_data_block + group × s_blocks_per_group.
    pub fn group_first_block(&self, group: u32) -> u64 {
        u64::from(self.s_first_data_block) + u64::from(group) * u64::from(self.s_blocks_per_group)
    }

    /// Blocks in group `group`: s_blocks_per_group, except the last group,
    /// which ends at s_blocks_count. 0 for a group past the end.
    pub fn group_len_blocks(&self, group: u32) -> u64 {
        let first = self.group_first_block(group);
        self.s_blocks_count
            .saturating_sub(first)
            .min(u64::from(self.s_blocks_per_group))
    }

    /// Group of block `block` (blocks below s_first_data_block belong to no
    /// group and give `None`, as do blocks past s_blocks_count).
    pub fn block_group(&self, block: u64) -> Option<u32> {
        if block >= self.s_blocks_count {
            return None;
        }
        let rel = block.checked_sub(u64::from(self.s_first_data_block))?;
        u32::try_from(rel / u64::from(self.s_blocks_per_group)).ok()
    }

    /// The block holding the primary superblock: 1 with 1 KiB blocks
    /// (byte 1024 is block 1, even with bigalloc where s_first_data_block
    /// is 0), else 0.
    pub fn superblock_block(&self) -> u64 {
        SUPERBLOCK_OFFSET / u64::from(self.block_size_bytes())
    }

    /// Whether group `group` holds a superblock copy (ext4_bg_has_super):
    /// group 0 always; with sparse_super2 the groups in s_backup_bgs; with
    /// sparse_super groups 0, 1 and powers of 3, 5 and 7; else every group.
    pub fn bg_has_super(&self, group: u32) -> bool {
        if group == 0 {
            return true;
        }
        if self
            .s_feature_compat
            .contains(CompatFeatures::SPARSE_SUPER2)
        {
            return group == self.s_backup_bgs[0] || group == self.s_backup_bgs[1];
        }
        if !self
            .s_feature_ro_compat
            .contains(RoCompatFeatures::SPARSE_SUPER)
        {
            return true;
        }
        if group == 1 {
            return true;
        }
        if group & 1 == 0 {
            return false;
        }
        is_power_of(group, 3) || is_power_of(group, 5) || is_power_of(group, 7)
    }

    /// Blocks of a full group descriptor table: ceil(groups / descs per block).
    pub fn gdt_blocks(&self) -> u64 {
        u64::from(self.group_count()).div_ceil(u64::from(self.descs_per_block()))
    }

    pub fn has_meta_bg(&self) -> bool {
        self.s_feature_incompat.contains(IncompatFeatures::META_BG)
    }

    /// First group described by meta_bg-style descriptor blocks (groups
    /// below it use the classic table after the superblock). `u64::MAX`
    /// without meta_bg.
    fn first_meta_bg_group(&self) -> u64 {
        if self.has_meta_bg() {
            u64::from(self.s_first_meta_bg) * u64::from(self.descs_per_block())
        } else {
            u64::MAX
        }
    }

    /// Blocks at the start of group `group` taken by the superblock copy,
    /// the group descriptor table (or, with meta_bg, this meta group's
    /// descriptor block) and the reserved GDT blocks — the kernel's
    /// `ext4_num_base_meta_blocks`.
    pub fn base_meta_blocks(&self, group: u32) -> u64 {
        let has_super = self.bg_has_super(group);
        let mut num = u64::from(has_super);
        if u64::from(group) < self.first_meta_bg_group() {
            if has_super {
                // ext4_bg_num_gdb_nometa: the classic table has
                // s_first_meta_bg blocks when meta_bg is on.
                num += if self.has_meta_bg() {
                    u64::from(self.s_first_meta_bg)
                } else {
                    self.gdt_blocks()
                };
                num += u64::from(self.s_reserved_gdt_blocks);
            }
        } else {
            // ext4_bg_num_gdb_meta: the first, second and last group of a
            // meta group each hold a copy of its one descriptor block.
            let dpb = self.descs_per_block();
            let index = group % dpb;
            if index == 0 || index == 1 || index == dpb - 1 {
                num += 1;
            }
        }
        num
    }

    /// Block range `[first, end)` of group `group`'s base metadata
    /// ([`Superblock::base_meta_blocks`]) from the group's first block. In
    /// group 0 the count starts at the superblock's block, which with 1 KiB
    /// blocks and bigalloc is block 1 while the group starts at block 0.
    pub fn base_meta_range(&self, group: u32) -> (u64, u64) {
        let first = self.group_first_block(group);
        let start = if group == 0 {
            first.max(self.superblock_block())
        } else {
            first
        };
        // The range still starts at the group's first block, so that block 0
        // of a bigalloc 1 KiB filesystem (the boot block) is metadata too.
        (first, start.saturating_add(self.base_meta_blocks(group)))
    }

    /// Blocks of one group's inode table: ceil(s_inodes_per_group × s_inode_size / block size).
    pub fn inode_table_blocks(&self) -> u64 {
        (u64::from(self.s_inodes_per_group) * u64::from(self.s_inode_size))
            .div_ceil(u64::from(self.block_size_bytes()))
    }

    /// Block holding group `group`'s descriptor (primary copy), as
    /// e2fsprogs' `ext2fs_descriptor_block_loc2` finds it.
    pub fn desc_block(&self, group: u32) -> u64 {
        let dpb = u64::from(self.descs_per_block());
        let desc_block_index = u64::from(group) / dpb;
        if u64::from(group) < self.first_meta_bg_group() {
            self.superblock_block() + 1 + desc_block_index
        } else {
            // Meta group `desc_block_index` keeps its descriptors in the block
            // after its first group's superblock copy (if any).
            let first_group = desc_block_index * dpb;
            // first_group ≤ group, so it fits in u32.
            let first_group = u32::try_from(first_group).unwrap_or(group);
            let start = if first_group == 0 {
                self.superblock_block()
            } else {
                self.group_first_block(first_group)
            };
            start + u64::from(self.bg_has_super(first_group))
        }
    }

    /// Check the meta_bg geometry: s_first_meta_bg cannot exceed the number
    /// of descriptor blocks (the kernel refuses such a filesystem).
    pub(crate) fn validate_meta_bg(&self) -> Result<()> {
        if self.has_meta_bg() && u64::from(self.s_first_meta_bg) > self.gdt_blocks() {
            return Err(Error::corrupt(
                SUPERBLOCK_OFFSET + 0x104,
                format!(
                    "s_first_meta_bg {} exceeds the {} group descriptor blocks",
                    self.s_first_meta_bg,
                    self.gdt_blocks()
                ),
            ));
        }
        Ok(())
    }
}

impl<'a> Layout<'a> {
    /// Byte offset in the volume of group `group`'s descriptor.
    fn desc_offset_bytes(&self, group: u32) -> Result<u64> {
        let sb = self.superblock();
        if group >= sb.group_count() {
            return Err(Error::invalid(format!(
                "block group {group} does not exist (the filesystem has {})",
                sb.group_count()
            )));
        }
        let block = sb.desc_block(group);
        if block >= sb.s_blocks_count {
            return Err(Error::corrupt(
                SUPERBLOCK_OFFSET,
                format!(
                    "descriptor block {block} of group {group} is past the end of the filesystem ({} blocks)",
                    sb.s_blocks_count
                ),
            ));
        }
        let index = u64::from(group % sb.descs_per_block());
        Ok(block * u64::from(sb.block_size_bytes()) + index * u64::from(sb.desc_size_bytes()))
    }

    /// The raw bytes of group `group`'s descriptor (`desc_size_bytes()` long).
    pub fn group_desc_bytes(&self, group: u32) -> Result<&'a [u8]> {
        let offset = self.desc_offset_bytes(group)?;
        self.bytes_at(
            offset,
            u64::from(self.superblock().desc_size_bytes()),
            "group descriptor",
        )
    }

    /// Parse group `group`'s descriptor.
    pub fn group_desc(&self, group: u32) -> Result<GroupDesc> {
        let sb = self.superblock();
        let offset_bytes = self.desc_offset_bytes(group)?;
        let raw = self.group_desc_bytes(group)?;
        let rd16 = |off: usize| {
            le_u16(raw, off).ok_or_else(|| {
                Error::corrupt(offset_bytes + off as u64, "group descriptor truncated")
            })
        };
        let rd32 = |off: usize| {
            le_u32(raw, off).ok_or_else(|| {
                Error::corrupt(offset_bytes + off as u64, "group descriptor truncated")
            })
        };
        // The _hi halves exist only in 64-byte (64bit) descriptors.
        let wide = sb.desc_size_bytes() >= 64;
        let hi16 = |off: usize| -> Result<u32> {
            if wide {
                Ok(u32::from(rd16(off)?))
            } else {
                Ok(0)
            }
        };
        let hi32 = |off: usize| -> Result<u64> {
            if wide {
                Ok(u64::from(rd32(off)?))
            } else {
                Ok(0)
            }
        };
        let desc = GroupDesc {
            group,
            offset_bytes,
            bg_block_bitmap: u64::from(rd32(0x0)?) | (hi32(0x20)? << 32),
            bg_inode_bitmap: u64::from(rd32(0x4)?) | (hi32(0x24)? << 32),
            bg_inode_table: u64::from(rd32(0x8)?) | (hi32(0x28)? << 32),
            bg_free_blocks_count: u32::from(rd16(0xC)?) | (hi16(0x2C)? << 16),
            bg_free_inodes_count: u32::from(rd16(0xE)?) | (hi16(0x2E)? << 16),
            bg_used_dirs_count: u32::from(rd16(0x10)?) | (hi16(0x30)? << 16),
            bg_flags: GroupFlags(rd16(0x12)?),
            bg_exclude_bitmap: u64::from(rd32(0x14)?) | (hi32(0x34)? << 32),
            bg_block_bitmap_csum: u32::from(rd16(0x18)?) | (hi16(0x38)? << 16),
            bg_inode_bitmap_csum: u32::from(rd16(0x1A)?) | (hi16(0x3A)? << 16),
            bg_itable_unused: u32::from(rd16(0x1C)?) | (hi16(0x32)? << 16),
            bg_checksum: rd16(csum::BG_CHECKSUM_OFFSET)?,
        };
        Ok(desc)
    }

    /// The group descriptor checksum of group `group`, stored and computed;
    /// `None` when the filesystem has neither gdt_csum nor metadata_csum.
    pub fn group_desc_checksum(&self, group: u32) -> Result<Option<Checksum>> {
        let raw = self.group_desc_bytes(group)?;
        let kind = self.superblock().group_desc_csum_kind();
        let Some(computed) = csum::group_desc_checksum(kind, group, raw) else {
            return Ok(None);
        };
        let stored = le_u16(raw, csum::BG_CHECKSUM_OFFSET).unwrap_or(0);
        Ok(Some(Checksum {
            stored: u32::from(stored),
            computed: u32::from(computed),
        }))
    }

    /// Whether group `group`'s UNINIT flags may be trusted: they only have
    /// meaning with group descriptor checksums, and e2fsprogs ignores them
    /// when the descriptor's checksum is wrong.
    pub(crate) fn uninit_flags_trusted(&self, group: u32) -> Result<bool> {
        if !self.superblock().has_group_desc_csum() {
            return Ok(false);
        }
        Ok(self
            .group_desc_checksum(group)?
            .is_none_or(|c| c.is_valid()))
    }
}

#[cfg(test)]
mod tests {
    use super::is_power_of;

    #[test]
    fn sparse_super_groups_are_powers_of_3_5_7() {
        let backups: Vec<u32> = (2..400)
            .filter(|&g| {
                g & 1 == 1 && (is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7))
            })
            .collect();
        assert_eq!(backups, vec![3, 5, 7, 9, 25, 27, 49, 81, 125, 243, 343]);
    }
}
