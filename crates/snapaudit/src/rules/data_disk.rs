//! `scan`: the data-disk audit. No boot rules: the partition table
//! (`disk.partition-table`), the sensitive-data scan of the whole disk, and
//! on every ext filesystem the rules the catalogue scopes to any disk
//! (shell histories, authorized_keys, logs, password hashes).

use std::time::Instant;

use super::catalogue::{self, Scope};
use super::check::image_info;
use super::{Profile, accounts, disk, hygiene};
use crate::Result;
use crate::ext4::{FileKind, Fs, Volume, find_root};
use crate::image::Image;
use crate::partition::PartitionTable;
use crate::report::{DiskInfo, Finding, Report};
use crate::scan::{ScanOptions, scan_disk};
use crate::system::facts::SystemFacts;
use crate::system::layout_facts;

/// Scan `image` as a data disk (see the module docs). `Err` only when the
/// image cannot be read at all.
pub fn scan_report(image: &Image, options: &ScanOptions) -> Result<Report> {
    let started = Instant::now();
    let profile = Profile::default();
    let mut report = Report::new(image_info(image), profile.name());
    let table = PartitionTable::read_disk(image)?;
    let root = find_root(image, &table);
    report.disk = DiskInfo::from_table(&table, root.as_ref().map(Volume::partition));
    let mut findings: Vec<Finding> = Vec::new();
    disk::table(&table, &mut findings);
    // The file rules (ext4-view, one thread) and the scan run side by side.
    let rules = || {
        let mut found = Vec::new();
        for p in &table.partitions {
            if !p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
                continue;
            }
            let volume = Volume::new(image, p);
            // ext4-view refuses some filesystems our layout reader scans
            // (inline data, casefold): those get the scan but not these rules.
            let Ok(fs) = volume.open() else { continue };
            let mut on_fs = Vec::new();
            any_disk_rules(&fs, &mut on_fs);
            for mut f in on_fs {
                if f.location.partition.is_none() {
                    f.location.partition = Some(p.index);
                }
                found.push(f);
            }
        }
        found
    };
    let (found, outcome) = rayon::join(rules, || scan_disk(image, &table, options));
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
