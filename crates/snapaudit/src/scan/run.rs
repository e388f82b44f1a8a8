//! The scan of a whole disk: every regular file of every ext2/3/4
//! filesystem (file mode), their free blocks, the unpartitioned space and
//! the partitions snapaudit cannot read (raw mode), in parallel on rayon's
//! current thread pool.
//!
//! # Plan, scan, resolve
//!
//! 1. **Plan** (cheap): walk each ext filesystem by inode number
//!    ([`files::walk`]), map each file to its data runs in the volume
//!    (in parallel), list the free block ranges and the raw regions, and cut
//!    all of it into work units of at most [`UNIT_BYTES`].
//! 2. **Scan**: the units run in parallel, each worker with its own
//!    [`Scratch`]. A file segment that is one run of the volume is scanned
//!    in place in the mapped image (zero copy): the whole run is the
//!    haystack and each unit reports the matches that start in its slice, so
//!    a large file is split between workers and still every match is found
//!    once. A segment of several runs (a fragmented file) is stitched
//!    through a [`StreamScan`] with bounded memory, so a secret across an
//!    extent boundary is found once. Raw regions skip all-zero blocks (see
//!    [`unallocated`](super::unallocated)).
//! 3. **Resolve**, only for files with matches: line numbers (one pass
//!    counting newlines), the dpkg digest check (vendor content), image
//!    offsets through the file's runs; then raw-region matches whose bytes
//!    equal vendor content found in a live package file are downgraded.
//!
//! Findings do not depend on the number of threads: units are planned and
//! their results collected in a fixed order.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use super::RuleSet;
use super::credentials;
use super::engine::{Match, Scanner, Scratch};
use super::files::{self, FileData, FileEntry, range_bytes};
use super::findings;
use super::sparse::DataMap;
use super::stream::StreamScan;
use super::unallocated::{self, Region, RegionKind, ZERO_BLOCK_BYTES};
use super::vendor::{Provenance, VendorDb, read_file_limited};
use crate::ext4::Volume;
use crate::ext4::layout::{FileByteRange, Layout};
use crate::ext4::{self, Segment};
use crate::image::Image;
use crate::partition::{FsKind, PartitionTable};
use crate::report::{Finding, Severity};
use crate::volume::{LogicalVolume, Lvm, crypt};
use crate::{Error, Result};

/// Largest slice of data one work unit scans: small enough that a big
/// file or free region is shared between workers, large enough that the
/// per-unit overhead does not show. Matches across unit boundaries are
/// found once (tests place secrets there).
pub const UNIT_BYTES: usize = 8 << 20;

/// Matches listed per file (or raw region); the rest are counted in one
/// finding, so that a file full of secrets cannot exhaust memory.
pub const MAX_HITS_PER_FILE: usize = 1000;

/// A fragmented file segment up to this size is copied into the worker's
/// buffer and scanned whole; a larger one streams through a [`StreamScan`]
/// (whose buffer is about 1 MiB). Either way memory per worker is bounded.
const STITCH_COPY_MAX_BYTES: u64 = 4 << 20;

/// Largest Docker config read to look for `auths`.
const MAX_DOCKER_CONFIG_BYTES: u64 = 1 << 20;

/// What the scan runs with.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The compiled rules: [`ScanOptions::builtin`], or with custom rules.
    pub scanner: Arc<Scanner>,
    /// Updated as bytes are scanned (for progress bars); `None` to skip.
    pub progress: Option<Arc<ScanProgress>>,
}

impl ScanOptions {
    /// The built-in rules of RULES.md (compiled once per process).
    pub fn builtin() -> Result<ScanOptions> {
        static BUILTIN: OnceLock<std::result::Result<Arc<Scanner>, String>> = OnceLock::new();
        let scanner = BUILTIN
            .get_or_init(|| {
                Scanner::new(RuleSet::builtin())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| Error::invalid(format!("built-in rules: {e}")))?;
        Ok(ScanOptions {
            scanner,
            progress: None,
        })
    }

    /// The built-in rules plus custom ones (gitleaks TOML, see
    /// [`RuleSet::from_gitleaks_toml`]): a custom rule with a built-in
    /// rule's detector name replaces it.
    pub fn with_rules(custom: RuleSet) -> Result<ScanOptions> {
        Ok(ScanOptions {
            scanner: Arc::new(Scanner::new(RuleSet::builtin().merge(custom))?),
            progress: None,
        })
    }

    /// The same options reporting progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<ScanProgress>) -> ScanOptions {
        self.progress = Some(progress);
        self
    }
}

