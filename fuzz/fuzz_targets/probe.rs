//! Filesystem probing by magic (ext2/3/4, XFS, Btrfs, FAT, swap, LVM2,
//! LUKS) on a partition's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::partition::probe::probe;

fuzz_target!(|data: &[u8]| {
    // The probes read fixed offsets up to 64 KiB + a few KiB in; pad short
    // inputs so the deeper signatures (Btrfs at 64 KiB) are reachable.
    let _ = probe(data);
    let padded = snapaudit_fuzz::padded(data, 72 * 1024);
    let _ = probe(&padded);
});
