//! ext2/3 block maps (kernel Documentation/filesystems/ext4/blockmap.rst):
//! `i_block[0..12]` point at data blocks, `i_block[12]` at a block of
//! pointers, `i_block[13]` at a block of pointers to such blocks and
//! `i_block[14]` one level deeper. A zero pointer is a hole.

use super::Layout;
use super::map::{Extent, MapWalk};
use crate::Result;
use crate::util::le_u32;

/// Direct pointers in `i_block` (EXT4_NDIR_BLOCKS).
const NDIR_BLOCKS: u64 = 12;
/// Offset of `i_block` in the inode record.
const I_BLOCK_OFFSET: u64 = 0x28;

/// Block size and pointers per block; a pointer at `level` covers
/// `per_block^(level-1)` logical blocks.
struct Geometry {
    block_size: u64,
    per_block: u64,
}

impl Geometry {
    /// Logical blocks covered by one pointer at `level` (1 = data pointer).
    fn span(&self, level: u32) -> u64 {
        self.per_block.saturating_pow(level - 1)
    }
}

impl Layout<'_> {
    /// Walk an indirect block map, all of it: indirect blocks past the end
    /// of the file (left by a truncate, e2fsck accepts them) must be found
    /// too, or an unlink would leak them. The walk stays bounded: every
    /// indirect block is read once (a second reference is an error) and the
    /// blocks found may not exceed `i_blocks` (see `MapWalk`).
    pub(crate) fn walk_block_map(&self, walk: &mut MapWalk<'_>) -> Result<()> {
        let block_size = u64::from(self.superblock().block_size_bytes());
        let geometry = Geometry {
            block_size,
            per_block: block_size / 4,
        };
        let i_block = walk.inode.i_block;
        let i_block_at = walk.inode.offset_bytes + I_BLOCK_OFFSET;
        let pointer = |index: usize| u64::from(le_u32(&i_block, index * 4).unwrap_or(0));

        for index in 0..NDIR_BLOCKS {
            let block = pointer(index as usize);
            self.map_pointer(walk, &geometry, block, 1, index, i_block_at + index * 4)?;
        }
        // Single, double and triple indirect trees follow one another in
        // logical block space.
        let mut base = NDIR_BLOCKS;
        for level in 1..=3u32 {
            let slot = NDIR_BLOCKS + u64::from(level) - 1;
            let block = pointer(slot as usize);
            self.map_pointer(
                walk,
                &geometry,
                block,
                level + 1,
                base,
                i_block_at + slot * 4,
            )?;
            base = base.saturating_add(geometry.span(level + 1));
        }
        Ok(())
    }

    /// Follow one pointer: at `level` 1 it is a data block for logical
    /// block `base`; above, a block of pointers covering `base..`.
    fn map_pointer(
        &self,
        walk: &mut MapWalk<'_>,
        geometry: &Geometry,
        block: u64,
        level: u32,
        base: u64,
        referenced_at: u64,
    ) -> Result<()> {
        if block == 0 {
            return Ok(());
        }
        if level == 1 {
            self.check_block_range(block, 1, referenced_at, "data block")?;
            return walk.data(
                Extent {
                    logical_block: base,
                    physical_block: block,
                    len_blocks: 1,
                    uninit: false,
                },
                referenced_at,
            );
        }
        self.check_block_range(block, 1, referenced_at, "indirect block")?;
        walk.metadata_block(block, referenced_at)?;
        let pointers = self.block(block)?;
        let block_at = block * geometry.block_size;
        let child_span = geometry.span(level - 1);
        for index in 0..geometry.per_block {
            let child_base = base.saturating_add(index.saturating_mul(child_span));
            let child = u64::from(le_u32(pointers, (index * 4) as usize).unwrap_or(0));
            self.map_pointer(
                walk,
                geometry,
                child,
                level - 1,
                child_base,
                block_at + index * 4,
            )?;
        }
        Ok(())
    }
}
