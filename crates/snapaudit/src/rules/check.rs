//! `check`: the system-disk audit of one image, from partition table to
//! report.

use std::time::Instant;

use super::ids::DiskIds;
use super::{Profile, accounts, boot, disk, fs as fs_rules, fstab, hygiene, os, selinux, system};
use crate::Result;
use crate::ext4::layout::{Follow, Layout};
use crate::ext4::{Volume, find_root_in};
use crate::image::Image;
use crate::partition::PartitionTable;
use crate::report::{DiskInfo, Finding, ImageInfo, OsInfo, Report, SystemInfo};
use crate::scan::{ScanOptions, scan_disk};
use crate::system::facts::SystemFacts;
use crate::volume::Volumes;

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
    let volumes = Volumes::read_disk(image)?;
    let table = &volumes.table;
    let mut findings: Vec<Finding> = Vec::new();
    disk::table(table, &mut findings);
    disk::lvm(&volumes.lvm, &mut findings);
    disk::encrypted(image, &volumes, &mut findings);
    let root = match options.root_partition {
        None => find_root_in(image, &volumes),
        Some(n) => Some(chosen_root(image, table, n)?),
    };
    report.disk = DiskInfo::from_volumes(&volumes, root.as_ref());
    // The rules (one thread: ext4-view is not Send) and the scan (all the
    // others) run side by side.
    let rules = || match &root {
        None => disk::no_root(
            &volumes,
            None,
            &unopened_ext(image, &volumes),
            &mut findings,
        ),
        Some(volume) => match volume.open() {
            Err(e) => disk::no_root(&volumes, Some((volume, &e)), &[], &mut findings),
            Ok(fs) => {
                disk::layout(table, volume.partition(), &mut findings);
                if let Some(name) = volume.name() {
                    disk::lvm_root(name, volume.partition(), &mut findings);
                }
                let facts = SystemFacts::gather(&fs);
                let ids = DiskIds::with_lvm(table, volume.partition(), &volumes.lvm, volume.name());
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
                        f.location.volume = volume.name().map(str::to_string);
                    }
                }
            }
        },
    };
    let scan_disk_if = || scan.as_ref().map(|s| scan_disk(image, table, s));
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

/// The ext volumes (partitions and LVs) that cannot be opened at all, with
/// the reason.
fn unopened_ext(image: &Image, volumes: &Volumes) -> Vec<(String, String)> {
    volumes
        .list()
        .into_iter()
        .filter(|v| v.fs().is_some_and(|f| f.kind.is_ext()))
        .filter_map(|v| {
            let err = match v.volume(image) {
                Ok(vol) => vol.open().err()?,
                Err(e) => e,
            };
            Some((v.describe(), err.to_string()))
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
