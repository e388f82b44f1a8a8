//! Our own ext4 reader (`ext4::layout`) on mutated small filesystems:
//! superblock and group descriptors, a walk of every directory by inode
//! number, every file's block map and byte ranges, symlinks, path lookup,
//! the free-block ranges and the checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::ext4::layout::Layout;

/// The seed filesystems (fuzz/seeds.sh) are 256 KiB; inputs are their
/// metadata-bearing prefix.
const VOLUME_BYTES: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let vol = snapaudit_fuzz::padded(data, VOLUME_BYTES);
    if let Ok(layout) = Layout::open(&vol) {
        snapaudit_fuzz::exercise_layout(&layout);
    }
});