/// Progress of a running scan, readable from another thread: the total is
/// known once the plan is made (before that it is 0).
#[derive(Debug, Default)]
pub struct ScanProgress {
    total_bytes: AtomicU64,
    done_bytes: AtomicU64,
}

impl ScanProgress {
    pub fn new() -> Arc<ScanProgress> {
        Arc::new(ScanProgress::default())
    }

    /// Bytes the scan will look at (file data, free and raw space).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes.load(Ordering::Relaxed)
    }

    /// Bytes looked at so far.
    pub fn done_bytes(&self) -> u64 {
        self.done_bytes.load(Ordering::Relaxed)
    }

    fn add_total(&self, n: u64) {
        self.total_bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn add_done(&self, n: u64) {
        self.done_bytes.fetch_add(n, Ordering::Relaxed);
    }
}

/// What [`scan_disk`] found and how much it read.
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    /// Regular files scanned (hard links once).
    pub files_scanned: u64,
    /// Bytes looked at: file data plus free, unpartitioned and unreadable
    /// space (zero blocks included).
    pub bytes_scanned: u64,
    /// Directories and inodes that could not be read (skipped).
    pub unreadable: u64,
}

/// One ext filesystem being scanned.
struct ExtFs<'a> {
    /// The partition of its first byte.
    partition: u32,
    /// `vg/lv` for a logical volume.
    volume: Option<Arc<str>>,
    /// Where the volume is on the disk (one run for a partition).
    segments: Vec<Segment>,
    layout: Layout<'a>,
}

impl ExtFs<'_> {
    /// The image offset of volume offset `v`.
    fn image_offset(&self, v: u64) -> u64 {
        let i = self
            .segments
            .partition_point(|s| s.volume_offset.saturating_add(s.len) <= v);
        match self.segments.get(i) {
            Some(s) => s.disk_offset.saturating_add(v - s.volume_offset),
            None => v,
        }
    }

    /// The disk runs of volume bytes `offset..offset + len`.
    fn disk_ranges(&self, offset: u64, len: u64) -> Vec<(u64, u64)> {
        let end = offset.saturating_add(len);
        self.segments
            .iter()
            .filter_map(|s| {
                let lo = offset.max(s.volume_offset);
                let hi = end.min(s.volume_offset.saturating_add(s.len));
                (lo < hi).then(|| (s.disk_offset + (lo - s.volume_offset), hi - lo))
            })
            .collect()
    }

    /// Name the logical volume in findings made in it.
    fn mark(&self, findings: &mut [Finding]) {
        if let Some(v) = &self.volume {
            for f in findings {
                f.location.volume = Some(v.to_string());
            }
        }
    }
}

/// A planned file.
struct PlannedFile {
    fs: usize,
    entry: FileEntry,
    data: FileData,
    /// [`FileData::segments`], computed once.
    segments: Vec<Range<usize>>,
}

impl PlannedFile {
    /// The runs of segment `seg`.
    fn segment(&self, seg: usize) -> Option<&[FileByteRange]> {
        let r = self.segments.get(seg)?;
        self.data.ranges.get(r.clone())
    }
}

/// A work unit.
#[derive(Debug, Clone)]
enum Unit {
    /// Segment `seg` of file `file`, one run, scanned in place; report the
    /// matches starting in `report` (offsets in the run).
    InPlace {
        file: usize,
        seg: usize,
        report: Range<usize>,
    },
    /// Segment `seg` of file `file`, several runs, stitched.
    Stitched { file: usize, seg: usize },
    /// `range` of raw region `region`.
    Raw { region: usize, range: Range<usize> },
}

/// Where a match was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    File(usize),
    Region(usize),
}

/// What one unit produced: matches with offsets in its file (logical
/// offsets) or region.
#[derive(Debug)]
struct UnitResult {
    origin: Origin,
    hits: Vec<Match>,
    /// Matches beyond the cap, counted only.
    dropped: u64,
}

impl UnitResult {
    fn new(origin: Origin) -> UnitResult {
        UnitResult {
            origin,
            hits: Vec::new(),
            dropped: 0,
        }
    }

