//! The VMDK reader: a sparse extent, a streamOptimized stream or a text
//! descriptor, with one extent file beside it. The input is
//! `extent.vmdk ‖ NUL line ‖ disk.vmdk` (fuzz/src/lib.rs `split2`; without
//! a separator, the whole input is `disk.vmdk`); the descriptor seeds name
//! `extent.vmdk` in their extent lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The seeds (fuzz/seeds.sh) are prefixes of 1 MiB disks whose grains all
/// lie in the first 256 KiB of their files.
const FILE_BYTES: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let (extent, disk) = snapaudit_fuzz::split2(data);
    let disk = snapaudit_fuzz::padded(disk, FILE_BYTES);
    let extent = snapaudit_fuzz::padded(extent, FILE_BYTES);
    snapaudit_fuzz::exercise_container(&[("disk.vmdk", &disk), ("extent.vmdk", &extent)]);
});
