//! The whole audit, `rules::check`, on mutated small system disks (an MBR
//! or GPT disk with a tiny ext4 root holding the files the rules read):
//! partition table → root → facts → every rule → report, plus the
//! SARIF rendering of the report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::image::Image;
use snapaudit::rules::{CheckOptions, check};

/// The seed disks (fuzz/seeds.sh) are 1 MiB; inputs are their prefix.
const DISK_BYTES: usize = 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let image = Image::from_bytes("fuzz.img", snapaudit_fuzz::padded(data, DISK_BYTES));
    if let Ok(report) = check(&image, &CheckOptions::default()) {
        let _ = snapaudit::report::to_sarif(std::slice::from_ref(&report));
    }
});