    fn push(&mut self, m: Match) {
        if self.hits.len() < MAX_HITS_PER_FILE {
            self.hits.push(m);
        } else {
            self.dropped += 1;
        }
    }
}

/// Scans `image` (partitioned as `table`): see the module docs.
pub fn scan_disk(image: &Image, table: &PartitionTable, options: &ScanOptions) -> ScanOutcome {
    let scanner = &*options.scanner;
    let disk = image.bytes();
    let mut outcome = ScanOutcome::default();

    // --- plan: filesystems and raw regions ---------------------------------
    // An ext filesystem is read as its volume shows it: with a journal that
    // needed recovery replayed over it.
    let volumes: Vec<Option<Volume>> = table
        .partitions
        .iter()
        .map(|p| {
            let is_ext = p.fs.as_ref().is_some_and(|f| f.kind.is_ext());
            (is_ext && !p.partition_type.is_container()).then(|| Volume::new(image, p))
        })
        .collect();
    // The logical volumes of the disk's volume groups: each readable one is
    // a volume like a partition; built first, as the layouts borrow them.
    let lvm = Lvm::read(image, table);
    let mut lv_volumes: Vec<(&LogicalVolume, ext4::Volume)> = Vec::new();
    for lv in lvm.lvs() {
        if lv.fs.as_ref().is_some_and(|f| f.kind.is_ext())
            && let Ok(v) = lv.volume(image)
        {
            lv_volumes.push((lv, v));
        }
    }
    let mut exts: Vec<ExtFs<'_>> = Vec::new();
    let mut regions: Vec<Region> = Vec::new();
    // PVs of a volume group that was read are planned LV by LV below.
    let pv_read = |index: u32| {
        lvm.groups
            .iter()
            .any(|g| g.pvs.iter().any(|p| p.partition == Some(index)))
    };
    for (p, volume) in table.partitions.iter().zip(&volumes) {
        if p.partition_type.is_container() {
            continue;
        }
        let bytes = p.bytes(image);
        let start_bytes = p.start_bytes.min(image.size_bytes());
        let kind = p.fs.as_ref().map(|f| f.kind);
        if kind == Some(FsKind::Luks) || kind.is_none() && crypt::detect(bytes).is_some() {
            // Ciphertext: nothing to find (disk.encrypted names it).
            continue;
        }
        if kind == Some(FsKind::Lvm2) && pv_read(p.index) {
            continue;
        }
        if let Some(volume) = volume {
            if let Ok(layout) = Layout::open(volume.bytes()) {
                regions.extend(journal_regions(&layout, p.index, start_bytes));
                exts.push(ExtFs {
                    partition: p.index,
                    volume: None,
                    segments: vec![Segment {
                        volume_offset: 0,
                        disk_offset: start_bytes,
                        len: bytes.len() as u64,
                    }],
                    layout,
                });
                continue;
            }
        }
        regions.push(Region {
            kind: RegionKind::Unreadable {
                partition: p.index,
                fs: kind.map(|k| k.as_str().to_string()),
                volume: None,
            },
            image_start: start_bytes,
            len_bytes: bytes.len() as u64,
        });
    }
    // What of each read PV is covered by an LV or free extents; the rest
    // (labels, metadata areas, LVs of unread types) is scanned raw.
    let mut covered: Vec<(u32, u64, u64)> = Vec::new();
    for lv in lvm.lvs() {
        let name: Arc<str> = lv.name().into();
        let opened = lv_volumes
            .iter()
            .find(|(l, _)| std::ptr::eq(*l, lv))
            .and_then(|(_, v)| Layout::open(v.bytes()).ok());
        for r in &lv.runs {
            covered.push((r.partition, r.segment.disk_offset, r.segment.len));
        }
        if let Some(layout) = opened {
            exts.push(ExtFs {
                partition: lv.partition().unwrap_or(0),
                volume: Some(name),
                segments: lv.segments(),
                layout,
            });
            continue;
        }
        if lv.fs.as_ref().map(|f| f.kind) == Some(FsKind::Luks) {
            continue;
        }
        for r in &lv.runs {
            regions.push(Region {
                kind: RegionKind::Unreadable {
                    partition: r.partition,
                    fs: lv.fs.as_ref().map(|f| f.kind.as_str().to_string()),
                    volume: Some(name.clone()),
                },
                image_start: r.segment.disk_offset,
                len_bytes: r.segment.len,
            });
        }
    }
    for g in &lvm.groups {
        for f in &g.free {
            covered.push((f.partition, f.disk_offset, f.len));
            regions.push(Region {
                kind: RegionKind::PvFree {
                    partition: f.partition,
                    vg: g.name.clone(),
                },
                image_start: f.disk_offset,
                len_bytes: f.len,
            });
        }
    }
    for p in table
        .partitions
        .iter()
        .filter(|p| p.fs.as_ref().map(|f| f.kind) == Some(FsKind::Lvm2) && pv_read(p.index))
    {
        let start = p.start_bytes.min(image.size_bytes());
        let end = p.end_bytes().min(image.size_bytes());
        let mut spans: Vec<(u64, u64)> = covered
            .iter()
            .filter(|c| c.0 == p.index)
            .map(|c| (c.1, c.1.saturating_add(c.2)))
            .collect();
        spans.sort_unstable();
        let mut at = start;
        for (s, e) in spans.into_iter().chain(std::iter::once((end, end))) {
            if s > at {
                regions.push(Region {
                    kind: RegionKind::Unreadable {
                        partition: p.index,
                        fs: Some("LVM2_member".to_string()),
                        volume: None,
                    },
                    image_start: at,
                    len_bytes: s.min(end) - at,
                });
            }
            at = at.max(e);
        }
    }
    regions.extend(unpartitioned(table, image.size_bytes()));

    // The package databases (for vendor content) load while the tree is
    // walked: nearly every system disk has findings to resolve, and loading
    // them after the scan left one core idle for ~10 ms.
    let vendor_dbs: Vec<OnceLock<VendorDb>> = exts.iter().map(|_| OnceLock::new()).collect();
    let mut planned: Vec<PlannedFile> = Vec::new();
    rayon::join(
        || {
            for (fs_index, fs) in exts.iter().enumerate() {
                let walk = files::walk(&fs.layout);
                outcome.unreadable += walk.unreadable;
                let mapped: Vec<Option<PlannedFile>> = walk
                    .files
                    .into_par_iter()
                    .map(|entry| {
                        let inode = fs.layout.inode(entry.ino).ok()?;
                        let data = FileData::of(&fs.layout, &inode).ok()?;
                        Some(PlannedFile {
                            fs: fs_index,
                            entry,
                            segments: data.segments(),
                            data,
                        })
                    })
                    .collect();
                for m in mapped {
                    match m {
                        Some(p) => planned.push(p),
                        None => outcome.unreadable += 1,
                    }
                }
                if let Ok(free) = fs.layout.free_block_ranges() {
                    let block_bytes = fs.layout.superblock().block_size_bytes();
                    let vol_len = fs.layout.volume().len() as u64;
                    for r in free {
                        let (offset, len) = r.byte_range(block_bytes);
                        let len = len.min(vol_len.saturating_sub(offset));
                        // One region per disk run (a logical volume's
                        // free range may cross segments).
                        for (image_start, len_bytes) in fs.disk_ranges(offset, len) {
                            regions.push(Region {
                                kind: RegionKind::Free {
                                    partition: fs.partition,
                                    volume: fs.volume.clone(),
                                },
                                image_start,
                                len_bytes,
                            });
                        }
                    }
                } else {
                    outcome.unreadable += 1;
                }
            }
        },
        || {
            vendor_dbs.par_iter().zip(&exts).for_each(|(db, fs)| {
                db.get_or_init(|| VendorDb::load(&fs.layout));
            });
        },
    );
    outcome.files_scanned = planned.len() as u64;

    let units = plan_units(&planned, &regions);
    let total: u64 = units.iter().map(|u| unit_bytes(u, &planned)).sum();
    outcome.bytes_scanned = total;
    if let Some(p) = &options.progress {
        p.add_total(total);
    }

    // --- scan --------------------------------------------------------------
    let holes = DataMap::of(image);
    let results: Vec<UnitResult> = units
        .par_iter()
        .map_init(
            || (scanner.scratch(), Vec::new()),
            |(scratch, stitched), unit| {
                let result = run_unit(
                    unit,
                    scanner,
                    scratch,
                    stitched,
                    &planned,
                    &exts,
                    &regions,
                    disk,
                    holes.as_ref(),
                );
                if let Some(p) = &options.progress {
                    p.add_done(unit_bytes(unit, &planned));
                }
                result
            },
        )
        .collect();

    // --- resolve -----------------------------------------------------------
    let mut by_origin: BTreeMap<Origin, (Vec<Match>, u64)> = BTreeMap::new();
    for r in results {
        if r.hits.is_empty() && r.dropped == 0 {
            continue;
        }
        let e = by_origin.entry(r.origin).or_default();
        e.1 += r.dropped;
        for m in r.hits {
            if e.0.len() < MAX_HITS_PER_FILE {
                e.0.push(m);
            } else {
                e.1 += 1;
            }
        }
    }
    let file_groups: Vec<(usize, Vec<Match>, u64)> = by_origin
        .iter()
        .filter_map(|(o, (ms, more))| match o {
            Origin::File(i) => Some((*i, ms.clone(), *more)),
            Origin::Region(_) => None,
        })
        .collect();
    let resolved: Vec<Resolved> = file_groups
        .into_par_iter()
        .map(|(i, mut ms, more)| {
            let Some(file) = planned.get(i) else {
                return Resolved::default();
            };
            let (Some(fs), Some(db)) = (exts.get(file.fs), vendor_dbs.get(file.fs)) else {
                return Resolved::default();
            };
            let db = db.get_or_init(|| VendorDb::load(&fs.layout));
            ms.sort_by_key(|m| (m.start, m.end));
            let mut r = resolve_file(fs, file, &ms, more, db);
            fs.mark(&mut r.findings);
            r
        })
        .collect();
    // Vendor secrets by (rule id, redacted evidence): the evidence carries
    // the secret's length and a hash prefix, so equal keys are the same
    // bytes (to 24 bits of hash).
    let mut vendor_secrets: HashMap<(Arc<str>, String), String> = HashMap::new();
    let mut file_findings = Vec::new();
    for r in resolved {
        file_findings.extend(r.findings);
        for v in r.vendor_secrets {
            vendor_secrets.entry((v.rule, v.evidence)).or_insert(v.path);
        }
    }
    // A match elsewhere whose secret is vendor content (a `.pyc` compiled
    // from an unchanged package's `.py`, a maintainer script quoting it) is
    // vendor content too.
    for mut f in file_findings {
        if !f.vendor && f.severity != Severity::Info {
            let key = f.evidence.clone().map(|e| (Arc::from(f.rule.as_str()), e));
            if let Some(path) = key.and_then(|k| vendor_secrets.get(&k)) {
                f.severity = Severity::Info;
                f.vendor = true;
                f.message = format!(
                    "{} (the same bytes are vendor content of the unchanged package file {path})",
                    f.message
                );
            }
        }
        outcome.findings.push(f);
    }
    for (origin, (ms, more)) in &by_origin {
        let Origin::Region(i) = origin else { continue };
        let Some(region) = regions.get(*i) else {
            continue;
        };
        let mut ms: Vec<&Match> = ms.iter().collect();
        ms.sort_by_key(|m| (m.start, m.end));
        for m in ms {
            let offset = region.image_start.saturating_add(m.start as u64);
            let twin = vendor_secrets
                .get(&(m.rule_id.clone(), m.evidence.clone()))
                .map(String::as_str);
            outcome
                .findings
                .push(findings::in_region(m, &region.kind, offset, twin));
        }
        if *more > 0 {
            if let Some(f) = outcome.findings.last().cloned() {
                let mut f = f;
                f.message = format!("{more} more match(es) in the same region are not listed");
                f.evidence = None;
                f.location.length_bytes = None;
                outcome.findings.push(f);
            }
        }
    }

    // --- path rules ----------------------------------------------------------
    for file in &planned {
        let Some(fs) = exts.get(file.fs) else {
            continue;
        };
        let from = outcome.findings.len();
        path_findings(fs, file, scanner, &mut outcome.findings);
        if let Some(new) = outcome.findings.get_mut(from..) {
            fs.mark(new);
        }
    }
    outcome
}

