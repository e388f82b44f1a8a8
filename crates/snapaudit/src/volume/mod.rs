//! Volumes: where filesystems live. A partition is one; so is a logical
//! volume of an LVM2 volume group whose physical volumes are on this disk.
//!
//! [`Lvm::read`] finds the PVs among the probed partitions (or the whole
//! disk), reads the newest metadata of each VG and maps every visible LV
//! onto the disk as [`Segment`]s. [`Volumes`] is the one list the audit
//! iterates: the partitions that may hold a filesystem, then the LVs.

pub mod crypt;
pub mod lvm;

use std::collections::BTreeMap;

use crate::ext4::{self, Segment};
use crate::image::Image;
use crate::partition::{FsKind, Partition, PartitionTable, Probe, probe};
use crate::report::{Location, VolumeInfo, VolumeSegmentInfo};
use crate::{Error, Result};
use lvm::vg::{LvError, VgMeta};

/// Bytes of an LV copied for probing: the farthest signature the probes
/// read is swap's at 64 KiB (btrfs's superblock ends just after it).
const PROBE_BYTES: u64 = 128 << 10;

/// One run of a logical volume on the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvRun {
    pub segment: Segment,
    /// The partition of the PV (0 = whole disk).
    pub partition: u32,
    /// The PV's UUID as LVM prints it.
    pub pv_uuid: String,
    /// Offset of the run from the PV's first byte.
    pub pv_offset: u64,
}

/// Why an LV is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LvProblem {
    Unsupported(String),
    /// A PV it needs is missing from this disk.
    Incomplete(String),
    Corrupt(String),
}

impl LvProblem {
    pub fn message(&self) -> &str {
        match self {
            LvProblem::Unsupported(m) | LvProblem::Incomplete(m) | LvProblem::Corrupt(m) => m,
        }
    }

    pub fn to_error(&self, offset: u64) -> Error {
        match self {
            LvProblem::Unsupported(m) | LvProblem::Incomplete(m) => Error::unsupported(m.clone()),
            LvProblem::Corrupt(m) => Error::corrupt(offset, m.clone()),
        }
    }
}

/// A visible logical volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    pub vg: String,
    pub lv: String,
    pub uuid: String,
    pub size_bytes: u64,
    /// Where its bytes are, in order (empty when `problem` is set).
    pub runs: Vec<LvRun>,
    pub fs: Option<Probe>,
    pub problem: Option<LvProblem>,
}

impl LogicalVolume {
    /// `vg/lv`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.vg, self.lv)
    }

    /// The partition holding its first byte.
    pub fn partition(&self) -> Option<u32> {
        self.runs.first().map(|r| r.partition)
    }

    pub fn segments(&self) -> Vec<Segment> {
        self.runs.iter().map(|r| r.segment).collect()
    }

    /// The LV as a volume of `image`.
    pub fn volume(&self, image: &Image) -> Result<ext4::Volume> {
        if let Some(p) = &self.problem {
            return Err(p.to_error(0));
        }
        ext4::Volume::from_segments(
            image,
            self.partition().unwrap_or(0),
            &self.name(),
            &self.segments(),
        )
    }

    /// The report's view of it.
    pub fn info(&self, root: bool) -> VolumeInfo {
        VolumeInfo {
            name: self.name(),
            uuid: self.uuid.clone(),
            size_bytes: self.size_bytes,
            fs: self.fs.as_ref().map(|p| p.kind.as_str().to_string()),
            fs_uuid: self.fs.as_ref().and_then(|p| p.uuid.clone()),
            label: self.fs.as_ref().and_then(|p| p.label.clone()),
            role: root.then(|| "root".to_string()),
            problem: self.problem.as_ref().map(|p| p.message().to_string()),
            segments: self
                .runs
                .iter()
                .map(|r| VolumeSegmentInfo {
                    volume_offset: r.segment.volume_offset,
                    disk_offset: r.segment.disk_offset,
                    len_bytes: r.segment.len,
                    partition: r.partition,
                    pv_uuid: r.pv_uuid.clone(),
                    pv_offset: r.pv_offset,
                })
                .collect(),
        }
    }
}

