//! Block and inode bitmaps (kernel Documentation/filesystems/ext4/
//! bitmaps.rst): one bit per cluster (per block without bigalloc) or per
//! inode of a group, 1 = in use.
//!
//! A group flagged BLOCK_UNINIT has no block bitmap on disk: its blocks are
//! free except the group's own base metadata (superblock copy, descriptor
//! table or meta_bg descriptor block, reserved GDT blocks). On top of what
//! the kernel's `ext4_init_block_bitmap` marks, every block bitmap, inode
//! bitmap and inode table *of any group* that lies inside such a group is
//! counted as used too: with flex_bg they live in other groups' ranges, and
//! counting them keeps "free" from ever including metadata even if a tool
//! left a BLOCK_UNINIT flag on a group that hosts them.

use std::sync::OnceLock;

use super::Layout;
use super::csum::{self, Checksum};
use crate::{Error, Result};

/// A run of blocks `[first_block, first_block + len_blocks)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlockRange {
    pub first_block: u64,
    pub len_blocks: u64,
}

impl BlockRange {
    /// One past the last block (saturating: ranges built from corrupt
    /// descriptors may point anywhere).
    pub fn end_block(&self) -> u64 {
        self.first_block.saturating_add(self.len_blocks)
    }

    /// Byte offset and length of the range in the volume.
    pub fn byte_range(&self, block_size_bytes: u32) -> (u64, u64) {
        let block_size = u64::from(block_size_bytes);
        (
            self.first_block.saturating_mul(block_size),
            self.len_blocks.saturating_mul(block_size),
        )
    }
}

/// Index of the first bit at or after `from` (below `nbits`) whose value is
/// `set`, or `nbits`. Whole 64-bit words that cannot match are skipped.
fn next_bit(bitmap: &[u8], from: usize, nbits: usize, set: bool) -> usize {
    let mut bit = from;
    while bit < nbits {
        // Byte-align first, then go a word at a time.
        if bit.is_multiple_of(64) && bit + 64 <= nbits {
            let word = bitmap
                .get(bit / 8..bit / 8 + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes);
            let word = if set { word } else { !word };
            if word == 0 {
                bit += 64;
                continue;
            }
            return bit + word.trailing_zeros() as usize;
        }
        let byte = bitmap.get(bit / 8).copied().unwrap_or(0);
        if (byte >> (bit % 8)) & 1 == u8::from(set) {
            return bit;
        }
        bit += 1;
    }
    nbits
}

/// Call `emit(start, len)` for every run of clear bits among the first
/// `nbits` bits of `bitmap`.
fn clear_runs(bitmap: &[u8], nbits: usize, mut emit: impl FnMut(usize, usize)) {
    let mut pos = 0;
    while pos < nbits {
        let start = next_bit(bitmap, pos, nbits, false);
        if start >= nbits {
            break;
        }
        let end = next_bit(bitmap, start, nbits, true);
        emit(start, end - start);
        pos = end;
    }
}

/// Sorted, merged block ranges of every group's bitmaps and inode table,
/// built once when a BLOCK_UNINIT group needs it (`OnceLock` keeps
/// `Layout` `Sync`, so one can be shared by scanner threads).
#[derive(Debug, Default)]
pub(crate) struct MetadataRanges {
    ranges: OnceLock<Vec<BlockRange>>,
}

