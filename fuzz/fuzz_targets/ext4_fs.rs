//! The filesystem view the audit uses (`ext4::Volume` → `Fs`: ext4-view
//! with our fallbacks) on mutated small filesystems: open, walk (which must
//! terminate on directory loops by itself), stat, readlink, canonicalize,
//! and read every file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::ext4::Volume;
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;

const VOLUME_BYTES: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let image = Image::from_bytes("fuzz.img", snapaudit_fuzz::padded(data, VOLUME_BYTES));
    let Ok(table) = PartitionTable::read(&image) else {
        return;
    };
    for p in table
        .partitions
        .iter()
        .filter(|p| p.fs.as_ref().is_some_and(|f| f.kind.is_ext()))
    {
        if let Ok(fs) = Volume::new(&image, p).open() {
            let _ = (
                fs.uuid(),
                fs.journal_replayed(),
                fs.exists_lossy("/etc/passwd"),
            );
            snapaudit_fuzz::exercise_fs(&fs);
        }
    }
});
