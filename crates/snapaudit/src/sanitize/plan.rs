//! [`Plan`]: from a report to the list of changes that fix its findings.
//!
//! Planning does all the work that can fail: it resolves every path to an
//! inode, computes the metadata edits of deletions and truncations on block
//! copies (see [`MetaEdits`]), maps redactions to image bytes and collects
//! the free space. What cannot be done exactly is listed in
//! [`Plan::not_fixable`] with the reason, so that `--plan-only` shows
//! precisely what [`apply`](super::apply) will write.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::classify::{FileOp, Intent, classify};
use super::edits::MetaEdits;
use super::ranges::{ByteRange, covered, normalize};
use super::unlink;
use super::{FreeSpacePolicy, PlanOptions};
use crate::ext4::layout::{DirEntryRaw, FileByteRange, Follow, Inode, Layout, Superblock};
use crate::ext4::{Recovery, Volume, find_root};
use crate::image::Image;
use crate::partition::{Partition, PartitionTable};
use crate::report::{Finding, Location, Report, Severity};
use crate::{Error, Result};

/// The longest file whose lines are read to comment one out.
const MAX_EDITED_FILE_BYTES: u64 = 1 << 20;
/// Directory levels followed when wiping a tree of logs.
const MAX_WIPE_DEPTH: usize = 64;
/// Files wiped below one directory at most.
const MAX_WIPE_FILES: usize = 100_000;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// A line's first byte becomes `#` (same length, data block only).
    CommentOut,
    /// Matched bytes become `*` (same length, data block only).
    Redact,
    /// The file's data blocks are zeroed; its size is kept.
    Wipe,
    /// The file becomes empty: size 0, its blocks freed.
    Truncate,
    /// The file is unlinked: entry, inode and blocks freed.
    Delete,
    /// Bytes of unallocated space are zeroed.
    ZeroRange,
    /// Every free block of a filesystem is zeroed (what zerofree does).
    ZeroFreeSpace,
    /// A journal that needed recovery is replayed into the copy (the
    /// replayed blocks written, `needs_recovery` cleared, the log emptied),
    /// as e2fsck would.
    ReplayJournal,
    /// The journal's log blocks (all but its superblock) are zeroed: they
    /// hold old copies of files and metadata.
    ZeroJournal,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::CommentOut => "comment-out",
            Operation::Redact => "redact",
            Operation::Wipe => "wipe",
            Operation::Truncate => "truncate",
            Operation::Delete => "delete",
            Operation::ZeroRange => "zero-range",
            Operation::ZeroFreeSpace => "zero-free-space",
            Operation::ReplayJournal => "replay-journal",
            Operation::ZeroJournal => "zero-journal",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The finding an action fixes (or that cannot be fixed), as the report
/// had it. Messages and evidence are already redacted in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRef {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
}

impl From<&Finding> for FindingRef {
    fn from(f: &Finding) -> Self {
        FindingRef {
            rule: f.rule.clone(),
            severity: f.severity,
            message: f.message.clone(),
            location: f.location.clone(),
        }
    }
}

/// One change to the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub op: Operation,
    /// Partition of the filesystem changed (0 = the whole disk).
    pub partition: u32,
    /// The file changed, if the action is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode: Option<u32>,
    /// What is done, for a person.
    pub description: String,
    /// Bytes written, zeroed or freed by this action.
    pub bytes: u64,
    /// The findings this action fixes.
    pub fixes: Vec<FindingRef>,
}

/// A finding the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotFixable {
    pub finding: FindingRef,
    pub reason: String,
}

/// A filesystem the sanitizer refuses to touch: [`apply`](super::apply)
/// fails while the plan holds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub partition: u32,
    pub reason: String,
}

/// Everything the sanitizer will write, in image offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WriteSet {
    /// Ranges that must read as zeros in the output (free space, wiped
    /// files, freed blocks of deleted files), normalized. Written first.
    pub(crate) zero: Vec<ByteRange>,
    /// Bytes written at image offsets after the zeroing, ascending.
    pub(crate) patches: Vec<(u64, Vec<u8>)>,
}

/// The sanitizer's plan for one image. Build it with [`Plan::from_report`],
/// show it (it serializes to JSON), then [`apply`](super::apply) it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The image the plan was made for.
    pub image: String,
    pub actions: Vec<Action>,
    pub not_fixable: Vec<NotFixable>,
    pub refused: Vec<Refusal>,
    #[serde(skip)]
    pub(crate) writes: WriteSet,
}

