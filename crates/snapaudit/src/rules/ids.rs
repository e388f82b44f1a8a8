//! What "on this disk" means: the filesystem UUIDs and labels and the
//! partition UUIDs and names of the image, so that an fstab line or a
//! `root=` can be told apart from one naming another disk.

use crate::partition::PartitionTable;
use crate::system::fstab::{Source, uuid_eq};
use crate::volume::Lvm;

#[derive(Debug, Default)]
pub struct DiskIds {
    fs_uuids: Vec<String>,
    fs_labels: Vec<String>,
    partuuids: Vec<String>,
    partlabels: Vec<String>,
    root_fs_uuid: Option<String>,
    root_partuuid: Option<String>,
    root_label: Option<String>,
    /// `(vg, lv)` of every logical volume of this disk.
    lvs: Vec<(String, String)>,
    /// The root's `(vg, lv)` when the root is a logical volume.
    root_lv: Option<(String, String)>,
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

    /// [`DiskIds::new`] with the logical volumes of `lvm`; `root_lv` is the
    /// root's `vg/lv` when the root filesystem is on one.
    pub fn with_lvm(table: &PartitionTable, root: u32, lvm: &Lvm, root_lv: Option<&str>) -> Self {
        let mut ids = DiskIds::new(table, root);
        if root_lv.is_some() {
            // `root` is then the PV's partition, not the filesystem.
            ids.root_fs_uuid = None;
            ids.root_label = None;
            ids.root_partuuid = None;
        }
        for lv in lvm.lvs() {
            if let Some(fs) = &lv.fs {
                ids.fs_uuids.extend(fs.uuid.clone());
                ids.fs_labels.extend(fs.label.clone());
            }
            ids.lvs.push((lv.vg.clone(), lv.lv.clone()));
            if root_lv == Some(lv.name().as_str()) {
                ids.root_fs_uuid = lv.fs.as_ref().and_then(|f| f.uuid.clone());
                ids.root_label = lv.fs.as_ref().and_then(|f| f.label.clone());
                ids.root_lv = Some((lv.vg.clone(), lv.lv.clone()));
            }
        }
        ids
    }

    /// The `(vg, lv)` a device path names: `/dev/VG/LV`, or
    /// `/dev/mapper/VG-LV` with dashes inside names doubled.
    fn lv_of_path(path: &str) -> Option<(String, String)> {
        if let Some(mapper) = path.strip_prefix("/dev/mapper/") {
            return split_mapper_name(mapper);
        }
        let rest = path.strip_prefix("/dev/")?;
        let (vg, lv) = rest.split_once('/')?;
        (!vg.is_empty() && !lv.is_empty() && !lv.contains('/') && !["disk", "mapper"].contains(&vg))
            .then(|| (vg.to_string(), lv.to_string()))
    }

    /// Whether `path` names a logical volume: `Some(true)` for one of this
    /// disk's, `Some(false)` for an LV of a VG on this disk that it does not
    /// have, `None` otherwise (another disk's VG, or not an LV path).
    fn lv_path_on_disk(&self, path: &str) -> Option<(bool, (String, String))> {
        let (vg, lv) = Self::lv_of_path(path)?;
        let here = self.lvs.iter().any(|(v, l)| *v == vg && *l == lv);
        let vg_here = self.lvs.iter().any(|(v, _)| *v == vg);
        (here || vg_here).then_some((here, (vg, lv)))
    }

    /// Whether `vg/lv` (as `rd.lvm.lv=` writes it) is an LV of this disk.
    pub fn has_lv(&self, name: &str) -> bool {
        name.split_once('/')
            .is_some_and(|(vg, lv)| self.lvs.iter().any(|(v, l)| v == vg && l == lv))
    }

    pub fn contains(&self, source: &Source) -> OnDisk {
        let yes = |b: bool| if b { OnDisk::Yes } else { OnDisk::No };
        match source {
            Source::Uuid(u) => yes(self.fs_uuids.iter().any(|x| uuid_eq(x, u))),
            Source::Label(l) => yes(self.fs_labels.iter().any(|x| x == l)),
            Source::PartUuid(u) => yes(self.partuuids.iter().any(|x| uuid_eq(x, u))),
            Source::PartLabel(l) => yes(self.partlabels.iter().any(|x| x == l)),
            Source::Device(_) if source.other_disk_device() => OnDisk::No,
            Source::Device(p) => match self.lv_path_on_disk(p) {
                Some((here, _)) => yes(here),
                None => OnDisk::Unknown,
            },
            Source::Other(_) => OnDisk::Unknown,
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
            Source::Device(p) => match (self.lv_path_on_disk(p), &self.root_lv) {
                (Some((_, named)), Some(root)) => Some(named == *root),
                (Some((false, _)), None) => Some(false),
                _ => None,
            },
            Source::Other(_) => None,
        }
    }

    pub fn root_fs_uuid(&self) -> Option<&str> {
        self.root_fs_uuid.as_deref()
    }
}

/// `VG-LV` of a device-mapper name, where a dash inside either name is
/// written `--` (`my--vg-my--root` is `my-vg`/`my-root`).
fn split_mapper_name(name: &str) -> Option<(String, String)> {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'-') {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            let (vg, lv) = (name.get(..i)?, name.get(i + 1..)?);
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((vg.replace("--", "-"), lv.replace("--", "-")));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapper_names_split_at_the_single_dash() {
        let s = |n: &str| split_mapper_name(n);
        assert_eq!(s("vg0-root"), Some(("vg0".into(), "root".into())));
        assert_eq!(
            s("my--vg-my--root"),
            Some(("my-vg".into(), "my-root".into()))
        );
        assert_eq!(s("rhel-root"), Some(("rhel".into(), "root".into())));
        assert_eq!(s("cryptroot"), None);
        assert_eq!(s("-x"), None);
        assert_eq!(s("a--"), None);
        assert_eq!(
            DiskIds::lv_of_path("/dev/vg0/swap"),
            Some(("vg0".into(), "swap".into()))
        );
        assert_eq!(DiskIds::lv_of_path("/dev/disk/by-uuid"), None);
        assert_eq!(DiskIds::lv_of_path("/dev/sda1"), None);
    }
}
