//! The partition-table reader (GPT via our validation + the gpt crate, MBR
//! via our EBR walk + mbrman) and the per-partition probe, on raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;

fuzz_target!(|data: &[u8]| {
    let image = Image::from_bytes("fuzz.img", data.to_vec());
    if let Ok(table) = PartitionTable::read(&image) {
        for p in &table.partitions {
            // Every partition's byte range must be clippable to the image.
            let _ = p.bytes(&image);
            let _ = p.info();
            let _ = p.end_bytes();
        }
        let _ = snapaudit::ext4::find_root(&image, &table);
    }
});
