//! The qcow2 reader and the stitched view of its virtual disk, on mutated
//! small qcow2 files (headers, extensions, L1/L2 tables, compressed and
//! subcluster entries, backing names): opening must give an image or an
//! error, never a panic, hang or allocation in proportion to the sizes the
//! header claims.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    snapaudit_fuzz::exercise_container(&[("input.qcow2", data)]);
});
