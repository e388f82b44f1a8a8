//! Metadata edits of one ext2/3/4 filesystem, made on copies of its blocks.
//!
//! [`MetaEdits`] is an overlay over a [`Layout`]: the first change to a
//! block copies it, later reads of that block see the copy, and
//! [`MetaEdits::finish`] settles what the changes imply — free counts in
//! the group descriptors and the superblock, and every checksum that covers
//! a changed byte (inode, directory leaf tail, block and inode bitmaps,
//! group descriptor, superblock) — before handing the changed blocks back
//! as patches. Nothing is written here; the input stays untouched.
//!
//! Field offsets are those of kernel Documentation/filesystems/ext4
//! (super.rst, group_descr.rst, inodes.rst); checksums are computed by
//! [`csum`](crate::ext4::layout::csum).

use std::collections::{BTreeMap, BTreeSet};

use crate::ext4::layout::csum;
use crate::ext4::layout::{BlockRange, Layout, SUPERBLOCK_OFFSET};
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// `struct ext4_super_block` fields updated here.
const S_FREE_BLOCKS_COUNT_LO: usize = 0xC;
const S_FREE_INODES_COUNT: usize = 0x10;
const S_FREE_BLOCKS_COUNT_HI: usize = 0x158;
const SUPERBLOCK_LEN: u64 = 1024;

/// `struct ext4_group_desc` fields updated here; the `_hi` halves exist in
/// descriptors of 64 bytes (64bit), the bitmap checksum `_hi` halves when
/// the descriptor reaches their end (EXT4_BG_*_BITMAP_CSUM_HI_END).
const BG_FREE_BLOCKS_COUNT_LO: usize = 0xC;
const BG_FREE_INODES_COUNT_LO: usize = 0xE;
const BG_BLOCK_BITMAP_CSUM_LO: usize = 0x18;
const BG_INODE_BITMAP_CSUM_LO: usize = 0x1A;
const BG_FREE_BLOCKS_COUNT_HI: usize = 0x2C;
const BG_FREE_INODES_COUNT_HI: usize = 0x2E;
const BG_BLOCK_BITMAP_CSUM_HI: usize = 0x38;
const BG_INODE_BITMAP_CSUM_HI: usize = 0x3A;
/// EXT4_MIN_DESC_SIZE_64BIT.
const MIN_DESC_SIZE_64BIT: u32 = 64;

/// Changes to one group's counters and bitmaps.
#[derive(Debug, Default, Clone, Copy)]
struct GroupDelta {
    freed_clusters: u32,
    freed_inodes: u32,
    block_bitmap: bool,
    inode_bitmap: bool,
}

/// A changed region of the filesystem, ready to be written: `bytes` at
/// volume offset `volume_offset_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Patch {
    pub(super) volume_offset_bytes: u64,
    pub(super) bytes: Vec<u8>,
}

/// What [`MetaEdits::finish`] hands back.
#[derive(Debug, Default)]
pub(super) struct Finished {
    /// Changed blocks, ascending.
    pub(super) patches: Vec<Patch>,
    /// Blocks freed by the edits, ascending and merged: their old content
    /// must be zeroed (they held the deleted data).
    pub(super) freed: Vec<BlockRange>,
}

/// The overlay. See the module documentation. Cloning it is how a caller
/// takes a checkpoint to roll back to (the copies are a few blocks).
#[derive(Clone)]
pub(super) struct MetaEdits<'l, 'a> {
    layout: &'l Layout<'a>,
    block_size: u64,
    blocks: BTreeMap<u64, Vec<u8>>,
    /// Inodes whose record changed: their checksum is recomputed.
    inodes: BTreeSet<u32>,
    /// Directory leaf blocks that changed, with the directory's inode number
    /// and generation (the seed of the block's checksum).
    dir_blocks: BTreeMap<u64, (u32, u32)>,
    groups: BTreeMap<u32, GroupDelta>,
    freed: Vec<BlockRange>,
}

impl std::fmt::Debug for MetaEdits<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaEdits")
            .field("changed_blocks", &self.blocks.len())
            .field("inodes", &self.inodes)
            .finish_non_exhaustive()
    }
}

impl<'l, 'a> MetaEdits<'l, 'a> {
    pub(super) fn new(layout: &'l Layout<'a>) -> Self {
        MetaEdits {
            layout,
            block_size: u64::from(layout.superblock().block_size_bytes()),
            blocks: BTreeMap::new(),
            inodes: BTreeSet::new(),
            dir_blocks: BTreeMap::new(),
            groups: BTreeMap::new(),
            freed: Vec::new(),
        }
    }