impl Layout<'_> {
    fn metadata_ranges(&self) -> Result<&[BlockRange]> {
        if let Some(ranges) = self.metadata_ranges.ranges.get() {
            return Ok(ranges);
        }
        let sb = self.superblock();
        let table_blocks = sb.inode_table_blocks();
        // Not `group_count × 3` up front: s_blocks_count may claim 2^32
        // groups (an allocation of hundreds of GiB). The loop stops at the
        // first descriptor past the end of the volume, so its length is
        // bounded by the volume's size.
        let mut ranges = Vec::new();
        for group in 0..sb.group_count() {
            let desc = self.group_desc(group)?;
            ranges.push(BlockRange {
                first_block: desc.bg_block_bitmap,
                len_blocks: 1,
            });
            ranges.push(BlockRange {
                first_block: desc.bg_inode_bitmap,
                len_blocks: 1,
            });
            ranges.push(BlockRange {
                first_block: desc.bg_inode_table,
                len_blocks: table_blocks,
            });
        }
        ranges.sort_unstable();
        let mut merged: Vec<BlockRange> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.first_block <= last.end_block() => {
                    let end = last
                        .end_block()
                        .max(range.first_block.saturating_add(range.len_blocks));
                    last.len_blocks = end - last.first_block;
                }
                _ => merged.push(range),
            }
        }
        Ok(self.metadata_ranges.ranges.get_or_init(|| merged))
    }

    /// Free block ranges according to the block bitmaps, ascending and
    /// merged across group boundaries. Only blocks below `s_blocks_count`;
    /// with bigalloc a free cluster gives its whole run of blocks.
    pub fn free_block_ranges(&self) -> Result<Vec<BlockRange>> {
        let mut out: Vec<BlockRange> = Vec::new();
        let mut push = |first_block: u64, len_blocks: u64| {
            if len_blocks == 0 {
                return;
            }
            if let Some(last) = out.last_mut() {
                if last.end_block() == first_block {
                    last.len_blocks += len_blocks;
                    return;
                }
            }
            out.push(BlockRange {
                first_block,
                len_blocks,
            });
        };
        for group in 0..self.superblock().group_count() {
            self.group_free_ranges(group, &mut push)?;
        }
        Ok(out)
    }

    /// Free block ranges of one group, in ascending order, through `emit`.
    fn group_free_ranges(&self, group: u32, emit: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let sb = self.superblock();
        let desc = self.group_desc(group)?;
        let first = sb.group_first_block(group);
        let end = first + sb.group_len_blocks(group);
        let ratio = sb.cluster_ratio();
        let clusters = (end - first).div_ceil(ratio) as usize;
        // Clusters past the end of a short last group do not exist.
        let mut emit_clusters = |start: usize, len: usize| {
            let run_first = first + start as u64 * ratio;
            let run_end = (run_first + len as u64 * ratio).min(end);
            if run_first < run_end {
                emit(run_first, run_end - run_first);
            }
        };

        if desc.bg_flags.block_uninit() && self.uninit_flags_trusted(group)? {
            // No bitmap on disk: everything but the metadata is free.
            let mut used: Vec<(u64, u64)> = Vec::new();
            let (meta_first, meta_end) = sb.base_meta_range(group);
            used.push((meta_first, meta_end.min(end)));
            for range in self.metadata_ranges()? {
                if range.end_block() > first && range.first_block < end {
                    used.push((range.first_block.max(first), range.end_block().min(end)));
                }
            }
            used.sort_unstable();
            // Walk the gaps between used runs, in clusters.
            let mut next_free_cluster = 0usize;
            for (used_first, used_end) in used {
                let used_first_cluster = ((used_first - first) / ratio) as usize;
                let used_end_cluster = (used_end - first).div_ceil(ratio) as usize;
                if used_first_cluster > next_free_cluster {
                    emit_clusters(next_free_cluster, used_first_cluster - next_free_cluster);
                }
                next_free_cluster = next_free_cluster.max(used_end_cluster);
            }
            if clusters > next_free_cluster {
                emit_clusters(next_free_cluster, clusters - next_free_cluster);
            }
            return Ok(());
        }

        let bitmap = self.block_bitmap_bytes(group, desc.bg_block_bitmap, desc.offset_bytes)?;
        clear_runs(bitmap, clusters, emit_clusters);
        Ok(())
    }

    /// The bitmap block at `block` of `group`, checked to be in range.
    fn block_bitmap_bytes(&self, group: u32, block: u64, desc_offset: u64) -> Result<&[u8]> {
        let sb = self.superblock();
        if block < u64::from(sb.s_first_data_block) || block >= sb.s_blocks_count {
            return Err(Error::corrupt(
                desc_offset,
                format!(
                    "bitmap of group {group} at block {block} is outside the filesystem (blocks {}..{})",
                    sb.s_first_data_block, sb.s_blocks_count
                ),
            ));
        }
        self.block(block)
    }

    /// Whether block `block` is in use according to the block bitmaps
    /// (blocks outside every group — block 0 of a 1 KiB filesystem — count
    /// as used).
    pub fn is_block_allocated(&self, block: u64) -> Result<bool> {
        let sb = self.superblock();
        let Some(group) = sb.block_group(block) else {
            if block >= sb.s_blocks_count {
                return Err(Error::invalid(format!(
                    "block {block} is past the end of the filesystem ({} blocks)",
                    sb.s_blocks_count
                )));
            }
            return Ok(true);
        };
        let mut free = false;
        self.group_free_ranges(group, &mut |first, len| {
            if (first..first + len).contains(&block) {
                free = true;
            }
        })?;
        Ok(!free)
    }

    /// Whether inode `ino` is in use according to its group's inode bitmap
    /// (always false in an INODE_UNINIT group).
    pub fn is_inode_allocated(&self, ino: u32) -> Result<bool> {
        let sb = self.superblock();
        if ino == 0 || ino > sb.s_inodes_count {
            return Err(Error::invalid(format!(
                "inode {ino} does not exist (valid: 1..={})",
                sb.s_inodes_count
            )));
        }
        let group = (ino - 1) / sb.s_inodes_per_group;
        let index = ((ino - 1) % sb.s_inodes_per_group) as usize;
        let desc = self.group_desc(group)?;
        if desc.bg_flags.inode_uninit() && self.uninit_flags_trusted(group)? {
            return Ok(false);
        }
        let bitmap = self.block_bitmap_bytes(group, desc.bg_inode_bitmap, desc.offset_bytes)?;
        let byte = bitmap.get(index / 8).copied().unwrap_or(0);
        Ok((byte >> (index % 8)) & 1 == 1)
    }

    /// Block bitmap checksum of `group`, stored (in the descriptor) and
    /// computed; `None` without metadata_csum or for a BLOCK_UNINIT group.
    pub fn block_bitmap_checksum(&self, group: u32) -> Result<Option<Checksum>> {
        let sb = self.superblock();
        let desc = self.group_desc(group)?;
        if !sb.has_metadata_csum() || desc.bg_flags.block_uninit() {
            return Ok(None);
        }
        let bitmap = self.block_bitmap_bytes(group, desc.bg_block_bitmap, desc.offset_bytes)?;
        let covered = bitmap
            .get(..sb.clusters_per_group() as usize / 8)
            .unwrap_or(bitmap);
        Ok(Some(self.bitmap_checksum(
            csum::bitmap_checksum(sb.csum_seed(), covered),
            desc.bg_block_bitmap_csum,
        )))
    }

    /// Inode bitmap checksum of `group`; `None` without metadata_csum or for
    /// an INODE_UNINIT group.
    pub fn inode_bitmap_checksum(&self, group: u32) -> Result<Option<Checksum>> {
        let sb = self.superblock();
        let desc = self.group_desc(group)?;
        if !sb.has_metadata_csum() || desc.bg_flags.inode_uninit() {
            return Ok(None);
        }
        let bitmap = self.block_bitmap_bytes(group, desc.bg_inode_bitmap, desc.offset_bytes)?;
        let covered = bitmap
            .get(..sb.s_inodes_per_group as usize / 8)
            .unwrap_or(bitmap);
        Ok(Some(self.bitmap_checksum(
            csum::bitmap_checksum(sb.csum_seed(), covered),
            desc.bg_inode_bitmap_csum,
        )))
    }

    /// Compare a bitmap checksum with the stored one: only the low 16 bits
    /// are stored in 32-byte descriptors.
    fn bitmap_checksum(&self, computed: u32, stored: u32) -> Checksum {
        let mask = if self.superblock().desc_size_bytes() >= 64 {
            u32::MAX
        } else {
            0xFFFF
        };
        Checksum {
            stored: stored & mask,
            computed: computed & mask,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(bitmap: &[u8], nbits: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        clear_runs(bitmap, nbits, |s, l| out.push((s, l)));
        out
    }

    #[test]
    fn clear_runs_cross_word_boundaries() {
        let mut bitmap = vec![0xFFu8; 32];
        // Clear bits 60..70 (across the first word boundary) and 200..256.
        for bit in (60..70).chain(200..256) {
            bitmap[bit / 8] &= !(1 << (bit % 8));
        }
        assert_eq!(runs(&bitmap, 256), vec![(60, 10), (200, 56)]);
        // A shorter bitmap stops at nbits, even inside a clear run.
        assert_eq!(runs(&bitmap, 210), vec![(60, 10), (200, 10)]);
        assert_eq!(runs(&[0u8; 16], 100), vec![(0, 100)]);
        assert_eq!(runs(&[0xFFu8; 16], 128), vec![]);
    }
}