/// A PV of a VG, found on this disk or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvRef {
    pub name: String,
    pub uuid: String,
    /// Its partition, when it is on this disk.
    pub partition: Option<u32>,
}

/// A byte range of the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskRange {
    pub disk_offset: u64,
    pub len: u64,
    pub partition: u32,
}

/// A volume group with PVs on this disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeGroup {
    pub name: String,
    pub uuid: String,
    pub seqno: u64,
    pub pvs: Vec<PvRef>,
    /// Visible LVs, in metadata order.
    pub lvs: Vec<LogicalVolume>,
    /// Extents of the present PVs that no LV uses.
    pub free: Vec<DiskRange>,
}

impl VolumeGroup {
    /// A PV of the VG is not on this disk.
    pub fn incomplete(&self) -> bool {
        self.pvs.iter().any(|p| p.partition.is_none())
    }
}

/// Something wrong with a PV or its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvmProblem {
    pub partition: u32,
    /// Image offset.
    pub offset_bytes: u64,
    pub message: String,
}

/// The LVM2 volume groups of a disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lvm {
    pub groups: Vec<VolumeGroup>,
    pub problems: Vec<LvmProblem>,
}

/// A PV found on the disk.
struct FoundPv<'a> {
    partition: &'a Partition,
    uuid: String,
}

impl Lvm {
    /// The volume groups whose PVs are among `table`'s partitions (or the
    /// whole disk).
    pub fn read(image: &Image, table: &PartitionTable) -> Lvm {
        let mut out = Lvm::default();
        let mut pvs: Vec<FoundPv<'_>> = Vec::new();
        // Newest metadata per VG: uuid → (seqno, VG).
        let mut newest: BTreeMap<String, VgMeta> = BTreeMap::new();
        for p in &table.partitions {
            if p.fs.as_ref().map(|f| f.kind) != Some(FsKind::Lvm2) {
                continue;
            }
            let bytes = p.bytes(image);
            let problem = |offset: u64, message: String| LvmProblem {
                partition: p.index,
                offset_bytes: p.start_bytes.saturating_add(offset),
                message: format!("partition {} (LVM2 PV): {message}", p.index),
            };
            let label = match lvm::label::read(bytes) {
                Ok(Some(l)) => l,
                Ok(None) => continue,
                Err(e) => {
                    out.problems.push(problem(e.offset, e.what));
                    continue;
                }
            };
            pvs.push(FoundPv {
                partition: p,
                uuid: label.pv_uuid.clone(),
            });
            for area in &label.metadata_areas {
                let text = match lvm::mda::read(bytes, *area) {
                    Ok(Some(t)) => t,
                    Ok(None) => continue,
                    Err(e) => {
                        out.problems.push(problem(e.offset, e.what));
                        continue;
                    }
                };
                let vg = lvm::text::parse(&text.text)
                    .map_err(|e| (text.offset + e.offset as u64, e.to_string()))
                    .and_then(|root| VgMeta::from_text(&root).map_err(|e| (text.offset, e)));
                match vg {
                    Ok(vg) => {
                        let key = if vg.uuid.is_empty() {
                            vg.name.clone()
                        } else {
                            vg.uuid.clone()
                        };
                        match newest.get(&key) {
                            Some(have) if have.seqno >= vg.seqno => {}
                            _ => {
                                newest.insert(key, vg);
                            }
                        }
                    }
                    Err((offset, message)) => out.problems.push(problem(offset, message)),
                }
            }
        }
        for vg in newest.into_values() {
            out.groups.push(group(image, &vg, &pvs));
        }
        out
    }

    /// Every visible LV of every group.
    pub fn lvs(&self) -> impl Iterator<Item = &LogicalVolume> {
        self.groups.iter().flat_map(|g| &g.lvs)
    }

    /// The LV called `vg/lv`.
    pub fn get(&self, name: &str) -> Result<&LogicalVolume> {
        self.lvs().find(|l| l.name() == name).ok_or_else(|| {
            let have: Vec<String> = self.lvs().map(LogicalVolume::name).collect();
            Error::invalid(format!(
                "no logical volume {name} on this disk (it has: {})",
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            ))
        })
    }
}

