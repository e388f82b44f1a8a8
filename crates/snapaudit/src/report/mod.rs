//! Findings and reports: the data every audit produces, and its JSON form
//! (`snapaudit.report/1`, see DESIGN.md).

mod finding;
mod glob;
mod sarif;
mod suppress;
pub use finding::{Finding, Location, Severity};
pub use sarif::to_sarif;
pub use suppress::{IgnoreRule, Suppressions};

use serde::{Deserialize, Serialize};

/// Schema tag of the JSON report.
pub const REPORT_SCHEMA: &str = "snapaudit.report/1";

/// The input image as the report describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageInfo {
    pub path: String,
    pub size_bytes: u64,
    /// `raw`, or the compression the input arrived in (`gz`, `zst`, `xz`,
    /// `tar`, `tar.gz`, …) before snapaudit expanded it.
    pub format: String,
}

/// The partition table and what lives in each partition.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DiskInfo {
    /// `gpt`, `mbr` or `none`.
    pub table: String,
    pub partitions: Vec<PartitionInfo>,
    /// LVM2 logical volumes whose physical volumes are on this disk
    /// (absent when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub volumes: Vec<VolumeInfo>,
}

/// A logical volume (`vg/lv`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeInfo {
    /// `vg/lv`.
    pub name: String,
    /// The LV's UUID from the metadata.
    pub uuid: String,
    pub size_bytes: u64,
    /// Filesystem found by probing, as for a partition.
    pub fs: Option<String>,
    /// Filesystem UUID.
    pub fs_uuid: Option<String>,
    pub label: Option<String>,
    /// `root` for the root filesystem.
    pub role: Option<String>,
    /// Why the LV is not read (an unsupported type, a PV missing from this
    /// disk, inconsistent metadata).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub problem: Option<String>,
    /// Where its bytes are: runs in volume order.
    pub segments: Vec<VolumeSegmentInfo>,
}

/// A run of a logical volume that is contiguous on the disk.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeSegmentInfo {
    pub volume_offset: u64,
    /// Image offset.
    pub disk_offset: u64,
    pub len_bytes: u64,
    /// The partition of the physical volume (0 = whole disk).
    pub partition: u32,
    pub pv_uuid: String,
    /// Offset from the physical volume's first byte.
    pub pv_offset: u64,
}

/// One partition (or the whole disk when there is no table).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionInfo {
    pub index: u32,
    pub start_bytes: u64,
    pub size_bytes: u64,
    /// Readable partition type: `linux`, `bios-boot`, `esp`, `swap`, `lvm`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Filesystem found by probing (`ext4`, `xfs`, `vfat`, …), if any.
    pub fs: Option<String>,
    /// Filesystem UUID, if the filesystem has one.
    pub uuid: Option<String>,
    /// Filesystem label, if any.
    pub label: Option<String>,
    /// `root` for the root filesystem snapaudit found by content.
    pub role: Option<String>,
    /// GPT unique partition GUID, or `<disk signature>-<nn>` for MBR.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub partuuid: Option<String>,
    /// GPT partition name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

/// Facts about the installed system, for the report header.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SystemInfo {
    pub os: Option<OsInfo>,
    pub kernels: Vec<String>,
    pub bootloader: Option<String>,
}

/// Distribution identity from os-release.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OsInfo {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

/// Counts and the verdict.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Findings left out of `findings` by a baseline or an ignore file
    /// (see [`Suppressions`]); the counts above do not include them.
    #[serde(default)]
    pub suppressed: usize,
    /// `pass` or `fail` (`error` when the image could not be audited).
    pub verdict: String,
}

/// How much work the audit did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub elapsed_ms: u64,
    pub files_scanned: u64,
    pub bytes_scanned: u64,
}

/// One audit of one image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    pub image: ImageInfo,
    pub profile: String,
    pub disk: DiskInfo,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub system: Option<SystemInfo>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    pub stats: Stats,
    /// Set when the image could not be audited at all; `findings` is then empty.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

impl Report {
    /// A report with no findings yet.
    pub fn new(image: ImageInfo, profile: &str) -> Self {
        Report {
            schema: REPORT_SCHEMA.to_string(),
            image,
            profile: profile.to_string(),
            disk: DiskInfo::default(),
            system: None,
            findings: Vec::new(),
            summary: Summary::default(),
            stats: Stats::default(),
            error: None,
        }
    }

    /// A report for an image that could not be audited (batch jobs keep going).
    pub fn failed(image: ImageInfo, profile: &str, error: &crate::Error) -> Self {
        let mut r = Report::new(image, profile);
        r.error = Some(error.to_string());
        r.finish();
        r
    }

    /// Sort findings (severity, then rule, then location), fingerprint them
    /// and recompute the summary. Call once all findings are in.
    pub fn finish(&mut self) {
        for f in &mut self.findings {
            f.fingerprint = Some(f.compute_fingerprint());
        }
        self.findings.sort_by(|a, b| {
            (b.severity, &a.rule, &a.location).cmp(&(a.severity, &b.rule, &b.location))
        });
        let count = |s| self.findings.iter().filter(|f| f.severity == s).count();
        self.summary.errors = count(Severity::Error);
        self.summary.warnings = count(Severity::Warning);
        self.summary.infos = count(Severity::Info);
        self.summary.verdict = if self.error.is_some() {
            "error"
        } else if self.summary.errors > 0 {
            "fail"
        } else {
            "pass"
        }
        .to_string();
    }

    /// True when the image passed (no error findings and no failure).
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.summary.errors == 0
    }
}

impl DiskInfo {
    /// The report's `disk` object for a table, marking the root partition.
    pub fn from_table(
        table: &crate::partition::PartitionTable,
        root_partition: Option<u32>,
    ) -> Self {
        DiskInfo {
            table: table.kind.as_str().to_string(),
            partitions: table
                .partitions
                .iter()
                .map(|p| {
                    let mut info = p.info();
                    if Some(p.index) == root_partition {
                        info.role = Some("root".to_string());
                    }
                    info
                })
                .collect(),
            volumes: Vec::new(),
        }
    }
}

impl DiskInfo {
    /// The report's `disk` object for a disk's volumes, marking the root
    /// (a partition, or a logical volume: then its PV's partition is not
    /// marked).
    pub fn from_volumes(
        volumes: &crate::volume::Volumes,
        root: Option<&crate::ext4::Volume>,
    ) -> Self {
        let root_lv = root.and_then(|r| r.name());
        let root_partition = root.filter(|r| r.name().is_none()).map(|r| r.partition());
        let mut info = DiskInfo::from_table(&volumes.table, root_partition);
        info.volumes = volumes
            .lvm
            .lvs()
            .map(|lv| lv.info(root_lv == Some(lv.name().as_str())))
            .collect();
        info
    }
}