/// The journal's blocks of the ext filesystem `layout` reads (partition
/// `partition`, at image offset `start_bytes`): old copies of metadata and
/// data, as the disk holds them.
fn journal_regions(layout: &Layout<'_>, partition: u32, start_bytes: u64) -> Vec<Region> {
    let vol_len = layout.volume().len() as u64;
    crate::ext4::journal::journal_ranges(layout)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            let len_bytes = r.end.min(vol_len).checked_sub(r.start)?;
            (len_bytes > 0).then(|| Region {
                kind: RegionKind::Journal { partition },
                image_start: start_bytes.saturating_add(r.start),
                len_bytes,
            })
        })
        .collect()
}

/// The regions of the disk that no partition covers (extended containers do
/// not count: the space in them outside logical partitions is unused).
fn unpartitioned(table: &PartitionTable, disk_bytes: u64) -> Vec<Region> {
    let mut spans: Vec<(u64, u64)> = table
        .partitions
        .iter()
        .filter(|p| !p.partition_type.is_container())
        .map(|p| (p.start_bytes.min(disk_bytes), p.end_bytes().min(disk_bytes)))
        .filter(|(s, e)| e > s)
        .collect();
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0u64;
    for (s, e) in spans
        .into_iter()
        .chain(std::iter::once((disk_bytes, disk_bytes)))
    {
        if s > at {
            out.push(Region {
                kind: RegionKind::Unpartitioned,
                image_start: at,
                len_bytes: s - at,
            });
        }
        at = at.max(e);
    }
    out
}

