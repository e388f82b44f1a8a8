//! Finding the root filesystem by content, not by position.

use super::Volume;
use crate::image::Image;
use crate::partition::PartitionTable;

/// A root filesystem holds `/etc` and an `sbin` (either `/sbin` or, on
/// usr-merged systems, `/usr/sbin`).
fn looks_like_root(volume: &Volume) -> bool {
    let Ok(fs) = volume.open() else {
        return false;
    };
    fs.exists_lossy("/etc") && (fs.exists_lossy("/sbin") || fs.exists_lossy("/usr/sbin"))
}

/// The partition holding the root filesystem: the first ext2/3/4 partition
/// (in table order) that looks like one.
pub fn find_root(image: &Image, table: &PartitionTable) -> Option<Volume> {
    table
        .partitions
        .iter()
        .filter(|p| p.fs.as_ref().is_some_and(|f| f.kind.is_ext()))
        .map(|p| Volume::new(image, p))
        .find(looks_like_root)
}
