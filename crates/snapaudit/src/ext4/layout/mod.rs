//! The ext2/3/4 on-disk structures that ext4-view does not expose, read
//! straight from a volume's bytes: superblock counters, state and features;
//! group descriptors; inodes by number (flags, owners, times, checksums,
//! their byte offset); path lookup to inode numbers; block maps as volume
//! extents; block and inode bitmaps; metadata checksums.
//!
//! Everything follows the kernel's Documentation/filesystems/ext4 and is
//! cited above each structure. A [`Layout`] works over one filesystem's
//! bytes (`&[u8]`, usually a partition sliced out of a memory-mapped disk
//! image); it allocates little and never reads whole inode tables.
//!
//! **Offsets.** Every offset here — [`Inode::offset_bytes`],
//! [`DirEntryRaw::offset_bytes`], [`FileByteRange::volume_offset_bytes`],
//! and the `offset` of the [`Error::Corrupt`](crate::Error::Corrupt) errors
//! this module returns — is relative to the start of the volume. Add the
//! partition's start offset to get an image offset.
//!
//! **Errors.** Data that contradicts the format is `Error::Corrupt` with the
//! expected and found values; valid features not handled here (encrypted
//! names, inline data in an EA inode, compression) are `Error::Unsupported`.

mod bitmap;
mod blockmap;
pub mod csum;
mod dir;
mod extent;
pub mod features;
mod group;
mod inline;
mod inode;
mod map;
mod superblock;

#[cfg(test)]
mod tests;

use std::fmt;

pub use bitmap::BlockRange;
pub use csum::Checksum;
pub use dir::{DirEntryRaw, DirIndex, Follow, MAX_SYMLINK_HOPS, file_type};
pub use extent::EXT4_EXT_MAGIC;
pub use features::{CompatFeatures, Features, IncompatFeatures, InodeFlags, RoCompatFeatures};
pub use group::{GroupDesc, GroupFlags};
pub use inode::{FileType, Inode, ROOT_INO, Timestamp};
pub use map::{Extent, FileByteRange, FileMap};
pub use superblock::{EXT4_SUPER_MAGIC, ErrorPolicy, FsState, SUPERBLOCK_OFFSET, Superblock};

use crate::{Error, Result};

/// One ext2/3/4 filesystem's on-disk layout over its bytes.
pub struct Layout<'a> {
    vol: &'a [u8],
    sb: Superblock,
    metadata_ranges: bitmap::MetadataRanges,
}

impl fmt::Debug for Layout<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout")
            .field("volume_len_bytes", &self.vol.len())
            .field("superblock", &self.sb)
            .finish_non_exhaustive()
    }
}

impl<'a> Layout<'a> {
    /// Parse the superblock of the filesystem in `vol` and check that its
    /// layout is one this module can read. Compressed ext2 is
    /// `Unsupported` (an external journal device already fails to parse),
    /// and so is any incompat feature this module does not know, since it
    /// may change the on-disk format.
    pub fn open(vol: &'a [u8]) -> Result<Layout<'a>> {
        let sb = Superblock::parse(vol)?;
        let incompat = sb.s_feature_incompat;
        if incompat.contains(IncompatFeatures::COMPRESSION) {
            return Err(Error::unsupported("ext2 compression"));
        }
        if incompat.unknown_bits() != 0 {
            return Err(Error::unsupported(format!(
                "unknown incompatible ext4 features {:#x}",
                incompat.unknown_bits()
            )));
        }
        sb.validate_meta_bg()?;
        Ok(Layout {
            vol,
            sb,
            metadata_ranges: bitmap::MetadataRanges::default(),
        })
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The volume's bytes.
    pub fn volume(&self) -> &'a [u8] {
        self.vol
    }

    /// Bytes of the filesystem (s_blocks_count × block size) that are
    /// missing from the end of the volume: 0 unless the image was cut short.
    /// Reads of blocks in the missing part fail with `Corrupt`.
    pub fn truncated_bytes(&self) -> u64 {
        self.sb
            .fs_size_bytes()
            .saturating_sub(self.vol.len() as u64)
    }

    /// `len` bytes at volume offset `offset`, or `Corrupt` naming `what`
    /// when they are not all in the volume.
    pub(crate) fn bytes_at(&self, offset: u64, len: u64, what: &str) -> Result<&'a [u8]> {
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(offset, len)| crate::util::slice(self.vol, offset, len))
            .ok_or_else(|| {
                Error::corrupt(
                    offset,
                    format!(
                        "{what} at byte {offset} (+{len}) is past the end of the {}-byte volume",
                        self.vol.len()
                    ),
                )
            })
    }

    /// The bytes of block `block`.
    pub fn block(&self, block: u64) -> Result<&'a [u8]> {
        let block_size = u64::from(self.sb.block_size_bytes());
        let offset = block
            .checked_mul(block_size)
            .ok_or_else(|| Error::corrupt(0, format!("block number {block} overflows")))?;
        self.bytes_at(offset, block_size, "block")
    }
}
