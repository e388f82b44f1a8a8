//! Where a file's bytes are: its extents (from an extent tree or an ext2/3
//! block map), the metadata blocks of that map, and the file's content as
//! byte ranges of the volume.

use std::collections::HashSet;

use super::Layout;
use super::inline;
use super::inode::{FileType, Inode};
use crate::{Error, Result};

/// A run of a file's logical blocks stored in consecutive physical blocks.
/// Runs that continue each other logically and physically (with the same
/// `uninit`) are merged, so a file written in one piece is one `Extent` even
/// where its tree splits it (ext4 extents hold at most 32768 blocks; a
/// block map has no extents at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First logical block (file offset / block size).
    pub logical_block: u64,
    /// First physical block (volume offset / block size).
    pub physical_block: u64,
    pub len_blocks: u64,
    /// Allocated but not written (`ee_len` > 32768): reads as zeros, while
    /// the blocks on disk still hold whatever was there before.
    pub uninit: bool,
}

/// A file's block map: its data extents in logical order and the blocks
/// that hold the map itself (extent tree index and leaf blocks, or indirect
/// blocks), which an unlink must free too. The extended attribute block
/// (`i_file_acl`) is not included: it may be shared (h_refcount).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMap {
    pub extents: Vec<Extent>,
    pub metadata_blocks: Vec<u64>,
}

/// One piece of a file's content in the volume: `len_bytes` bytes at
/// `volume_offset_bytes` are the file's bytes from `file_offset_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileByteRange {
    pub volume_offset_bytes: u64,
    pub len_bytes: u64,
    pub file_offset_bytes: u64,
}

/// State of one file map walk: the budget that keeps a corrupt map from
/// running away and the output being built.
pub(crate) struct MapWalk<'i> {
    pub(crate) inode: &'i Inode,
    pub(crate) map: FileMap,
    /// Blocks (data + metadata) the inode may map: its `i_blocks`. A valid
    /// file never maps more blocks than it has allocated.
    budget_blocks: u64,
    used_blocks: u64,
    /// Map blocks already visited: a block referenced twice in one map is a
    /// loop or a cross-link; refusing it bounds the work by the volume size.
    seen_metadata: HashSet<u64>,
}

impl<'i> MapWalk<'i> {
    fn new(layout: &Layout<'_>, inode: &'i Inode) -> Self {
        MapWalk {
            inode,
            map: FileMap::default(),
            budget_blocks: inode.blocks_in_fs_blocks(layout.superblock().block_size_bytes()),
            used_blocks: 0,
            seen_metadata: HashSet::new(),
        }
    }

    fn charge(&mut self, blocks: u64, at_offset: u64) -> Result<()> {
        self.used_blocks = self.used_blocks.saturating_add(blocks);
        if self.used_blocks > self.budget_blocks {
            return Err(Error::corrupt(
                at_offset,
                format!(
                    "inode {} maps more blocks than its i_blocks allows: expected at most {}, found at least {}",
                    self.inode.ino, self.budget_blocks, self.used_blocks
                ),
            ));
        }
        Ok(())
    }

    /// Record a map block (tree node or indirect block) about to be read.
    pub(crate) fn metadata_block(&mut self, block: u64, referenced_at: u64) -> Result<()> {
        if !self.seen_metadata.insert(block) {
            return Err(Error::corrupt(
                referenced_at,
                format!(
                    "inode {}: map block {block} is referenced twice (loop)",
                    self.inode.ino
                ),
            ));
        }
        self.charge(1, referenced_at)?;
        self.map.metadata_blocks.push(block);
        Ok(())
    }

    /// Record a data run, merging it into the previous one when it continues
    /// it both logically and physically with the same state.
    pub(crate) fn data(&mut self, extent: Extent, referenced_at: u64) -> Result<()> {
        self.charge(extent.len_blocks, referenced_at)?;
        if let Some(last) = self.map.extents.last_mut() {
            if last.uninit == extent.uninit
                && last.logical_block + last.len_blocks == extent.logical_block
                && last.physical_block + last.len_blocks == extent.physical_block
            {
                last.len_blocks += extent.len_blocks;
                return Ok(());
            }
        }
        self.map.extents.push(extent);
        Ok(())
    }
}