    pub(super) fn layout(&self) -> &'l Layout<'a> {
        self.layout
    }

    pub(super) fn block_size(&self) -> u64 {
        self.block_size
    }

    /// Blocks freed so far.
    pub(super) fn freed_blocks(&self) -> u64 {
        self.freed.iter().map(|r| r.len_blocks).sum()
    }

    /// Block `block` as the edits so far leave it.
    pub(super) fn block(&self, block: u64) -> Result<&[u8]> {
        match self.blocks.get(&block) {
            Some(copy) => Ok(copy),
            None => self.layout.block(block),
        }
    }

    /// A writable copy of block `block`.
    pub(super) fn block_mut(&mut self, block: u64) -> Result<&mut [u8]> {
        if !self.blocks.contains_key(&block) {
            let original = self.layout.block(block)?.to_vec();
            self.blocks.insert(block, original);
        }
        self.blocks
            .get_mut(&block)
            .map(Vec::as_mut_slice)
            .ok_or_else(|| Error::corrupt(block * self.block_size, "block copy vanished"))
    }

    /// `len` writable bytes at volume offset `offset`, which must not cross
    /// a block boundary (inode records, descriptors and the superblock never
    /// do).
    pub(super) fn region_mut(&mut self, offset: u64, len: u64, what: &str) -> Result<&mut [u8]> {
        let block = offset / self.block_size;
        let within = offset % self.block_size;
        let end = within
            .checked_add(len)
            .filter(|&end| end <= self.block_size)
            .ok_or_else(|| {
                Error::corrupt(
                    offset,
                    format!("{what} of {len} bytes at {offset} crosses a block boundary"),
                )
            })?;
        let bytes = self.block_mut(block)?;
        bytes
            .get_mut(within as usize..end as usize)
            .ok_or_else(|| Error::corrupt(offset, format!("{what} is outside its block")))
    }

    /// The record of inode `ino`, writable; its checksum is recomputed in
    /// [`MetaEdits::finish`].
    pub(super) fn inode_mut(&mut self, ino: u32) -> Result<&mut [u8]> {
        let offset = self.layout.inode_offset_bytes(ino)?;
        let len = u64::from(self.layout.superblock().s_inode_size);
        self.inodes.insert(ino);
        self.region_mut(offset, len, "inode record")
    }

    /// Note that directory leaf block `block` of directory `dir_ino`
    /// (generation `i_generation`) changed.
    pub(super) fn dir_block_changed(&mut self, block: u64, dir_ino: u32, i_generation: u32) {
        self.dir_blocks.insert(block, (dir_ino, i_generation));
    }

    /// Mark blocks `[first, first + len)` free in their groups' block
    /// bitmaps. Each must currently be in use: freeing a free block means
    /// the metadata is inconsistent, and the edit stops.
    pub(super) fn free_blocks(&mut self, first: u64, len: u64) -> Result<()> {
        let sb = self.layout.superblock();
        if sb.is_bigalloc() {
            return Err(Error::unsupported(
                "freeing blocks on a bigalloc filesystem (cluster accounting) is not implemented",
            ));
        }
        let end = first
            .checked_add(len)
            .filter(|&end| end <= sb.s_blocks_count && first >= u64::from(sb.s_first_data_block))
            .ok_or_else(|| {
                Error::corrupt(
                    first * self.block_size,
                    format!(
                        "blocks {first}+{len} are outside the filesystem ({} blocks)",
                        sb.s_blocks_count
                    ),
                )
            })?;
        let mut block = first;
        while block < end {
            let group = sb.block_group(block).ok_or_else(|| {
                Error::corrupt(block * self.block_size, "block belongs to no group")
            })?;
            let group_first = sb.group_first_block(group);
            let group_end = group_first + sb.group_len_blocks(group);
            let run_end = end.min(group_end);
            let desc = self.layout.group_desc(group)?;
            if desc.bg_flags.block_uninit() && sb.has_group_desc_csum() {
                return Err(Error::corrupt(
                    desc.offset_bytes,
                    format!(
                        "block {block} is in use but group {group} says its block bitmap is uninitialized"
                    ),
                ));
            }
            let bitmap_block = desc.bg_block_bitmap;
            self.check_bitmap_block(bitmap_block, group, desc.offset_bytes)?;
            let block_size = self.block_size;
            let bitmap = self.block_mut(bitmap_block)?;
            for b in block..run_end {
                let bit = (b - group_first) as usize;
                clear_bit(bitmap, bit).map_err(|was| {
                    Error::corrupt(
                        bitmap_block * block_size,
                        format!("block {b} should be in use, but its bitmap bit is {was}"),
                    )
                })?;
            }
            let delta = self.groups.entry(group).or_default();
            delta.freed_clusters = delta
                .freed_clusters
                .checked_add((run_end - block) as u32)
                .ok_or_else(|| Error::corrupt(desc.offset_bytes, "free count overflows"))?;
            delta.block_bitmap = true;
            self.freed.push(BlockRange {
                first_block: block,
                len_blocks: run_end - block,
            });
            block = run_end;
        }
        Ok(())
    }