/// Cuts the files and regions into units of at most [`UNIT_BYTES`].
fn plan_units(planned: &[PlannedFile], regions: &[Region]) -> Vec<Unit> {
    let mut units = Vec::new();
    for (file, p) in planned.iter().enumerate() {
        for seg in 0..p.segments.len() {
            match p.segment(seg).unwrap_or(&[]) {
                [one] => {
                    let len = usize::try_from(one.len_bytes).unwrap_or(usize::MAX);
                    let mut at = 0;
                    while at < len {
                        let end = at.saturating_add(UNIT_BYTES).min(len);
                        units.push(Unit::InPlace {
                            file,
                            seg,
                            report: at..end,
                        });
                        at = end;
                    }
                }
                _ => units.push(Unit::Stitched { file, seg }),
            }
        }
    }
    // Raw chunks start on the zero-test grid of their region.
    let step = UNIT_BYTES - UNIT_BYTES % ZERO_BLOCK_BYTES;
    for (region, r) in regions.iter().enumerate() {
        let len = usize::try_from(r.len_bytes).unwrap_or(usize::MAX);
        let mut at = 0;
        while at < len {
            let end = at.saturating_add(step).min(len);
            units.push(Unit::Raw {
                region,
                range: at..end,
            });
            at = end;
        }
    }
    units
}

