//! ext2/3/4 filesystems: see DESIGN.md. [`layout`] reads the on-disk
//! structures that ext4-view does not expose (superblock counters and state,
//! group descriptors, inode numbers and flags, block maps, bitmaps).
pub mod layout;
