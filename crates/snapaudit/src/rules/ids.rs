//! What "on this disk" means: the filesystem UUIDs and labels and the
//! partition UUIDs and names of the image, so that an fstab line or a
//! `root=` can be told apart from one naming another disk.

use crate::partition::PartitionTable;
use crate::system::fstab::{Source, uuid_eq};

#[derive(Debug, Default)]
pub struct DiskIds {
    fs_uuids: Vec<String>,
    fs_labels: Vec<String>,
    partuuids: Vec<String>,
    partlabels: Vec<String>,
    root_fs_uuid: Option<String>,
    root_partuuid: Option<String>,
    root_label: Option<String>,
}

/// Whether a device source is on this disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDisk {
    Yes,
    No,
    /// A device path or something we cannot decide from names alone.
    Unknown,
}

impl DiskIds {
    pub fn new(table: &PartitionTable, root: u32) -> Self {
        let mut ids = DiskIds::default();
        for p in &table.partitions {
            if let Some(fs) = &p.fs {
                ids.fs_uuids.extend(fs.uuid.clone());
                ids.fs_labels.extend(fs.label.clone());
            }
            ids.partuuids.extend(p.partuuid.clone());
            ids.partlabels.extend(p.name.clone());
            if p.index == root {
                ids.root_fs_uuid = p.fs.as_ref().and_then(|f| f.uuid.clone());
                ids.root_label = p.fs.as_ref().and_then(|f| f.label.clone());
                ids.root_partuuid = p.partuuid.clone();
            }
        }
        ids
    }

    pub fn contains(&self, source: &Source) -> OnDisk {
        let yes = |b: bool| if b { OnDisk::Yes } else { OnDisk::No };
        match source {
            Source::Uuid(u) => yes(self.fs_uuids.iter().any(|x| uuid_eq(x, u))),
            Source::Label(l) => yes(self.fs_labels.iter().any(|x| x == l)),
            Source::PartUuid(u) => yes(self.partuuids.iter().any(|x| uuid_eq(x, u))),
            Source::PartLabel(l) => yes(self.partlabels.iter().any(|x| x == l)),
            Source::Device(_) if source.other_disk_device() => OnDisk::No,
            Source::Device(_) | Source::Other(_) => OnDisk::Unknown,
        }
    }

    /// Whether `source` names the root filesystem itself (`None` when it is
    /// a device path we cannot map).
    pub fn is_root(&self, source: &Source) -> Option<bool> {
        let eq = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| uuid_eq(a, b));
        match source {
            Source::Uuid(u) => Some(eq(&self.root_fs_uuid, u)),
            Source::PartUuid(u) => Some(eq(&self.root_partuuid, u)),
            Source::Label(l) => Some(self.root_label.as_deref() == Some(l.as_str())),
            Source::PartLabel(_) => None,
            Source::Device(_) if source.other_disk_device() => Some(false),
            Source::Device(_) | Source::Other(_) => None,
        }
    }

    pub fn root_fs_uuid(&self) -> Option<&str> {
        self.root_fs_uuid.as_deref()
    }
}
