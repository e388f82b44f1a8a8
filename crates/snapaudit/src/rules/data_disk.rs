//! `scan`: the data-disk audit. No boot rules: the partition table
//! (`disk.partition-table`), the sensitive-data scan of the whole disk, and
//! on every ext filesystem the rules the catalogue scopes to any disk
//! (shell histories, authorized_keys, logs, password hashes).

use std::time::Instant;

use super::catalogue::{self, Scope};
use super::check::image_info;
use super::{Profile, accounts, disk, hygiene};
use crate::Result;
use crate::ext4::{FileKind, Fs, find_root_in};
use crate::image::Image;
use crate::report::{DiskInfo, Finding, Report};
use crate::scan::{ScanOptions, scan_disk};
use crate::system::facts::SystemFacts;
use crate::system::layout_facts;
use crate::volume::Volumes;

/// Scan `image` as a data disk (see the module docs). `Err` only when the
/// image cannot be read at all.
pub fn scan_report(image: &Image, options: &ScanOptions) -> Result<Report> {
    let started = Instant::now();
    let profile = Profile::default();
    let mut report = Report::new(image_info(image), profile.name());
    let volumes = Volumes::read_disk(image)?;
    let table = &volumes.table;
    let root = find_root_in(image, &volumes);
    report.disk = DiskInfo::from_volumes(&volumes, root.as_ref());
    let mut findings: Vec<Finding> = Vec::new();
    disk::table(table, &mut findings);
    // Volume groups that cannot be read leave LVs unscanned: say so. (An
    // encrypted volume is a system-disk import rule; the scan only skips
    // its ciphertext.)
    disk::lvm(&volumes.lvm, &mut findings);
    // The file rules (ext4-view, one thread) and the scan run side by side.
    let rules = || {
        let mut found = Vec::new();
        for v in volumes.list() {
            if !v.fs().is_some_and(|f| f.kind.is_ext()) {
                continue;
            }
            let Ok(volume) = v.volume(image) else {
                continue;
            };
            // ext4-view refuses some filesystems our layout reader scans
            // (inline data, casefold): those get the scan but not these rules.
            let Ok(fs) = volume.open() else { continue };
            let mut on_fs = Vec::new();
            any_disk_rules(&fs, &mut on_fs);
            let at = v.location();
            for mut f in on_fs {
                if f.location.partition.is_none() {
                    f.location.partition = at.partition;
                    f.location.volume = at.volume.clone();
                }
                found.push(f);
            }
        }
        found
    };
    let (found, outcome) = rayon::join(rules, || scan_disk(image, table, options));
    findings.extend(found);
    findings.extend(outcome.findings);
    report.stats.files_scanned = outcome.files_scanned;
    report.stats.bytes_scanned = outcome.bytes_scanned;
    report.findings = findings
        .into_iter()
        .filter_map(|f| profile.adjust(f))
        .collect();
    report.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    report.finish();
    Ok(report)
}

/// The rules of scope [`Scope::AnyDisk`] that read files, on one filesystem.
fn any_disk_rules(fs: &Fs, out: &mut Vec<Finding>) {
    let mut facts = SystemFacts::gather(fs);
    // A data disk mounted as /home (or anywhere) has its homes at the top.
    if !fs.exists_lossy("/etc") {
        let mut homes = facts.homes.clone();
        for e in fs.read_dir("/").unwrap_or_default() {
            if e.kind == FileKind::Dir && e.name != "lost+found" {
                homes.push(format!("/{}", e.name));
            }
        }
        homes.sort();
        homes.dedup();
        facts.hygiene = layout_facts::hygiene(fs, &homes);
    }
    let mut all = Vec::new();
    hygiene::check(&facts.hygiene, &mut all);
    accounts::check(&facts, &[], &mut all);
    out.extend(
        all.into_iter()
            .filter(|f| catalogue::info(&f.rule).is_some_and(|r| r.scope == Scope::AnyDisk)),
    );
}
