//! ext2/3/4 access over a partition's byte range.
//!
//! [`Volume`] is the `Send + Sync` handle (an [`Image`](crate::image::Image)
//! plus a range); [`Fs`] is the `!Send` reader built from it with `ext4-view`
//! (names, file contents, metadata). Open one `Fs` per thread: loading is
//! cheap. [`layout`] reads the on-disk structures that ext4-view does not
//! expose (superblock counters and state, group descriptors, inode numbers
//! and flags, block maps, bitmaps).

pub mod journal;
pub mod layout;
mod root;
mod symlink_guard;
mod volume;

pub use root::{find_root, find_root_in};
pub use volume::{
    DirEntry, FileKind, Fs, MAX_LISTED_DIRS, MAX_WALK_DEPTH, Recovery, Segment, Stat, Volume,
    WalkEntry, join_path,
};
