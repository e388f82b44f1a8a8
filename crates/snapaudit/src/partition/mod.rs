//! Partition tables (GPT through the `gpt` crate, MBR through `mbrman`, or
//! none) and filesystem probing of what each partition holds.
//!
//! The third-party parsers are only handed tables that [`gpt`]'s and
//! [`mbr`]'s own checks have validated first (entry size, counts, every
//! offset inside the image, extended-partition chains that end), because
//! both crates trust some on-disk numbers.
//!
//! Problems that do not stop us from reading the table (a bad backup GPT
//! header, a hybrid MBR, overlapping partitions) are collected as
//! [`TableProblem`]s for the `disk.partition-table` rule.

mod gpt;
mod mbr;
pub mod probe;
mod types;

pub use probe::{FsKind, Probe};
pub use types::PartitionType;

use crate::image::Image;
use crate::report::{PartitionInfo, Severity};
use crate::{Error, Result};

/// Which kind of table the disk has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    Gpt,
    Mbr,
    /// No partition table: a filesystem (or nothing known) starts at byte 0.
    None,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Gpt => "gpt",
            TableKind::Mbr => "mbr",
            TableKind::None => "none",
        }
    }
}

/// One partition, or the whole disk (index 0) when there is no table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based partition number as Linux names it (`sda1`); MBR logical
    /// partitions start at 5. 0 stands for the whole disk.
    pub index: u32,
    pub start_bytes: u64,
    pub size_bytes: u64,
    pub partition_type: PartitionType,
    /// GPT partition name.
    pub name: Option<String>,
    /// GPT unique partition GUID, or `<disk signature>-<nn>` for MBR.
    pub partuuid: Option<String>,
    /// MBR active flag, or GPT "legacy BIOS bootable" attribute.
    pub bootable: bool,
    /// What a probe found inside, if anything.
    pub fs: Option<Probe>,
}

impl Partition {
    pub fn end_bytes(&self) -> u64 {
        self.start_bytes.saturating_add(self.size_bytes)
    }

    /// The partition's bytes inside `image` (clipped to the image's end, so
    /// a partition of a truncated image yields what is there).
    pub fn bytes<'a>(&self, image: &'a Image) -> &'a [u8] {
        let data = image.bytes();
        let start = usize::try_from(self.start_bytes)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = usize::try_from(self.end_bytes())
            .unwrap_or(usize::MAX)
            .min(data.len());
        &data[start..end]
    }

    /// The report's view of this partition.
    pub fn info(&self) -> PartitionInfo {
        PartitionInfo {
            index: self.index,
            start_bytes: self.start_bytes,
            size_bytes: self.size_bytes,
            kind: self.partition_type.name().to_string(),
            fs: self.fs.as_ref().map(|p| p.kind.as_str().to_string()),
            uuid: self.fs.as_ref().and_then(|p| p.uuid.clone()),
            label: self.fs.as_ref().and_then(|p| p.label.clone()),
            role: None,
            partuuid: self.partuuid.clone(),
            name: self.name.clone(),
        }
    }
}

/// Something wrong with the table that did not stop us reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    pub severity: Severity,
    pub message: String,
    /// Byte offset in the image, where one applies.
    pub offset_bytes: Option<u64>,
}

impl TableProblem {
    fn error(message: impl Into<String>, offset_bytes: Option<u64>) -> Self {
        TableProblem {
            severity: Severity::Error,
            message: message.into(),
            offset_bytes,
        }
    }

    fn warning(message: impl Into<String>, offset_bytes: Option<u64>) -> Self {
        TableProblem {
            severity: Severity::Warning,
            message: message.into(),
            offset_bytes,
        }
    }
}

/// The disk's partition table and its partitions, probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    pub kind: TableKind,
    /// Logical sector size the table was found with (512 or 4096).
    pub sector_bytes: u64,
    /// GPT disk GUID or MBR disk signature (8 hex digits).
    pub disk_id: Option<String>,
    pub partitions: Vec<Partition>,
    pub problems: Vec<TableProblem>,
}