    /// Mark inode `ino` free in its group's inode bitmap.
    pub(super) fn free_inode(&mut self, ino: u32) -> Result<()> {
        let sb = self.layout.superblock();
        if ino == 0 || ino > sb.s_inodes_count {
            return Err(Error::invalid(format!("inode {ino} does not exist")));
        }
        let group = (ino - 1) / sb.s_inodes_per_group;
        let index = ((ino - 1) % sb.s_inodes_per_group) as usize;
        let desc = self.layout.group_desc(group)?;
        if desc.bg_flags.inode_uninit() && sb.has_group_desc_csum() {
            return Err(Error::corrupt(
                desc.offset_bytes,
                format!(
                    "inode {ino} is in use but group {group} says its inode bitmap is uninitialized"
                ),
            ));
        }
        let bitmap_block = desc.bg_inode_bitmap;
        self.check_bitmap_block(bitmap_block, group, desc.offset_bytes)?;
        let block_size = self.block_size;
        let bitmap = self.block_mut(bitmap_block)?;
        clear_bit(bitmap, index).map_err(|was| {
            Error::corrupt(
                bitmap_block * block_size,
                format!("inode {ino} should be in use, but its bitmap bit is {was}"),
            )
        })?;
        let delta = self.groups.entry(group).or_default();
        delta.freed_inodes += 1;
        delta.inode_bitmap = true;
        Ok(())
    }

    fn check_bitmap_block(&self, block: u64, group: u32, desc_offset: u64) -> Result<()> {
        let sb = self.layout.superblock();
        if block < u64::from(sb.s_first_data_block) || block >= sb.s_blocks_count {
            return Err(Error::corrupt(
                desc_offset,
                format!("bitmap of group {group} at block {block} is outside the filesystem"),
            ));
        }
        Ok(())
    }