impl Plan {
    /// Plan the fixes for `report`'s findings on `image` (the image the
    /// report was made from).
    ///
    /// `Err` only when the image cannot be read at all; a finding that
    /// cannot be fixed (a missing file, a layout this code will not edit,
    /// a filesystem whose journal needs recovery) is listed in
    /// `not_fixable` or `refused` instead.
    pub fn from_report(report: &Report, image: &Image, options: &PlanOptions) -> Result<Plan> {
        let table = PartitionTable::read(image)?;
        let root_volume = find_root(image, &table);
        // A root on a logical volume is not edited (see below): no finding
        // defaults to its PV's partition.
        let root = root_volume
            .as_ref()
            .filter(|v| v.name().is_none())
            .map(|v| v.partition());
        let root_lv = root_volume
            .as_ref()
            .and_then(|v| v.name().map(str::to_string));
        let mut plan = Plan {
            image: image.path().display().to_string(),
            actions: Vec::new(),
            not_fixable: Vec::new(),
            refused: Vec::new(),
            writes: WriteSet::default(),
        };
        // Findings per filesystem (partition number), in report order.
        let mut per_fs: BTreeMap<u32, Vec<(FindingRef, Intent)>> = BTreeMap::new();
        for f in &report.findings {
            let intent = classify(f, options);
            let finding = FindingRef::from(f);
            // Writing inside a logical volume means writing through its
            // segments on the PVs; not done yet, so say so rather than guess.
            let lv = f.location.volume.clone().or_else(|| {
                (f.location.partition.is_none() && matches!(intent, Intent::File { .. }))
                    .then(|| root_lv.clone())
                    .flatten()
            });
            if let Some(lv) = lv
                && !matches!(intent, Intent::Ignore | Intent::Human(_))
            {
                plan.not_fixable.push(NotFixable {
                    finding,
                    reason: format!(
                        "the finding is on the LVM2 logical volume {lv}: snapaudit does not edit inside logical volumes yet; fix it on the source system"
                    ),
                });
                continue;
            }
            match intent {
                Intent::Ignore => {}
                Intent::Human(reason) => plan.not_fixable.push(NotFixable { finding, reason }),
                Intent::File { .. } => match f.location.partition.or(root) {
                    Some(p) => per_fs.entry(p).or_default().push((finding, intent)),
                    None => plan.not_fixable.push(NotFixable {
                        finding,
                        reason: "no root filesystem was found to hold the file".into(),
                    }),
                },
                Intent::Unallocated {
                    offset_bytes,
                    len_bytes,
                } => {
                    // A range names its partition by where it is; without
                    // one, the finding's partition (or the root) is meant.
                    let target = if len_bytes > 0 {
                        table
                            .partitions
                            .iter()
                            .find(|p| (p.start_bytes..p.end_bytes()).contains(&offset_bytes))
                            .map(|p| p.index)
                    } else {
                        f.location.partition.or(root)
                    };
                    match target {
                        Some(p) => per_fs.entry(p).or_default().push((finding, intent)),
                        None => plan.not_fixable.push(NotFixable {
                            finding,
                            reason: "the bytes are outside every partition: zeroing disk areas outside the filesystems could destroy a boot loader or the partition table; left to a person".into(),
                        }),
                    }
                }
            }
        }
        // Free space is zeroed on every ext filesystem, findings or not.
        if options.free_space == FreeSpacePolicy::Zero {
            for p in &table.partitions {
                if p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
                    per_fs.entry(p.index).or_default();
                }
            }
        }
        let dtime = deletion_time();
        let mut zero: Vec<ByteRange> = Vec::new();
        let mut patches: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut replayed: Vec<(u64, Vec<u8>)> = Vec::new();
        for (index, items) in per_fs {
            let part = match table.get(index) {
                Ok(p) => p,
                Err(e) => {
                    let reason = format!("partition {index}: {e}");
                    not_fixable_all(&mut plan, items, &reason);
                    continue;
                }
            };
            // An MBR extended partition encloses its logical partitions by
            // design; it is a container, not another filesystem.
            let overlaps = table.partitions.iter().any(|other| {
                other.index != part.index
                    && !other.partition_type.is_container()
                    && !part.partition_type.is_container()
                    && other.start_bytes < part.end_bytes()
                    && part.start_bytes < other.end_bytes()
            });
            let mut fs = FsPlanner::new(image, part, options, dtime);
            if overlaps {
                fs.refuse(
                    items,
                    format!(
                        "partition {index} overlaps another partition: its free blocks may be another filesystem's data; fix the partition table first"
                    ),
                );
            } else {
                fs.plan(items);
            }
            plan.actions.append(&mut fs.actions);
            plan.not_fixable.append(&mut fs.not_fixable);
            plan.refused.extend(fs.refusal);
            zero.append(&mut fs.zero);
            patches.append(&mut fs.patches);
            replayed.append(&mut fs.replayed);
        }
        let zero = normalize(zero);
        // The replayed blocks carry the plan's own edits and zeroing, so
        // that the order in which the patches are written does not matter.
        for (offset, bytes) in &mut replayed {
            overlay(*offset, bytes, &zero, &patches);
        }
        patches.append(&mut replayed);
        patches.sort_by_key(|(offset, _)| *offset);
        plan.writes = WriteSet { zero, patches };
        Ok(plan)
    }

    /// Whether [`apply`](super::apply) will refuse this plan (a
    /// filesystem must not be touched).
    pub fn is_refused(&self) -> bool {
        !self.refused.is_empty()
    }

    /// Bytes the output will read as zeros because of the plan.
    pub fn zeroed_bytes(&self) -> u64 {
        self.writes.zero.iter().map(|r| r.len_bytes).sum()
    }

    /// The ranges the output will read as zeros (ascending, merged).
    pub fn zeroed_ranges(&self) -> &[ByteRange] {
        &self.writes.zero
    }

    /// The ranges the plan writes after the zeroing (metadata blocks, `#`,
    /// `*`), ascending; they may overlap each other and zeroed ranges.
    pub fn patched_ranges(&self) -> Vec<ByteRange> {
        self.writes
            .patches
            .iter()
            .map(|(offset, bytes)| ByteRange::new(*offset, bytes.len() as u64))
            .collect()
    }

    /// Bytes written by the plan besides the zeroing.
    pub fn patched_bytes(&self) -> u64 {
        self.writes
            .patches
            .iter()
            .map(|(_, b)| b.len() as u64)
            .sum()
    }
}

