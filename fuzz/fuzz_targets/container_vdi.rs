//! The VDI reader: the header, the block map and the blocks it names.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The seeds (fuzz/seeds.sh) are prefixes of 1 MiB disks in one 1 MiB
/// block after a 1 KiB header and block map.
const FILE_BYTES: usize = (1 << 20) + 4096;

fuzz_target!(|data: &[u8]| {
    snapaudit_fuzz::exercise_container(&[("disk.vdi", &snapaudit_fuzz::padded(data, FILE_BYTES))]);
});