/// Resolve one VG's metadata against the PVs found.
fn group(image: &Image, vg: &VgMeta, found: &[FoundPv<'_>]) -> VolumeGroup {
    let place: Vec<Option<&Partition>> = vg
        .pvs
        .iter()
        .map(|pv| {
            found
                .iter()
                .find(|f| f.uuid == pv.uuid)
                .map(|f| f.partition)
        })
        .collect();
    let present = |i: usize| place.get(i).is_some_and(Option::is_some);
    let overlaps = vg.overlaps();
    let mut lvs = Vec::new();
    for lv in vg.lvs.iter().filter(|l| l.visible) {
        let mut out = LogicalVolume {
            vg: vg.name.clone(),
            lv: lv.name.clone(),
            uuid: lv.uuid.clone(),
            size_bytes: vg.lv_bytes(lv),
            runs: Vec::new(),
            fs: None,
            problem: None,
        };
        let mapped = match overlaps
            .iter()
            .find(|(a, b, _)| *a == lv.name || *b == lv.name)
        {
            Some((_, _, m)) => Err(LvError::Corrupt(m.clone())),
            None => vg.map(&lv.name, &present),
        };
        match mapped.and_then(|runs| disk_runs(vg, &place, &runs)) {
            Ok(runs) => {
                out.runs = runs;
                out.fs = probe_lv(image, &out.segments());
            }
            Err(LvError::Unsupported(m)) => out.problem = Some(LvProblem::Unsupported(m)),
            Err(LvError::Missing(m)) => out.problem = Some(LvProblem::Incomplete(m)),
            Err(LvError::Corrupt(m)) => out.problem = Some(LvProblem::Corrupt(m)),
        }
        lvs.push(out);
    }
    let mut free = Vec::new();
    for (i, p) in place.iter().enumerate() {
        let (Some(p), Some(pvm)) = (p, vg.pvs.get(i)) else {
            continue;
        };
        for (first, count) in vg.free_extents(i) {
            let start = pvm.pe_start_bytes + first * vg.extent_bytes;
            let len = (count * vg.extent_bytes).min(p.size_bytes.saturating_sub(start));
            if len > 0 {
                free.push(DiskRange {
                    disk_offset: p.start_bytes + start,
                    len,
                    partition: p.index,
                });
            }
        }
    }
    VolumeGroup {
        name: vg.name.clone(),
        uuid: vg.uuid.clone(),
        seqno: vg.seqno,
        pvs: vg
            .pvs
            .iter()
            .zip(&place)
            .map(|(pv, p)| PvRef {
                name: pv.name.clone(),
                uuid: lvm::label::format_uuid(&pv.uuid),
                partition: p.map(|p| p.index),
            })
            .collect(),
        lvs,
        free,
    }
}

/// PV runs as disk runs, each checked to lie inside its PV's partition;
/// runs contiguous on the disk are merged.
fn disk_runs(
    vg: &VgMeta,
    place: &[Option<&Partition>],
    runs: &[lvm::vg::PvRun],
) -> std::result::Result<Vec<LvRun>, LvError> {
    let mut out: Vec<LvRun> = Vec::new();
    for r in runs {
        let (Some(Some(part)), Some(pvm)) = (place.get(r.pv), vg.pvs.get(r.pv)) else {
            return Err(LvError::Missing(format!("VG {}: a PV is missing", vg.name)));
        };
        if r.pv_offset
            .checked_add(r.len)
            .is_none_or(|e| e > part.size_bytes)
        {
            return Err(LvError::Corrupt(format!(
                "VG {}: extents at byte {} of {} ({} bytes) are past the end of the {}-byte PV (partition {})",
                vg.name, r.pv_offset, pvm.name, r.len, part.size_bytes, part.index
            )));
        }
        let disk_offset = part.start_bytes + r.pv_offset;
        match out.last_mut() {
            Some(l)
                if l.segment.disk_offset + l.segment.len == disk_offset
                    && l.segment.volume_offset + l.segment.len == r.lv_offset =>
            {
                l.segment.len += r.len;
            }
            _ => out.push(LvRun {
                segment: Segment {
                    volume_offset: r.lv_offset,
                    disk_offset,
                    len: r.len,
                },
                partition: part.index,
                pv_uuid: lvm::label::format_uuid(&pvm.uuid),
                pv_offset: r.pv_offset,
            }),
        }
    }
    Ok(out)
}

/// Probe the first [`PROBE_BYTES`] of an LV, gathered through its runs.
fn probe_lv(image: &Image, segments: &[Segment]) -> Option<Probe> {
    let mut head = Vec::new();
    for s in segments {
        let want = PROBE_BYTES.saturating_sub(head.len() as u64).min(s.len);
        if want == 0 {
            break;
        }
        head.extend_from_slice(
            image
                .range(s.disk_offset, want, "logical volume probe")
                .ok()?,
        );
    }
    probe::probe(&head)
}

/// Which volume: a partition number or an LV's `vg/lv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeId {
    Partition(u32),
    Logical(String),
}