impl PartitionTable {
    /// Read the table of `image` and probe every partition.
    ///
    /// Fails only when the disk claims a table that cannot be read at all
    /// (a GPT signature with neither header valid, for instance); smaller
    /// problems land in [`PartitionTable::problems`].
    pub fn read(image: &Image) -> Result<PartitionTable> {
        let disk = image.bytes();
        let mut table = if let Some(t) = gpt::read(disk)? {
            t
        } else if let Some(t) = mbr::read(disk)? {
            t
        } else {
            PartitionTable {
                kind: TableKind::None,
                sector_bytes: 512,
                disk_id: None,
                partitions: Vec::new(),
                problems: Vec::new(),
            }
        };
        if table.kind == TableKind::None {
            // A filesystem written straight onto the disk.
            if let Some(fs) = probe::probe(disk) {
                table.partitions.push(Partition {
                    index: 0,
                    start_bytes: 0,
                    size_bytes: image.size_bytes(),
                    partition_type: PartitionType::WholeDisk,
                    name: None,
                    partuuid: None,
                    bootable: false,
                    fs: Some(fs),
                });
            }
        } else {
            table.check_geometry(image.size_bytes());
            for p in &mut table.partitions {
                if p.partition_type.is_container() {
                    continue;
                }
                p.fs = probe::probe(p.bytes(image));
            }
        }
        Ok(table)
    }

    /// [`PartitionTable::read`], refusing input that is not a disk image at
    /// all: no table and nothing probed at byte 0 is
    /// [`Error::NotADiskImage`], so that every audit reports random bytes the
    /// same way instead of as a failing system disk. (`read` itself stays
    /// permissive: it is also the reader of foreign labels, blank disks.)
    pub fn read_disk(image: &Image) -> Result<PartitionTable> {
        let table = PartitionTable::read(image)?;
        if table.kind == TableKind::None && table.partitions.is_empty() {
            return Err(Error::NotADiskImage);
        }
        Ok(table)
    }

    /// Partition `index` as an owned value; 0 is the whole disk even when
    /// the disk has a table (what `--partition 0` promises), probed from
    /// byte 0.
    pub fn select(&self, image: &Image, index: u32) -> Result<Partition> {
        if index != 0 || self.kind == TableKind::None {
            return self.get(index).cloned();
        }
        Ok(Partition {
            index: 0,
            start_bytes: 0,
            size_bytes: image.size_bytes(),
            partition_type: PartitionType::WholeDisk,
            name: None,
            partuuid: None,
            bootable: false,
            fs: probe::probe(image.bytes()),
        })
    }

    /// Flag partitions that overlap or run past the end of the image.
    fn check_geometry(&mut self, disk_bytes: u64) {
        let mut problems = Vec::new();
        for p in &self.partitions {
            if p.end_bytes() > disk_bytes {
                problems.push(TableProblem::error(
                    format!(
                        "partition {} ends at byte {} but the image is only {disk_bytes} bytes (truncated image, or a table from a larger disk)",
                        p.index,
                        p.end_bytes()
                    ),
                    Some(p.start_bytes),
                ));
            }
        }
        // The extended container legitimately encloses its logical partitions.
        let mut spans: Vec<&Partition> = self
            .partitions
            .iter()
            .filter(|p| !p.partition_type.is_container())
            .collect();
        spans.sort_by_key(|p| (p.start_bytes, p.index));
        for w in spans.windows(2) {
            if let [a, b] = w
                && b.start_bytes < a.end_bytes()
            {
                problems.push(TableProblem::error(
                    format!(
                        "partitions {} and {} overlap: {} starts at byte {}, before {} ends at byte {}",
                        a.index,
                        b.index,
                        b.index,
                        b.start_bytes,
                        a.index,
                        a.end_bytes()
                    ),
                    Some(b.start_bytes),
                ));
            }
        }
        self.problems.extend(problems);
    }

    /// The partition with Linux number `index` (0 for the whole disk).
    pub fn get(&self, index: u32) -> Result<&Partition> {
        self.partitions
            .iter()
            .find(|p| p.index == index)
            .ok_or_else(|| {
                let have: Vec<String> = self
                    .partitions
                    .iter()
                    .map(|p| p.index.to_string())
                    .collect();
                Error::invalid(format!(
                    "no partition {index} on this disk (it has: {})",
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ))
            })
    }
}

#[cfg(test)]
mod tests;