impl Layout<'_> {
    /// Check that physical blocks `[first, first + len)` lie inside the
    /// filesystem's data area.
    pub(crate) fn check_block_range(
        &self,
        first: u64,
        len: u64,
        referenced_at: u64,
        what: &str,
    ) -> Result<()> {
        let sb = self.superblock();
        let end = first.checked_add(len);
        if first < u64::from(sb.s_first_data_block) || end.is_none_or(|end| end > sb.s_blocks_count)
        {
            return Err(Error::corrupt(
                referenced_at,
                format!(
                    "{what} at blocks {first}+{len} is outside the filesystem (blocks {}..{})",
                    sb.s_first_data_block, sb.s_blocks_count
                ),
            ));
        }
        Ok(())
    }

    /// The block map of `inode`: data extents and map blocks. Inline data,
    /// fast symlinks and device/fifo/socket inodes have no blocks.
    pub fn file_map(&self, inode: &Inode) -> Result<FileMap> {
        if !has_block_map(inode) {
            return Ok(FileMap::default());
        }
        let mut walk = MapWalk::new(self, inode);
        if inode.has_extents() {
            self.walk_extent_tree(&mut walk)?;
        } else {
            self.walk_block_map(&mut walk)?;
        }
        Ok(walk.map)
    }

    /// The data extents of `inode`, in logical order (holes are absent).
    pub fn file_extents(&self, inode: &Inode) -> Result<Vec<Extent>> {
        Ok(self.file_map(inode)?.extents)
    }

    /// The blocks holding `inode`'s block map (extent tree nodes other than
    /// the root in the inode, or indirect blocks).
    pub fn file_metadata_blocks(&self, inode: &Inode) -> Result<Vec<u64>> {
        Ok(self.file_map(inode)?.metadata_blocks)
    }

    /// The file's content as byte ranges of the volume, in file order,
    /// clipped to `i_size`, physically adjacent runs merged. Holes and
    /// uninitialized extents are absent (they read as zeros). For inline
    /// data and fast symlinks the ranges lie inside the inode record.
    pub fn file_byte_ranges(&self, inode: &Inode) -> Result<Vec<FileByteRange>> {
        if inode.has_inline_data() {
            return inline::inline_byte_ranges(self, inode);
        }
        if inode.is_fast_symlink() {
            // The target is in i_block, at byte 0x28 of the inode record.
            let mut ranges = Vec::with_capacity(1);
            if inode.i_size > 0 {
                ranges.push(FileByteRange {
                    volume_offset_bytes: inode.offset_bytes + 0x28,
                    len_bytes: inode.i_size,
                    file_offset_bytes: 0,
                });
            }
            return Ok(ranges);
        }
        let block_size = u64::from(self.superblock().block_size_bytes());
        let mut ranges: Vec<FileByteRange> = Vec::new();
        for extent in self.file_extents(inode)? {
            if extent.uninit {
                continue;
            }
            // logical_block < 2^32 and physical_block < s_blocks_count were
            // checked, so these products fit in u64.
            let file_offset_bytes = extent.logical_block * block_size;
            if file_offset_bytes >= inode.i_size {
                break;
            }
            let len_bytes = (extent.len_blocks * block_size).min(inode.i_size - file_offset_bytes);
            let volume_offset_bytes = extent.physical_block * block_size;
            if let Some(last) = ranges.last_mut() {
                if last.volume_offset_bytes + last.len_bytes == volume_offset_bytes
                    && last.file_offset_bytes + last.len_bytes == file_offset_bytes
                {
                    last.len_bytes += len_bytes;
                    continue;
                }
            }
            ranges.push(FileByteRange {
                volume_offset_bytes,
                len_bytes,
                file_offset_bytes,
            });
        }
        Ok(ranges)
    }
}

/// Whether `i_block` of this inode is a block map or extent tree (and not
/// device numbers, inline data or a fast symlink target).
fn has_block_map(inode: &Inode) -> bool {
    if inode.has_inline_data() || inode.is_fast_symlink() {
        return false;
    }
    matches!(
        inode.file_type(),
        FileType::Regular | FileType::Directory | FileType::Symlink
    )
}