/// `bytes` (at image offset `offset`) with the parts that `zero` covers
/// zeroed and the parts that `patches` cover overwritten.
fn overlay(offset: u64, bytes: &mut [u8], zero: &[ByteRange], patches: &[(u64, Vec<u8>)]) {
    let end = offset + bytes.len() as u64;
    let mut put = |at: u64, src: Option<&[u8]>, len: u64| {
        let lo = at.max(offset);
        let hi = (at + len).min(end);
        if lo >= hi {
            return;
        }
        let dst = &mut bytes[(lo - offset) as usize..(hi - offset) as usize];
        match src {
            None => dst.fill(0),
            Some(src) => dst.copy_from_slice(&src[(lo - at) as usize..(hi - at) as usize]),
        }
    };
    for z in zero {
        put(z.offset_bytes, None, z.len_bytes);
    }
    for (at, src) in patches {
        put(*at, Some(src), src.len() as u64);
    }
}

fn not_fixable_all(plan: &mut Plan, items: Vec<(FindingRef, Intent)>, reason: &str) {
    for (finding, _) in items {
        plan.not_fixable.push(NotFixable {
            finding,
            reason: reason.to_string(),
        });
    }
}

/// Seconds since the epoch for `i_dtime`: the clock, or, on a machine whose
/// clock says 1970, a fixed time in 2023 (it only has to be plausible).
fn deletion_time() -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(now)
        .ok()
        .filter(|&t| t > 1_600_000_000)
        .unwrap_or(1_696_161_600)
}

/// `i_dtime` for the inodes the plan deletes on the filesystem of `sb`: its
/// last write time, so that sanitizing one image twice gives byte-identical
/// outputs (comparable by hash). e2fsck reads a dtime below
/// `s_inodes_count` as an orphan-list link, so a zeroed or tiny `s_wtime`
/// falls back to `clock`, then to the smallest value e2fsck accepts.
fn filesystem_deletion_time(sb: &Superblock, clock: u32) -> u32 {
    [
        u64::try_from(sb.s_wtime).unwrap_or(0),
        u64::from(clock),
        u64::from(sb.s_inodes_count) + 1,
    ]
    .into_iter()
    .filter_map(|t| u32::try_from(t).ok())
    .find(|&t| t > sb.s_inodes_count)
    .unwrap_or(u32::MAX)
}

/// One match to overwrite: image offset and length of the match, and the
/// length and SHA-256 prefix of the secret inside it when known.
#[derive(Debug, Clone, Copy)]
struct Redaction {
    offset_bytes: u64,
    len_bytes: u64,
    secret: Option<(u64, [u8; 3])>,
}

/// One file the plan changes, with everything asked of it.
#[derive(Debug)]
struct Target {
    ino: u32,
    /// The strongest operation asked for.
    op: FileOp,
    /// Path as the findings named it (the first one).
    path: String,
    /// For deletions: the directory and the entry to remove.
    entry: Option<(u32, DirEntryRaw)>,
    redactions: Vec<Redaction>,
    comment_lines: BTreeSet<u64>,
    fixes: Vec<FindingRef>,
}

/// The plan for one filesystem.
struct FsPlanner<'i> {
    image: &'i Image,
    part: &'i Partition,
    options: &'i PlanOptions,
    dtime: u32,
    actions: Vec<Action>,
    not_fixable: Vec<NotFixable>,
    refusal: Option<Refusal>,
    zero: Vec<ByteRange>,
    patches: Vec<(u64, Vec<u8>)>,
    /// The journal's replayed blocks (image offsets), written under the
    /// plan's edits.
    replayed: Vec<(u64, Vec<u8>)>,
}

impl<'i> FsPlanner<'i> {
    fn new(image: &'i Image, part: &'i Partition, options: &'i PlanOptions, dtime: u32) -> Self {
        FsPlanner {
            image,
            part,
            options,
            dtime,
            actions: Vec::new(),
            not_fixable: Vec::new(),
            refusal: None,
            zero: Vec::new(),
            patches: Vec::new(),
            replayed: Vec::new(),
        }
    }

    fn index(&self) -> u32 {
        self.part.index
    }

    fn start(&self) -> u64 {
        self.part.start_bytes
    }