    /// Settle counters and checksums and return the changed blocks.
    pub(super) fn finish(mut self) -> Result<Finished> {
        let sb = self.layout.superblock().clone();
        let metadata_csum = sb.has_metadata_csum();
        let seed = sb.csum_seed();
        let desc_size = sb.desc_size_bytes();
        let wide = desc_size >= MIN_DESC_SIZE_64BIT;

        // Inode records.
        if metadata_csum {
            let inodes: Vec<u32> = self.inodes.iter().copied().collect();
            for ino in inodes {
                let raw = self.inode_mut(ino)?;
                csum::set_inode_checksum(seed, ino, raw).ok_or_else(|| {
                    Error::corrupt(0, format!("inode {ino}: record too short for its checksum"))
                })?;
            }
            // Directory leaf blocks with a checksum tail.
            let dir_blocks: Vec<(u64, (u32, u32))> =
                self.dir_blocks.iter().map(|(b, v)| (*b, *v)).collect();
            for (block, (dir_ino, generation)) in dir_blocks {
                let bytes = self.block_mut(block)?;
                if csum::has_dir_tail(bytes) {
                    csum::set_dir_block_checksum(seed, dir_ino, generation, bytes);
                }
            }
        }

        // Group descriptors: free counts, bitmap checksums, own checksum.
        let mut sb_freed_blocks = 0u64;
        let mut sb_freed_inodes = 0u64;
        let groups: Vec<(u32, GroupDelta)> = self.groups.iter().map(|(g, d)| (*g, *d)).collect();
        for (group, delta) in groups {
            let desc = self.layout.group_desc(group)?;
            let block_bitmap_csum = if metadata_csum && delta.block_bitmap {
                let covered = (sb.clusters_per_group() / 8) as usize;
                let bitmap = self.block(desc.bg_block_bitmap)?;
                Some(csum::bitmap_checksum(
                    seed,
                    bitmap.get(..covered).unwrap_or(bitmap),
                ))
            } else {
                None
            };
            let inode_bitmap_csum = if metadata_csum && delta.inode_bitmap {
                let covered = (sb.s_inodes_per_group / 8) as usize;
                let bitmap = self.block(desc.bg_inode_bitmap)?;
                Some(csum::bitmap_checksum(
                    seed,
                    bitmap.get(..covered).unwrap_or(bitmap),
                ))
            } else {
                None
            };
            let kind = sb.group_desc_csum_kind();
            let clusters_per_group = sb.clusters_per_group();
            let inodes_per_group = sb.s_inodes_per_group;
            let raw =
                self.region_mut(desc.offset_bytes, u64::from(desc_size), "group descriptor")?;
            let corrupt = |what: String| Error::corrupt(desc.offset_bytes, what);
            let free_blocks =
                read_split(raw, BG_FREE_BLOCKS_COUNT_LO, BG_FREE_BLOCKS_COUNT_HI, wide)
                    .ok_or_else(|| corrupt("group descriptor truncated".into()))?;
            let new_free_blocks = free_blocks
                .checked_add(delta.freed_clusters)
                .filter(|&n| n <= clusters_per_group)
                .ok_or_else(|| {
                    corrupt(format!(
                        "group {group}: {free_blocks} free blocks + {} freed exceeds the {clusters_per_group} in the group",
                        delta.freed_clusters
                    ))
                })?;
            write_split(
                raw,
                BG_FREE_BLOCKS_COUNT_LO,
                BG_FREE_BLOCKS_COUNT_HI,
                wide,
                new_free_blocks,
            );
            let free_inodes =
                read_split(raw, BG_FREE_INODES_COUNT_LO, BG_FREE_INODES_COUNT_HI, wide)
                    .ok_or_else(|| corrupt("group descriptor truncated".into()))?;
            let new_free_inodes = free_inodes
                .checked_add(delta.freed_inodes)
                .filter(|&n| n <= inodes_per_group)
                .ok_or_else(|| {
                    corrupt(format!(
                        "group {group}: {free_inodes} free inodes + {} freed exceeds the {inodes_per_group} in the group",
                        delta.freed_inodes
                    ))
                })?;
            write_split(
                raw,
                BG_FREE_INODES_COUNT_LO,
                BG_FREE_INODES_COUNT_HI,
                wide,
                new_free_inodes,
            );
            if let Some(c) = block_bitmap_csum {
                write_csum(
                    raw,
                    BG_BLOCK_BITMAP_CSUM_LO,
                    BG_BLOCK_BITMAP_CSUM_HI,
                    desc_size,
                    c,
                );
            }
            if let Some(c) = inode_bitmap_csum {
                write_csum(
                    raw,
                    BG_INODE_BITMAP_CSUM_LO,
                    BG_INODE_BITMAP_CSUM_HI,
                    desc_size,
                    c,
                );
            }
            // `None` means the filesystem has no descriptor checksums.
            let _ = csum::set_group_desc_checksum(kind, group, raw);
            sb_freed_blocks += u64::from(delta.freed_clusters);
            sb_freed_inodes += u64::from(delta.freed_inodes);
        }

        // Superblock totals and checksum.
        if sb_freed_blocks > 0 || sb_freed_inodes > 0 {
            let is_64bit = sb.is_64bit();
            let raw = self.region_mut(SUPERBLOCK_OFFSET, SUPERBLOCK_LEN, "superblock")?;
            let corrupt = || Error::corrupt(SUPERBLOCK_OFFSET, "superblock truncated");
            let lo = u64::from(le_u32(raw, S_FREE_BLOCKS_COUNT_LO).ok_or_else(corrupt)?);
            let hi = if is_64bit {
                u64::from(le_u32(raw, S_FREE_BLOCKS_COUNT_HI).ok_or_else(corrupt)?)
            } else {
                0
            };
            let free_blocks = (lo | (hi << 32)).saturating_add(sb_freed_blocks);
            put_u32(raw, S_FREE_BLOCKS_COUNT_LO, free_blocks as u32);
            if is_64bit {
                put_u32(raw, S_FREE_BLOCKS_COUNT_HI, (free_blocks >> 32) as u32);
            }
            let free_inodes = u64::from(le_u32(raw, S_FREE_INODES_COUNT).ok_or_else(corrupt)?)
                .saturating_add(sb_freed_inodes);
            put_u32(
                raw,
                S_FREE_INODES_COUNT,
                u32::try_from(free_inodes).unwrap_or(u32::MAX),
            );
            if metadata_csum {
                csum::set_superblock_checksum(raw).ok_or_else(corrupt)?;
            }
        }

        let block_size = self.block_size;
        let patches = std::mem::take(&mut self.blocks)
            .into_iter()
            .map(|(block, bytes)| Patch {
                volume_offset_bytes: block * block_size,
                bytes,
            })
            .collect();
        let mut freed = std::mem::take(&mut self.freed);
        freed.sort_unstable();
        let mut merged: Vec<BlockRange> = Vec::with_capacity(freed.len());
        for r in freed {
            match merged.last_mut() {
                Some(last) if last.end_block() == r.first_block => last.len_blocks += r.len_blocks,
                _ => merged.push(r),
            }
        }
        Ok(Finished {
            patches,
            freed: merged,
        })
    }
}

