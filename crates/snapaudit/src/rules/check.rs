//! `check`: the system-disk audit of one image, from partition table to
//! report.

use std::time::Instant;

use super::ids::DiskIds;
use super::{Profile, accounts, boot, disk, fs as fs_rules, fstab, hygiene, os, selinux, system};
use crate::Result;
use crate::ext4::layout::{Follow, Layout};
use crate::ext4::{Volume, find_root};
use crate::image::Image;
use crate::partition::PartitionTable;
use crate::report::{DiskInfo, Finding, ImageInfo, OsInfo, Report, SystemInfo};
use crate::scan::{ScanOptions, scan_disk};
use crate::system::facts::SystemFacts;

/// Whether the sensitive-data scan runs as part of `check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScanPolicy {
    /// Rules and the scan (the default).
    #[default]
    Scan,
    /// Rules only (`--no-scan`).
    Skip,
}

/// Options of a system-disk audit.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub profile: Profile,
    pub scan: ScanPolicy,
    /// The root filesystem is this partition (0 = the whole disk) instead
    /// of the one found by content (`--partition`).
    pub root_partition: Option<u32>,
}

/// The report's `image` object.
pub fn image_info(image: &Image) -> ImageInfo {
    ImageInfo {
        path: image.path().display().to_string(),
        size_bytes: image.size_bytes(),
        format: image.format_name(),
    }
}

/// Audit `image` as a system disk. `Err` only when the image cannot be read
/// at all; everything else is a finding. With [`ScanPolicy::Scan`] the
/// sensitive-data scan runs with the built-in rules.
pub fn check(image: &Image, options: &CheckOptions) -> Result<Report> {
    check_with(image, options, None)
}

/// [`check`] with the scan's rules and progress given by `scan` (default:
/// the built-in rules); `scan` is ignored under [`ScanPolicy::Skip`].
pub fn check_with(
    image: &Image,
    options: &CheckOptions,
    scan: Option<&ScanOptions>,
) -> Result<Report> {
    let started = Instant::now();
    let scan = match (options.scan, scan) {
        (ScanPolicy::Skip, _) => None,
        (ScanPolicy::Scan, Some(s)) => Some(s.clone()),
        (ScanPolicy::Scan, None) => Some(ScanOptions::builtin()?),
    };
    let mut report = Report::new(image_info(image), options.profile.name());
    let table = PartitionTable::read_disk(image)?;
    let mut findings: Vec<Finding> = Vec::new();
    disk::table(&table, &mut findings);
    let root = match options.root_partition {
        None => find_root(image, &table),
        Some(n) => Some(chosen_root(image, &table, n)?),
    };
    report.disk = DiskInfo::from_table(&table, root.as_ref().map(Volume::partition));
    // The rules (one thread: ext4-view is not Send) and the scan (all the
    // others) run side by side.
    let rules = || match &root {
        None => disk::no_root(&table, None, &unopened_ext(image, &table), &mut findings),
        Some(volume) => match volume.open() {
            Err(e) => disk::no_root(&table, Some((volume.partition(), &e)), &[], &mut findings),
            Ok(fs) => {
                disk::layout(&table, volume.partition(), &mut findings);
                let facts = SystemFacts::gather(&fs);
                let ids = DiskIds::new(&table, volume.partition());
                fstab::check(&facts, &ids, &mut findings);
                boot::check(&facts, &ids, &mut findings);
                os::check(&facts, &mut findings);
                let flags = match Layout::open(volume.bytes()) {
                    Ok(layout) => {
                        fs_rules::check(&layout, volume.recovery(), &mut findings);
                        account_file_flags(&layout)
                    }
                    Err(e) => {
                        findings.push(disk::layout_unreadable(volume.partition(), &e));
                        Vec::new()
                    }
                };
                accounts::check(&facts, &flags, &mut findings);
                selinux::check(&facts, &mut findings);
                system::check(&facts, &mut findings);
                hygiene::check(&facts.hygiene, &mut findings);
                report.system = Some(system_info(&facts));
                for f in &mut findings {
                    if f.location.path.is_some() && f.location.partition.is_none() {
                        f.location.partition = Some(volume.partition());
                    }
                }
            }
        },
    };
    let scan_disk_if = || scan.as_ref().map(|s| scan_disk(image, &table, s));
    let ((), outcome) = rayon::join(rules, scan_disk_if);
    if let Some(outcome) = outcome {
        findings.extend(outcome.findings);
        report.stats.files_scanned = outcome.files_scanned;
        report.stats.bytes_scanned = outcome.bytes_scanned;
    }
    report.findings = findings
        .into_iter()
        .filter_map(|f| options.profile.adjust(f))
        .collect();
    report.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    report.finish();
    Ok(report)
}

/// Partition `index` as the root filesystem the caller chose: it must hold
/// an ext filesystem (the file rules read nothing else).
fn chosen_root(image: &Image, table: &PartitionTable, index: u32) -> Result<Volume> {
    let p = table.select(image, index)?;
    match &p.fs {
        Some(fs) if fs.kind.is_ext() => Ok(Volume::new(image, &p)),
        Some(fs) => Err(crate::Error::invalid(format!(
            "partition {index} holds {}, not an ext2/3/4 root filesystem",
            fs.kind.as_str()
        ))),
        None => Err(crate::Error::invalid(format!(
            "partition {index} holds no filesystem snapaudit recognises"
        ))),
    }
}

/// The ext partitions that cannot be opened at all, with the reason.
fn unopened_ext(image: &Image, table: &PartitionTable) -> Vec<(u32, String)> {
    table
        .partitions
        .iter()
        .filter(|p| p.fs.as_ref().is_some_and(|f| f.kind.is_ext()))
        .filter_map(|p| {
            Volume::new(image, p)
                .open()
                .err()
                .map(|e| (p.index, e.to_string()))
        })
        .collect()
}

/// `i_flags` of the account files that exist (symlinks followed).
fn account_file_flags(layout: &Layout<'_>) -> Vec<(String, u32)> {
    accounts::LOCKABLE
        .iter()
        .filter_map(|p| {
            let inode = layout.lookup_inode(p, Follow::All).ok()?;
            Some((p.to_string(), inode.i_flags.bits()))
        })
        .collect()
}

fn system_info(facts: &SystemFacts) -> SystemInfo {
    let os = facts.os_release.as_ref().map(|o| OsInfo {
        id: o.value.id.clone(),
        version_id: o.value.version_id.clone(),
        pretty_name: o.value.pretty_name.clone(),
    });
    let os = os.or_else(|| {
        facts.legacy_releases.first().map(|l| OsInfo {
            id: l.id.clone(),
            version_id: l.version_id.clone(),
            pretty_name: Some(l.text.clone()),
        })
    });
    let mut kernels = facts.boot_kernels.clone();
    kernels.sort();
    SystemInfo {
        os,
        kernels,
        bootloader: facts.boot.as_ref().map(|b| b.kind.as_str().to_string()),
    }
}

impl Image {
    /// Audit this image as a system disk (see [`check`]).
    pub fn check(&self, profile: &Profile) -> Result<Report> {
        check(
            self,
            &CheckOptions {
                profile: profile.clone(),
                scan: ScanPolicy::default(),
                root_partition: None,
            },
        )
    }
}