    fn plan(&mut self, items: Vec<(FindingRef, Intent)>) {
        let is_ext = self.part.fs.as_ref().is_some_and(|f| f.kind.is_ext());
        if !is_ext {
            let what = self
                .part
                .fs
                .as_ref()
                .map_or("no filesystem snapaudit recognises", |f| f.kind.as_str());
            let reason = format!(
                "partition {} holds {what}: only ext2/3/4 filesystems are edited",
                self.index()
            );
            self.all_not_fixable(items, &reason);
            return;
        }
        // The filesystem as its volume shows it: a journal that needed
        // recovery replayed over it.
        let volume = Volume::new(self.image, self.part);
        let bytes = volume.bytes();
        let layout = match Layout::open(bytes) {
            Ok(l) => l,
            Err(e) => {
                let reason = format!(
                    "partition {}: the filesystem cannot be read: {e}",
                    self.index()
                );
                self.all_not_fixable(items, &reason);
                return;
            }
        };
        let sb = layout.superblock();
        let refusal = if let Some(Recovery::Failed(why)) = volume.recovery() {
            Some(format!(
                "partition {}: the journal needs recovery (the snapshot was taken while the filesystem was mounted) and snapaudit cannot replay it: {why}; replaying it at the next mount could write old blocks back over the sanitized ones; let e2fsck replay it on a copy of the source and sanitize that",
                self.index()
            ))
        } else if sb.needs_recovery() {
            Some(format!(
                "partition {}: the journal needs recovery after its replay",
                self.index()
            ))
        } else if layout.truncated_bytes() > 0 {
            Some(format!(
                "partition {}: the filesystem runs {} bytes past the end of the image",
                self.index(),
                layout.truncated_bytes()
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.refuse(items, reason);
            return;
        }
        let shared_blocks = sb
            .s_feature_ro_compat
            .contains(crate::ext4::layout::RoCompatFeatures::SHARED_BLOCKS);

        self.dtime = filesystem_deletion_time(sb, self.dtime);
        let mut edits = MetaEdits::new(&layout);
        let mut unallocated: Vec<(FindingRef, u64, u64)> = Vec::new();
        let mut targets: BTreeMap<u32, Target> = BTreeMap::new();
        for (finding, intent) in items {
            match intent {
                Intent::File { .. } if shared_blocks => self.not_fixable.push(NotFixable {
                    finding,
                    reason: "the filesystem has the shared_blocks feature: a block may belong to several files, so changing one file's blocks could change others".into(),
                }),
                Intent::File { path, op } => {
                    if let Err(reason) = self.add_target(&layout, &mut targets, &finding, &path, op)
                    {
                        self.not_fixable.push(NotFixable { finding, reason });
                    }
                }
                Intent::Unallocated {
                    offset_bytes,
                    len_bytes,
                } => unallocated.push((finding, offset_bytes, len_bytes)),
                Intent::Human(_) | Intent::Ignore => {}
            }
        }
        for target in targets.into_values() {
            self.execute(&mut edits, target);
        }
        let finished = match edits.finish() {
            Ok(f) => f,
            Err(e) => {
                // Settling counters failed: drop every metadata change of
                // this filesystem rather than write a half-consistent one.
                let reason = format!("partition {}: metadata update failed: {e}", self.index());
                self.actions
                    .retain(|a| !matches!(a.op, Operation::Delete | Operation::Truncate));
                self.refusal = Some(Refusal {
                    partition: self.index(),
                    reason,
                });
                return;
            }
        };
        let block_size = u64::from(sb.block_size_bytes());
        let start = self.start();
        for patch in finished.patches {
            self.patches
                .push((start + patch.volume_offset_bytes, patch.bytes));
        }
        let freed: Vec<ByteRange> = finished
            .freed
            .iter()
            .map(|r| {
                ByteRange::new(
                    start + r.first_block * block_size,
                    r.len_blocks * block_size,
                )
            })
            .collect();
        self.zero.extend(freed.iter().copied());

        // Free space after the plan: the bitmaps' free blocks plus the
        // blocks the plan frees.
        let mut free: Vec<ByteRange> = match layout.free_block_ranges() {
            Ok(ranges) => ranges
                .iter()
                .map(|r| {
                    ByteRange::new(
                        start + r.first_block * block_size,
                        r.len_blocks * block_size,
                    )
                })
                .collect(),
            Err(e) => {
                let reason = format!(
                    "partition {}: the block bitmaps cannot be read: {e}",
                    self.index()
                );
                self.all_not_fixable(
                    unallocated
                        .into_iter()
                        .map(|(f, o, l)| {
                            (
                                f,
                                Intent::Unallocated {
                                    offset_bytes: o,
                                    len_bytes: l,
                                },
                            )
                        })
                        .collect(),
                    &reason,
                );
                return;
            }
        };
        free.extend(freed);
        let free = normalize(free);
        let mut zero_free = if self.options.free_space == FreeSpacePolicy::Zero {
            let bytes: u64 = free.iter().map(|r| r.len_bytes).sum();
            self.zero.extend(free.iter().copied());
            Some(Action {
                op: Operation::ZeroFreeSpace,
                partition: self.index(),
                path: None,
                inode: None,
                description: format!(
                    "zero the {} free blocks ({}) of partition {}",
                    bytes / block_size,
                    human_bytes(bytes),
                    self.index()
                ),
                bytes,
                fixes: Vec::new(),
            })
        } else {
            None
        };
        let unallocated = self.journal(&volume, &layout, unallocated);
        for (finding, offset, len) in unallocated {
            let in_free = len > 0 && covered(&free, offset, len);
            match (&mut zero_free, in_free) {
                (Some(action), true) => action.fixes.push(finding),
                // No byte range, but all free space is zeroed.
                (Some(action), false) if len == 0 => action.fixes.push(finding),
                (None, true) => {
                    self.zero.push(ByteRange::new(offset, len));
                    self.actions.push(Action {
                        op: Operation::ZeroRange,
                        partition: self.index(),
                        path: None,
                        inode: None,
                        description: format!(
                            "zero {len} bytes of unallocated space at image byte {offset}"
                        ),
                        bytes: len,
                        fixes: vec![finding],
                    });
                }
                _ => self.not_fixable.push(NotFixable {
                    finding,
                    reason: "the matched bytes are not in this filesystem's free space (the report may be for another image)".into(),
                }),
            }
        }
        self.actions.extend(zero_free);
    }

    /// A replayed journal goes into the copy (its blocks, as the volume
    /// shows them, under the plan's edits); the log is zeroed when it was
    /// replayed or holds findings, and is empty. Returns the unallocated
    /// findings the zeroed log does not cover.
    fn journal(
        &mut self,
        volume: &Volume,
        layout: &Layout<'_>,
        unallocated: Vec<(FindingRef, u64, u64)>,
    ) -> Vec<(FindingRef, u64, u64)> {
        let start = self.start();
        let replayed = match volume.recovery() {
            Some(Recovery::Replayed {
                transactions,
                blocks_replayed,
                patched,
                ..
            }) => {
                let mut bytes = 0;
                for r in patched {
                    if let Some(b) = usize::try_from(r.start)
                        .ok()
                        .and_then(|s| volume.bytes().get(s..s + (r.end - r.start) as usize))
                    {
                        self.replayed.push((start + r.start, b.to_vec()));
                        bytes += b.len() as u64;
                    }
                }
                self.actions.push(Action {
                    op: Operation::ReplayJournal,
                    partition: self.index(),
                    path: None,
                    inode: None,
                    description: format!(
                        "replay the journal of partition {} into the copy ({transactions} transaction(s), {blocks_replayed} block(s)), clear needs_recovery and empty the log, as e2fsck does",
                        self.index()
                    ),
                    bytes,
                    fixes: Vec::new(),
                });
                true
            }
            _ => false,
        };
        let log: Vec<ByteRange> = match crate::ext4::journal::empty_log_ranges(layout) {
            Ok(Some(ranges)) => ranges
                .into_iter()
                .map(|r| ByteRange::new(start + r.start, r.end - r.start))
                .collect(),
            _ => return unallocated,
        };
        let (in_log, rest): (Vec<_>, Vec<_>) = unallocated
            .into_iter()
            .partition(|(_, offset, len)| *len > 0 && covered(&log, *offset, *len));
        if !replayed && in_log.is_empty() {
            return rest;
        }
        let bytes: u64 = log.iter().map(|r| r.len_bytes).sum();
        self.zero.extend(log.iter().copied());
        self.actions.push(Action {
            op: Operation::ZeroJournal,
            partition: self.index(),
            path: None,
            inode: None,
            description: format!(
                "zero the journal's log of partition {} ({}): old copies of files and metadata",
                self.index(),
                human_bytes(bytes)
            ),
            bytes,
            fixes: in_log.into_iter().map(|(f, _, _)| f).collect(),
        });
        rest
    }

    /// Refuse to touch this filesystem — if the plan would touch it at all
    /// (findings to fix, or free space to zero).
    fn refuse(&mut self, items: Vec<(FindingRef, Intent)>, reason: String) {
        let modifies = !items.is_empty() || self.options.free_space == FreeSpacePolicy::Zero;
        if modifies && self.part.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
            self.all_not_fixable(items, &reason);
            self.refusal = Some(Refusal {
                partition: self.index(),
                reason,
            });
        } else {
            self.all_not_fixable(items, &reason);
        }
    }

    fn all_not_fixable(&mut self, items: Vec<(FindingRef, Intent)>, reason: &str) {
        for (finding, _) in items {
            self.not_fixable.push(NotFixable {
                finding,
                reason: reason.to_string(),
            });
        }
    }

    /// Resolve one finding's file and merge it into `targets`. `Err` is the
    /// reason it cannot be fixed.
    fn add_target(
        &self,
        layout: &Layout<'_>,
        targets: &mut BTreeMap<u32, Target>,
        finding: &FindingRef,
        path: &str,
        op: FileOp,
    ) -> std::result::Result<(), String> {
        let not_found = |e: Error| format!("{path}: {e}");
        if op == FileOp::Wipe {
            // A directory (the summary log finding) means every non-empty
            // regular file below it.
            let inode = layout.lookup_inode(path, Follow::All).map_err(not_found)?;
            if inode.is_dir() {
                let files = wipe_tree(layout, inode.ino, path).map_err(not_found)?;
                if files.is_empty() {
                    return Err(format!("{path}: no non-empty file to wipe"));
                }
                for (file_path, ino) in files {
                    merge_target(targets, ino, op, &file_path, None, finding);
                }
                return Ok(());
            }
        }
        if op == FileOp::Delete {
            let (parent, name) =
                split_path(path).ok_or_else(|| format!("{path}: not a file path"))?;
            let dir_ino = layout.lookup(parent, Follow::All).map_err(not_found)?;
            let entries = layout.read_dir(dir_ino).map_err(not_found)?;
            let entry = entries
                .into_iter()
                .find(|e| e.name == name.as_bytes())
                .ok_or_else(|| format!("{path}: no such file in the image"))?;
            merge_target(
                targets,
                entry.ino,
                op,
                path,
                Some((dir_ino, entry)),
                finding,
            );
            return Ok(());
        }
        let ino = layout.lookup(path, Follow::All).map_err(not_found)?;
        merge_target(targets, ino, op, path, None, finding);
        Ok(())
    }

    /// Carry out one target on `edits` (metadata) and the planner's zero
    /// ranges and patches (data). A target that fails leaves `edits` as it
    /// was and becomes `not_fixable`.
    fn execute(&mut self, edits: &mut MetaEdits<'_, '_>, target: Target) {
        let backup = edits.clone();
        let zero_len = self.zero.len();
        let patch_len = self.patches.len();
        match self.execute_inner(edits, &target) {
            Ok(mut actions) => self.actions.append(&mut actions),
            Err(reason) => {
                *edits = backup;
                self.zero.truncate(zero_len);
                self.patches.truncate(patch_len);
                for finding in target.fixes {
                    self.not_fixable.push(NotFixable {
                        finding,
                        reason: format!("{}: {reason}", target.path),
                    });
                }
            }
        }
    }

    fn execute_inner(
        &mut self,
        edits: &mut MetaEdits<'_, '_>,
        target: &Target,
    ) -> std::result::Result<Vec<Action>, String> {
        let layout = edits.layout();
        let inode = layout.inode(target.ino).map_err(|e| e.to_string())?;
        let mut done: Vec<(Operation, String, u64)> = Vec::new();
        match target.op {
            FileOp::Delete => {
                let (dir_ino, entry) = target
                    .entry
                    .as_ref()
                    .ok_or("no directory entry to remove")?;
                let before = edits.freed_blocks();
                unlink::delete(edits, *dir_ino, entry, self.dtime).map_err(|e| e.to_string())?;
                let freed = edits.freed_blocks() - before;
                done.push((
                    Operation::Delete,
                    format!(
                        "delete {} (inode {}, {} bytes; {freed} block(s) freed and zeroed)",
                        target.path, target.ino, inode.i_size
                    ),
                    freed * edits.block_size(),
                ));
            }
            FileOp::Truncate => {
                let before = edits.freed_blocks();
                unlink::truncate(edits, &inode).map_err(|e| e.to_string())?;
                let freed = edits.freed_blocks() - before;
                done.push((
                    Operation::Truncate,
                    format!(
                        "empty {} ({} bytes → 0; {freed} block(s) freed and zeroed): with an empty machine-id systemd generates a new one on first boot",
                        target.path, inode.i_size
                    ),
                    inode.i_size,
                ));
            }
            FileOp::Wipe => {
                content_checks(&inode)?;
                let bytes = self.wipe(edits, &inode)?;
                done.push((
                    Operation::Wipe,
                    format!(
                        "zero the content of {} ({} bytes, size kept)",
                        target.path, inode.i_size
                    ),
                    bytes,
                ));
            }
            FileOp::Redact { .. } | FileOp::CommentOut { .. } => {
                content_checks(&inode)?;
                let ranges = layout.file_byte_ranges(&inode).map_err(|e| e.to_string())?;
                if !target.comment_lines.is_empty() {
                    let content = read_file(layout, &inode)?;
                    let mut lines = Vec::new();
                    for &line in &target.comment_lines {
                        let start = line_start(&content, line)
                            .ok_or_else(|| format!("the file has no line {line}"))?;
                        lines.push(line.to_string());
                        if content.get(start) == Some(&b'#') {
                            continue;
                        }
                        if content.get(start) == Some(&b'\n') {
                            return Err(format!("line {line} is empty"));
                        }
                        let pieces = map_file_range(&ranges, start as u64, 1)
                            .ok_or("the line is not in the file's data")?;
                        self.fill(edits, &inode, &pieces, b'#')?;
                    }
                    done.push((
                        Operation::CommentOut,
                        format!(
                            "comment out {} line {} (its first byte becomes '#')",
                            target.path,
                            lines.join(", ")
                        ),
                        lines.len() as u64,
                    ));
                }
                if !target.redactions.is_empty() {
                    let mut total = 0u64;
                    for &Redaction {
                        offset_bytes: offset,
                        len_bytes: len,
                        secret,
                    } in &target.redactions
                    {
                        let file_offset = self.file_offset_of(&ranges, offset).ok_or(
                            "the matched bytes are not inside the file (the report may be for another image)",
                        )?;
                        let matched = map_file_range(&ranges, file_offset, len)
                            .ok_or("the matched bytes run past the file's data")?;
                        let (skip, len) = match secret {
                            Some((secret_len, digest)) => (
                                locate_secret(layout, &matched, secret_len, digest)?,
                                secret_len,
                            ),
                            None => (0, len),
                        };
                        let pieces = map_file_range(&ranges, file_offset + skip, len)
                            .ok_or("the matched bytes run past the file's data")?;
                        self.fill(edits, &inode, &pieces, b'*')?;
                        total += len;
                    }
                    done.push((
                        Operation::Redact,
                        format!(
                            "overwrite {total} matched byte(s) in {} with '*' ({} match(es), same length)",
                            target.path,
                            target.redactions.len()
                        ),
                        total,
                    ));
                }
            }
        }
        Ok(done
            .into_iter()
            .map(|(op, description, bytes)| Action {
                op,
                partition: self.index(),
                path: Some(target.path.clone()),
                inode: Some(target.ino),
                description,
                bytes,
                fixes: target.fixes.clone(),
            })
            .collect())
    }

    /// Image offset → file offset, through the file's volume ranges.
    fn file_offset_of(&self, ranges: &[FileByteRange], image_offset: u64) -> Option<u64> {
        let volume_offset = image_offset.checked_sub(self.start())?;
        ranges.iter().find_map(|r| {
            let within = volume_offset.checked_sub(r.volume_offset_bytes)?;
            (within < r.len_bytes).then(|| r.file_offset_bytes + within)
        })
    }

    /// Write `byte` over the volume ranges `pieces` of `inode`'s content:
    /// data blocks become patches; inline content is edited in the inode
    /// record (whose checksum is then recomputed).
    fn fill(
        &mut self,
        edits: &mut MetaEdits<'_, '_>,
        inode: &Inode,
        pieces: &[(u64, u64)],
        byte: u8,
    ) -> std::result::Result<(), String> {
        if inode.has_inline_data() {
            let record_at = inode.offset_bytes;
            let raw = edits.inode_mut(inode.ino).map_err(|e| e.to_string())?;
            for &(volume_offset, len) in pieces {
                let dst = volume_offset
                    .checked_sub(record_at)
                    .and_then(|s| usize::try_from(s).ok())
                    .zip(usize::try_from(len).ok())
                    .and_then(|(s, l)| raw.get_mut(s..s.checked_add(l)?))
                    .ok_or("inline content outside the inode record")?;
                dst.fill(byte);
            }
            return Ok(());
        }
        for &(volume_offset, len) in pieces {
            let len_usize = usize::try_from(len).map_err(|_| "range too long")?;
            if len > MAX_EDITED_FILE_BYTES {
                return Err("a single redaction over 1 MiB is refused".into());
            }
            self.patches
                .push((self.start() + volume_offset, vec![byte; len_usize]));
        }
        Ok(())
    }

    /// Zero a file's content, size kept: every allocated block (written or
    /// not: uninitialized extents still hold old bytes), or the inline
    /// bytes. Returns the bytes zeroed.
    fn wipe(
        &mut self,
        edits: &mut MetaEdits<'_, '_>,
        inode: &Inode,
    ) -> std::result::Result<u64, String> {
        let layout = edits.layout();
        if inode.has_inline_data() {
            let ranges = layout.file_byte_ranges(inode).map_err(|e| e.to_string())?;
            let pieces: Vec<(u64, u64)> = ranges
                .iter()
                .map(|r| (r.volume_offset_bytes, r.len_bytes))
                .collect();
            self.fill(edits, inode, &pieces, 0)?;
            return Ok(inode.i_size);
        }
        let block_size = edits.block_size();
        let map = layout.file_map(inode).map_err(|e| e.to_string())?;
        let mut bytes = 0u64;
        for e in &map.extents {
            let len = e.len_blocks * block_size;
            self.zero.push(ByteRange::new(
                self.start() + e.physical_block * block_size,
                len,
            ));
            bytes += len;
        }
        Ok(bytes)
    }
}

/// Add `op` on inode `ino` to `targets`, keeping the strongest operation.
fn merge_target(
    targets: &mut BTreeMap<u32, Target>,
    ino: u32,
    op: FileOp,
    path: &str,
    entry: Option<(u32, DirEntryRaw)>,
    finding: &FindingRef,
) {
    let target = targets.entry(ino).or_insert_with(|| Target {
        ino,
        op,
        path: path.to_string(),
        entry: None,
        redactions: Vec::new(),
        comment_lines: BTreeSet::new(),
        fixes: Vec::new(),
    });
    if op.strength() > target.op.strength() {
        target.op = op;
        target.path = path.to_string();
    }
    if entry.is_some() {
        target.entry = entry;
    }
    match op {
        FileOp::Redact {
            offset_bytes,
            len_bytes,
            secret,
        } => target.redactions.push(Redaction {
            offset_bytes,
            len_bytes,
            secret,
        }),
        FileOp::CommentOut { line } => {
            target.comment_lines.insert(line);
        }
        _ => {}
    }
    if !target.fixes.contains(finding) {
        target.fixes.push(finding.clone());
    }
}

/// Where the secret is inside the match at `pieces`: the offset of the
/// `secret_len` bytes whose SHA-256 starts with `digest` (the evidence's
/// hash). None found means the report is not about these bytes (another
/// image, or the file changed): nothing is overwritten then.
fn locate_secret(
    layout: &Layout<'_>,
    pieces: &[(u64, u64)],
    secret_len: u64,
    digest: [u8; 3],
) -> std::result::Result<u64, String> {
    use sha2::{Digest, Sha256};
    let mut matched = Vec::new();
    for &(volume_offset, len) in pieces {
        if len > MAX_EDITED_FILE_BYTES || matched.len() as u64 > MAX_EDITED_FILE_BYTES {
            return Err("a match over 1 MiB is not redacted".into());
        }
        let bytes = layout
            .bytes_at(volume_offset, len, "matched bytes")
            .map_err(|e| e.to_string())?;
        matched.extend_from_slice(bytes);
    }
    let n = usize::try_from(secret_len).map_err(|_| "secret too long")?;
    if n == 0 || n > matched.len() {
        return Err("the evidence's secret does not fit in the match".into());
    }
    (0..=matched.len() - n)
        .find(|&i| {
            matched
                .get(i..i + n)
                .is_some_and(|s| Sha256::digest(s).get(..3) == Some(&digest[..]))
        })
        .map(|i| i as u64)
        .ok_or_else(|| "the bytes at the finding's offset do not hold the matched secret (no span hashes to the evidence's sha256): the report is not about this image".into())
}

/// Refusals for changing a file's content in place.
fn content_checks(inode: &Inode) -> std::result::Result<(), String> {
    if !inode.is_regular() {
        return Err("not a regular file".into());
    }
    if inode.is_immutable() || inode.is_append_only() {
        return Err(
            "the file carries the immutable or append-only flag (chattr +i/+a): the owner set it on purpose"
                .into(),
        );
    }
    if inode
        .i_flags
        .contains(crate::ext4::layout::InodeFlags::ENCRYPT)
    {
        return Err("the file is encrypted".into());
    }
    Ok(())
}

/// The file's content (at most [`MAX_EDITED_FILE_BYTES`]).
fn read_file(layout: &Layout<'_>, inode: &Inode) -> std::result::Result<Vec<u8>, String> {
    if inode.i_size > MAX_EDITED_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes, more than the {MAX_EDITED_FILE_BYTES} edited in place",
            inode.i_size
        ));
    }
    // Bounded by the check above.
    let mut content = vec![0u8; inode.i_size as usize];
    for r in layout.file_byte_ranges(inode).map_err(|e| e.to_string())? {
        let src = layout
            .bytes_at(r.volume_offset_bytes, r.len_bytes, "file data")
            .map_err(|e| e.to_string())?;
        let at = usize::try_from(r.file_offset_bytes).map_err(|_| "file offset too large")?;
        if let Some(dst) = content.get_mut(at..at + src.len()) {
            dst.copy_from_slice(src);
        }
    }
    Ok(content)
}