fn unit_bytes(unit: &Unit, planned: &[PlannedFile]) -> u64 {
    match unit {
        Unit::InPlace { report, .. } => report.len() as u64,
        Unit::Raw { range, .. } => range.len() as u64,
        Unit::Stitched { file, seg } => planned
            .get(*file)
            .and_then(|p| p.segment(*seg))
            .map(|runs| runs.iter().map(|r| r.len_bytes).sum())
            .unwrap_or(0),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_unit(
    unit: &Unit,
    scanner: &Scanner,
    scratch: &mut Scratch,
    stitched: &mut Vec<u8>,
    planned: &[PlannedFile],
    exts: &[ExtFs<'_>],
    regions: &[Region],
    disk: &[u8],
    holes: Option<&DataMap>,
) -> UnitResult {
    let origin = match unit {
        Unit::InPlace { file, .. } | Unit::Stitched { file, .. } => Origin::File(*file),
        Unit::Raw { region, .. } => Origin::Region(*region),
    };
    let mut out = UnitResult::new(origin);
    match unit {
        Unit::InPlace { file, seg, report } => {
            let Some(p) = planned.get(*file) else {
                return out;
            };
            let Some(fs) = exts.get(p.fs) else { return out };
            let Some([run]) = p.segment(*seg) else {
                return out;
            };
            let Some(hay) = range_bytes(fs.layout.volume(), run) else {
                return out;
            };
            let base = run.file_offset_bytes as usize;
            scanner.scan_range_with(
                scratch,
                hay,
                report.clone(),
                Some(&p.entry.path),
                &mut |m| out.push(shift(m, base)),
            );
        }
        Unit::Stitched { file, seg } => {
            let Some(p) = planned.get(*file) else {
                return out;
            };
            let Some(fs) = exts.get(p.fs) else { return out };
            let Some(runs) = p.segment(*seg) else {
                return out;
            };
            let Some(first) = runs.first() else {
                return out;
            };
            let base = first.file_offset_bytes as usize;
            let total: u64 = runs.iter().map(|r| r.len_bytes).sum();
            if total <= STITCH_COPY_MAX_BYTES {
                stitched.clear();
                for run in runs {
                    if let Some(bytes) = range_bytes(fs.layout.volume(), run) {
                        stitched.extend_from_slice(bytes);
                    }
                }
                scanner.scan_range_with(
                    scratch,
                    stitched,
                    0..stitched.len(),
                    Some(&p.entry.path),
                    &mut |m| out.push(shift(m, base)),
                );
                return out;
            }
            let mut stream = StreamScan::new(scanner, Some(&p.entry.path));
            let mut sink = |m: Match| out.push(shift(m, base));
            for run in runs {
                if let Some(bytes) = range_bytes(fs.layout.volume(), run) {
                    stream.push(bytes, &mut sink);
                }
            }
            stream.finish(&mut sink);
        }
        Unit::Raw { region, range } => {
            let Some(r) = regions.get(*region) else {
                return out;
            };
            let data = usize::try_from(r.image_start)
                .ok()
                .zip(usize::try_from(r.len_bytes).ok())
                .and_then(|(s, l)| disk.get(s..s.checked_add(l)?));
            let Some(data) = data else { return out };
            // Region offsets to image offsets and back, for the hole map.
            let next_data = |at: usize| match holes {
                None => at,
                Some(map) => {
                    let image_at = map.next_data(r.image_start.saturating_add(at as u64));
                    usize::try_from(image_at.saturating_sub(r.image_start)).unwrap_or(usize::MAX)
                }
            };
            unallocated::scan_region_chunk(
                scanner,
                scratch,
                data,
                range.clone(),
                &next_data,
                &mut |m| out.push(m),
            );
        }
    }
    out
}

/// `m` with its offsets moved by `base`.
fn shift(mut m: Match, base: usize) -> Match {
    m.start += base;
    m.end += base;
    m.secret_start += base;
    m.secret_end += base;
    m
}

/// A secret found in an unchanged package file.
#[derive(Debug)]
struct VendorSecret {
    rule: Arc<str>,
    /// Redacted evidence: prefix, length and hash prefix of the secret.
    evidence: String,
    path: String,
}

/// What one file's matches become.
#[derive(Debug, Default)]
struct Resolved {
    findings: Vec<Finding>,
    vendor_secrets: Vec<VendorSecret>,
}

/// Findings for one file's matches (sorted by offset), and the vendor
/// secrets it holds.
fn resolve_file(
    fs: &ExtFs<'_>,
    file: &PlannedFile,
    ms: &[Match],
    more: u64,
    db: &VendorDb,
) -> Resolved {
    let volume = fs.layout.volume();
    let path = file.entry.path.as_str();
    // The line of the secret itself: a match may start lines earlier (a
    // `[wifi-security]` section header, an AccessKey ID before its secret).
    let secret_offsets: Vec<u64> = ms.iter().map(|m| m.secret_start as u64).collect();
    let lines = lines_at(volume, &file.data, &secret_offsets);
    let image_offset = |m: &Match| {
        file.data
            .volume_offset(m.start as u64)
            .map(|v| fs.image_offset(v))
    };
    let provenance = if db.is_empty() {
        Provenance::Unknown
    } else {
        db.provenance(path, volume, &file.data)
    };
    let mut out = Vec::new();
    match provenance {
        Provenance::Vendor { package } => {
            let Some(first) = ms.first() else {
                return Resolved::default();
            };
            out.push(findings::vendor_file(
                first,
                ms.len() + usize::try_from(more).unwrap_or(usize::MAX),
                fs.partition,
                path,
                lines.first().copied(),
                image_offset(first),
                &package,
            ));
            let vendor_secrets = ms
                .iter()
                .map(|m| VendorSecret {
                    rule: m.rule_id.clone(),
                    evidence: m.evidence.clone(),
                    path: path.to_string(),
                })
                .collect();
            return Resolved {
                findings: out,
                vendor_secrets,
            };
        }
        Provenance::Modified { package } => {
            let note = format!("file of package {package}, modified since installation");
            for (m, line) in ms.iter().zip(&lines) {
                out.push(findings::in_file(
                    m,
                    fs.partition,
                    path,
                    Some(*line),
                    image_offset(m),
                    Some(&note),
                ));
            }
        }
        Provenance::Unknown => {
            for (m, line) in ms.iter().zip(&lines) {
                out.push(findings::in_file(
                    m,
                    fs.partition,
                    path,
                    Some(*line),
                    image_offset(m),
                    None,
                ));
            }
        }
    }
    if more > 0 {
        let rule = ms.first().map_or("secret.password", |m| &*m.rule_id);
        out.push(findings::truncated(rule, fs.partition, path, more));
    }
    Resolved {
        findings: out,
        vendor_secrets: Vec::new(),
    }
}

/// The 1-based line of each of `offsets` (file offsets, any order): one
/// pass over the file's stored bytes up to the last one (holes hold no
/// newline).
fn lines_at(volume: &[u8], data: &FileData, offsets: &[u64]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets.get(i).copied().unwrap_or(0));
    let mut out = vec![1u64; offsets.len()];
    let Some(last) = offsets.iter().max().copied() else {
        return out;
    };
    let mut next = order.iter().peekable();
    let mut newlines = 0u64;
    data.for_each_piece(volume, &[], &mut |offset, bytes| {
        if offset > last {
            return;
        }
        let end = offset + bytes.len() as u64;
        let mut counted_to = offset;
        while let Some(&&i) = next.peek() {
            let at = offsets.get(i).copied().unwrap_or(0).max(counted_to);
            if at >= end {
                break;
            }
            let (from, to) = ((counted_to - offset) as usize, (at - offset) as usize);
            newlines += super::count_newlines(bytes.get(from..to).unwrap_or(&[]));
            counted_to = at;
            if let Some(o) = out.get_mut(i) {
                *o = newlines + 1;
            }
            next.next();
        }
        let from = (counted_to - offset) as usize;
        newlines += super::count_newlines(bytes.get(from..).unwrap_or(&[]));
    });
    // Offsets past the stored data (cannot happen for scanned bytes).
    for &i in next {
        if let Some(o) = out.get_mut(i) {
            *o = newlines + 1;
        }
    }
    out
}

/// `secret.credentials-file` and custom path-only rules for one file.
fn path_findings(fs: &ExtFs<'_>, file: &PlannedFile, scanner: &Scanner, out: &mut Vec<Finding>) {
    let path = file.entry.path.as_str();
    let image_offset = file
        .data
        .ranges
        .first()
        .map(|r| fs.image_offset(r.volume_offset_bytes));
    if let Some(kind) = credentials::kind_of(path) {
        let has_content = file.data.size_bytes > 0
            && (!kind.needs_content()
                || read_file_limited(&fs.layout, file.entry.ino, MAX_DOCKER_CONFIG_BYTES)
                    .is_some_and(|c| credentials::docker_has_auths(&c)));
        if has_content {
            out.push(findings::credentials_file(
                kind,
                fs.partition,
                path,
                file.data.size_bytes,
                image_offset,
            ));
        }
    }
    scanner.scan_path(path, &mut |m| {
        out.push(findings::path_rule(&m, fs.partition, path));
    });
}

/// Data-disk scan of `image` as a report: the `secret.*` rules and the
/// `hygiene.*` rules that apply to any disk, on every filesystem.
pub fn scan_report(image: &Image, options: &ScanOptions) -> Result<crate::report::Report> {
    crate::rules::scan_report(image, options)
}

/// Opens the image at `path` and scans it with the built-in rules.
pub fn scan_image(path: impl AsRef<std::path::Path>) -> Result<crate::report::Report> {
    let image = Image::open(path.as_ref())?;
    let mut report = scan_report(&image, &ScanOptions::builtin()?)?;
    report.image.path = path.as_ref().display().to_string();
    Ok(report)
}

impl Image {
    /// The sensitive-data scan of this image with the built-in rules (see
    /// [`scan_report`]).
    pub fn scan(&self) -> Result<crate::report::Report> {
        scan_report(self, &ScanOptions::builtin()?)
    }
}
