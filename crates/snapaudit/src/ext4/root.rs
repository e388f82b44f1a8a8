//! Finding the root filesystem by content, not by position.

use super::Volume;
use crate::image::Image;
use crate::partition::PartitionTable;
use crate::volume::Volumes;

/// A root filesystem holds `/etc` and an `sbin` (either `/sbin` or, on
/// usr-merged systems, `/usr/sbin`).
fn looks_like_root(volume: &Volume) -> bool {
    let Ok(fs) = volume.open() else {
        return false;
    };
    fs.exists_lossy("/etc") && (fs.exists_lossy("/sbin") || fs.exists_lossy("/usr/sbin"))
}

/// The volume holding the root filesystem: the first ext2/3/4 partition
/// (in table order), then the first ext2/3/4 logical volume of the disk's
/// LVM2 volume groups, that looks like one.
pub fn find_root(image: &Image, table: &PartitionTable) -> Option<Volume> {
    find_root_in(image, &Volumes::of(image, table.clone()))
}

/// [`find_root`] over volumes already read.
pub fn find_root_in(image: &Image, volumes: &Volumes) -> Option<Volume> {
    volumes
        .list()
        .into_iter()
        .filter(|v| v.fs().is_some_and(|f| f.kind.is_ext()))
        .filter_map(|v| v.volume(image).ok())
        .find(looks_like_root)
}
