//! ext2/3/4 access over a partition's byte range.
//!
//! [`Volume`] is the `Send + Sync` handle (an `Arc<Image>` plus a range);
//! [`Fs`] is the `!Send` reader built from it with `ext4-view` (names, file
//! contents, metadata). Open one `Fs` per thread: loading is cheap.

mod root;
mod volume;

pub use root::find_root;
pub use volume::{
    DirEntry, FileKind, Fs, MAX_LISTED_DIRS, MAX_WALK_DEPTH, Stat, Volume, WalkEntry,
};