/// Clear bit `bit` of `bitmap`; `Err(0)` when it was already clear (or out
/// of range, reported the same way: the caller's block is not in use).
fn clear_bit(bitmap: &mut [u8], bit: usize) -> std::result::Result<(), u8> {
    let byte = bitmap.get_mut(bit / 8).ok_or(0u8)?;
    let mask = 1u8 << (bit % 8);
    if *byte & mask == 0 {
        return Err(0);
    }
    *byte &= !mask;
    Ok(())
}

/// A count stored as a 16-bit `lo` and, in wide descriptors, a 16-bit `hi`.
fn read_split(raw: &[u8], lo: usize, hi: usize, wide: bool) -> Option<u32> {
    let lo = u32::from(le_u16(raw, lo)?);
    let hi = if wide { u32::from(le_u16(raw, hi)?) } else { 0 };
    Some(lo | (hi << 16))
}

fn write_split(raw: &mut [u8], lo: usize, hi: usize, wide: bool, value: u32) {
    put_u16(raw, lo, value as u16);
    if wide {
        put_u16(raw, hi, (value >> 16) as u16);
    }
}

/// A bitmap checksum: the low 16 bits always, the high 16 bits when the
/// descriptor is long enough to hold them.
fn write_csum(raw: &mut [u8], lo: usize, hi: usize, desc_size: u32, value: u32) {
    put_u16(raw, lo, value as u16);
    if desc_size as usize >= hi + 2 {
        put_u16(raw, hi, (value >> 16) as u16);
    }
}

pub(super) fn put_u16(raw: &mut [u8], off: usize, value: u16) {
    if let Some(dst) = raw.get_mut(off..off + 2) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

pub(super) fn put_u32(raw: &mut [u8], off: usize, value: u32) {
    if let Some(dst) = raw.get_mut(off..off + 4) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_bit_refuses_a_clear_bit() {
        let mut bitmap = [0b0000_0101u8, 0xFF];
        assert_eq!(clear_bit(&mut bitmap, 0), Ok(()));
        assert_eq!(bitmap[0], 0b0000_0100);
        assert_eq!(clear_bit(&mut bitmap, 0), Err(0));
        assert_eq!(clear_bit(&mut bitmap, 1), Err(0));
        assert_eq!(clear_bit(&mut bitmap, 15), Ok(()));
        assert_eq!(bitmap[1], 0x7F);
        assert_eq!(clear_bit(&mut bitmap, 16), Err(0));
    }

    #[test]
    fn split_counts_use_hi_only_in_wide_descriptors() {
        let mut raw = vec![0u8; 64];
        write_split(&mut raw, 0xC, 0x2C, true, 0x0001_0002);
        assert_eq!(read_split(&raw, 0xC, 0x2C, true), Some(0x0001_0002));
        assert_eq!(read_split(&raw, 0xC, 0x2C, false), Some(2));
        let mut narrow = vec![0u8; 32];
        write_split(&mut narrow, 0xC, 0x2C, false, 7);
        assert_eq!(read_split(&narrow, 0xC, 0x2C, false), Some(7));
        write_csum(&mut raw, 0x18, 0x38, 32, 0xAAAA_BBBB);
        assert_eq!(le_u16(&raw, 0x38), Some(0));
        write_csum(&mut raw, 0x18, 0x38, 64, 0xAAAA_BBBB);
        assert_eq!(le_u16(&raw, 0x18), Some(0xBBBB));
        assert_eq!(le_u16(&raw, 0x38), Some(0xAAAA));
    }
}