/// One place a filesystem may be.
#[derive(Debug, Clone, Copy)]
pub enum VolumeRef<'a> {
    Partition(&'a Partition),
    Logical(&'a LogicalVolume),
}

impl VolumeRef<'_> {
    pub fn fs(&self) -> Option<&Probe> {
        match self {
            VolumeRef::Partition(p) => p.fs.as_ref(),
            VolumeRef::Logical(l) => l.fs.as_ref(),
        }
    }

    pub fn id(&self) -> VolumeId {
        match self {
            VolumeRef::Partition(p) => VolumeId::Partition(p.index),
            VolumeRef::Logical(l) => VolumeId::Logical(l.name()),
        }
    }

    /// `partition 2` or `logical volume vg0/root`, for messages.
    pub fn describe(&self) -> String {
        match self {
            VolumeRef::Partition(p) => format!("partition {}", p.index),
            VolumeRef::Logical(l) => format!("logical volume {}", l.name()),
        }
    }

    /// A finding's location naming this volume.
    pub fn location(&self) -> Location {
        match self {
            VolumeRef::Partition(p) => Location {
                partition: Some(p.index),
                ..Location::default()
            },
            VolumeRef::Logical(l) => Location {
                partition: l.partition(),
                volume: Some(l.name()),
                ..Location::default()
            },
        }
    }

    pub fn volume(&self, image: &Image) -> Result<ext4::Volume> {
        match self {
            VolumeRef::Partition(p) => Ok(ext4::Volume::new(image, p)),
            VolumeRef::Logical(l) => l.volume(image),
        }
    }
}

/// The disk's volumes: its partition table and its LVM2 volume groups.
#[derive(Debug, Clone)]
pub struct Volumes {
    pub table: PartitionTable,
    pub lvm: Lvm,
}

impl Volumes {
    /// Read the partition table and the volume groups on it.
    pub fn read(image: &Image) -> Result<Volumes> {
        let table = PartitionTable::read(image)?;
        Ok(Volumes::of(image, table))
    }

    /// As [`Volumes::read`], refusing input with no partition table and
    /// no filesystem signature as [`crate::Error::NotADiskImage`].
    pub fn read_disk(image: &Image) -> Result<Volumes> {
        let table = PartitionTable::read_disk(image)?;
        Ok(Volumes::of(image, table))
    }

    pub fn of(image: &Image, table: PartitionTable) -> Volumes {
        let lvm = Lvm::read(image, &table);
        Volumes { table, lvm }
    }

    /// Every volume, partitions (in table order, extended containers left
    /// out) then LVs.
    pub fn list(&self) -> Vec<VolumeRef<'_>> {
        self.table
            .partitions
            .iter()
            .filter(|p| !p.partition_type.is_container())
            .map(VolumeRef::Partition)
            .chain(self.lvm.lvs().map(VolumeRef::Logical))
            .collect()
    }

    /// The volume named by `id`.
    pub fn get(&self, id: &VolumeId) -> Result<VolumeRef<'_>> {
        match id {
            VolumeId::Partition(n) => self.table.get(*n).map(VolumeRef::Partition),
            VolumeId::Logical(name) => self.lvm.get(name).map(VolumeRef::Logical),
        }
    }
}

#[cfg(test)]
mod tests;