/// Byte offset where 1-based line `line` starts.
fn line_start(content: &[u8], line: u64) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0usize;
    for _ in 1..line {
        let nl = memchr::memchr(b'\n', content.get(start..)?)?;
        start += nl + 1;
    }
    (start < content.len()).then_some(start)
}

/// File bytes `[file_offset, file_offset + len)` as volume ranges, or
/// `None` when any of them is not stored (a hole, or past the size).
fn map_file_range(ranges: &[FileByteRange], file_offset: u64, len: u64) -> Option<Vec<(u64, u64)>> {
    let end = file_offset.checked_add(len)?;
    let mut pieces = Vec::new();
    let mut pos = file_offset;
    while pos < end {
        let r = ranges
            .iter()
            .find(|r| r.file_offset_bytes <= pos && pos < r.file_offset_bytes + r.len_bytes)?;
        let within = pos - r.file_offset_bytes;
        let take = (r.len_bytes - within).min(end - pos);
        pieces.push((r.volume_offset_bytes + within, take));
        pos += take;
    }
    Some(pieces)
}

/// `/a/b/c` → (`/a/b`, `c`).
fn split_path(path: &str) -> Option<(&str, &str)> {
    let trimmed = path.trim_end_matches('/');
    let (parent, name) = trimmed.rsplit_once('/')?;
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

/// Every non-empty regular file below directory `dir` (inode numbers
/// deduplicated, depth and count bounded).
fn wipe_tree(layout: &Layout<'_>, dir: u32, path: &str) -> Result<Vec<(String, u32)>> {
    let mut out = Vec::new();
    let mut seen_dirs = BTreeSet::new();
    let mut seen_files = BTreeSet::new();
    let mut pending = vec![(dir, path.trim_end_matches('/').to_string(), 0usize)];
    while let Some((ino, dir_path, depth)) = pending.pop() {
        if !seen_dirs.insert(ino) || depth > MAX_WIPE_DEPTH {
            continue;
        }
        for entry in layout.read_dir(ino)? {
            if entry.name == b"." || entry.name == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.name);
            let child_path = format!("{dir_path}/{name}");
            let Ok(child) = layout.inode(entry.ino) else {
                continue;
            };
            if child.is_dir() {
                pending.push((entry.ino, child_path, depth + 1));
            } else if child.is_regular() && child.i_size > 0 && seen_files.insert(entry.ino) {
                out.push((child_path, entry.ino));
                if out.len() >= MAX_WIPE_FILES {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// `12.3 MiB`-style sizes for descriptions.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_start_after_each_newline() {
        let text = b"one\ntwo\n\nfour";
        assert_eq!(line_start(text, 1), Some(0));
        assert_eq!(line_start(text, 2), Some(4));
        assert_eq!(line_start(text, 3), Some(8));
        assert_eq!(line_start(text, 4), Some(9));
        assert_eq!(line_start(text, 5), None);
        assert_eq!(line_start(text, 0), None);
        assert_eq!(line_start(b"a\n", 2), None);
    }

    #[test]
    fn file_ranges_map_across_fragments() {
        // 8 bytes at volume 100 (file 0..8), a hole, 8 bytes at volume 500
        // (file 16..24).
        let ranges = [
            FileByteRange {
                volume_offset_bytes: 100,
                len_bytes: 8,
                file_offset_bytes: 0,
            },
            FileByteRange {
                volume_offset_bytes: 500,
                len_bytes: 8,
                file_offset_bytes: 8,
            },
        ];
        assert_eq!(
            map_file_range(&ranges, 6, 4),
            Some(vec![(106, 2), (500, 2)])
        );
        assert_eq!(
            map_file_range(&ranges, 0, 16),
            Some(vec![(100, 8), (500, 8)])
        );
        assert_eq!(map_file_range(&ranges, 14, 4), None);
        assert_eq!(map_file_range(&ranges, u64::MAX, 4), None);
    }

    #[test]
    fn paths_split_into_parent_and_name() {
        assert_eq!(split_path("/etc/ssh/key"), Some(("/etc/ssh", "key")));
        assert_eq!(split_path("/key"), Some(("/", "key")));
        assert_eq!(split_path("/etc/.."), None);
        assert_eq!(split_path("key"), None);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
