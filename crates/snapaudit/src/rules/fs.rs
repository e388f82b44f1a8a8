//! `fs.*`: the root filesystem's superblock and group descriptors.

use crate::ext4::Recovery;
use crate::ext4::layout::{IncompatFeatures, Layout, RoCompatFeatures};
use crate::report::{Finding, Severity};

/// Absolute floor of free space for first boot (package caches, logs,
/// cloud-init, the resize of the root partition itself).
const MIN_FREE_BYTES: u64 = 64 << 20;

/// `layout` reads the filesystem as audited (after a journal replay);
/// `recovery` says what became of a journal that needed recovery.
pub fn check(layout: &Layout<'_>, recovery: Option<&Recovery>, out: &mut Vec<Finding>) {
    let sb = layout.superblock();
    let block_bytes = u64::from(sb.block_size_bytes());
    // The superblock's free counts are updated lazily by the kernel; the
    // group descriptors are what the kernel itself sums at mount time.
    let (mut free_blocks, mut free_inodes) = (0u64, 0u64);
    let mut from_groups = true;
    for g in 0..sb.group_count() {
        match layout.group_desc(g) {
            Ok(d) => {
                free_blocks += u64::from(d.bg_free_blocks_count) * sb.cluster_ratio();
                free_inodes += u64::from(d.bg_free_inodes_count);
            }
            Err(_) => {
                from_groups = false;
                break;
            }
        }
    }
    if !from_groups {
        free_blocks = sb.s_free_blocks_count;
        free_inodes = u64::from(sb.s_free_inodes_count);
    }
    let usable_blocks = free_blocks.saturating_sub(sb.s_r_blocks_count);
    let total = sb.s_blocks_count.max(1);
    let usable_bytes = usable_blocks.saturating_mul(block_bytes);
    let pct = usable_blocks as f64 * 100.0 / total as f64;
    let floor_bytes = MIN_FREE_BYTES.max(total * block_bytes / 100);
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    if usable_bytes < floor_bytes {
        out.push(
            Finding::new(
                "fs.free-space",
                Severity::Error,
                format!(
                    "the root filesystem has {:.1} MiB ({pct:.1} %) free besides the reserved blocks, below the {:.0} MiB an instance needs to boot and update",
                    mib(usable_bytes),
                    mib(floor_bytes)
                ),
            )
            .remediation("delete caches, old kernels and logs, or grow the filesystem before taking the snapshot"),
        );
    } else if pct < 10.0 {
        out.push(
            Finding::new(
                "fs.free-space",
                Severity::Warning,
                format!("the root filesystem is {:.1} % full ({:.1} MiB free besides the reserved blocks)", 100.0 - pct, mib(usable_bytes)),
            )
            .remediation("free space, or use a larger system disk for instances made from the image"),
        );
    }
    let inodes = u64::from(sb.s_inodes_count.max(1));
    if free_inodes * 100 < inodes {
        out.push(
            Finding::new(
                "fs.free-space",
                Severity::Error,
                format!("the root filesystem has {free_inodes} of {inodes} inodes free (under 1 %): new files cannot be created"),
            )
            .remediation("delete small files (caches, session files) before taking the snapshot"),
        );
    }
    if recovery.is_some() || sb.needs_recovery() || !sb.is_clean() {
        let message = match recovery {
            Some(Recovery::Replayed {
                transactions,
                blocks_replayed,
                ..
            }) => format!(
                "the root filesystem was snapshotted while mounted: its journal needed recovery; snapaudit replayed it in memory ({transactions} transaction(s), {blocks_replayed} block(s)) and audited the replayed filesystem, as the first boot will see it"
            ),
            Some(Recovery::Failed(why)) => format!(
                "the root filesystem was snapshotted while mounted: its journal needs recovery, but it could not be replayed ({why}); snapaudit read the filesystem as it is on disk, without the journal's newest writes, which the first boot may or may not recover"
            ),
            None if sb.needs_recovery() => "the root filesystem was snapshotted while mounted: its journal needs recovery; the first boot replays the journal and recent writes may be missing or inconsistent".to_string(),
            None => "the root filesystem was snapshotted while mounted: it is not marked clean; recent writes may be missing or inconsistent".to_string(),
        };
        let mut f = Finding::new("fs.unclean", Severity::Warning, message);
        if let Some(r) = recovery {
            f = f.evidence(r.describe());
        }
        out.push(f.remediation(
            "stop the instance (or sync and freeze the filesystem) before taking the snapshot",
        ));
    }
    if sb.has_errors() || sb.s_error_count > 0 {
        out.push(
            Finding::new(
                "fs.errors",
                Severity::Error,
                format!(
                    "the superblock records filesystem errors (state {:#06x}, {} error(s) logged): the kernel found corruption while it was mounted",
                    sb.s_state.0, sb.s_error_count
                ),
            )
            .remediation("run e2fsck -f on the source disk and take the snapshot again"),
        );
    }
    if sb.s_feature_incompat.contains(IncompatFeatures::IS_64BIT) {
        out.push(
            Finding::new(
                "fs.features",
                Severity::Warning,
                "the root filesystem uses the ext4 64bit feature, which older image import tooling rejects",
            )
            .evidence(sb.features().to_string())
            .remediation("if the import fails, rebuild the filesystem with mkfs.ext4 -O ^64bit (resize2fs -s converts in place)"),
        );
    }
    let ro = sb.s_feature_ro_compat;
    if ro.contains(RoCompatFeatures::PROJECT) && ro.contains(RoCompatFeatures::QUOTA) {
        out.push(
            Finding::new(
                "fs.features",
                Severity::Warning,
                "the root filesystem has both the project and quota features, which older kernels and import tools cannot mount",
            )
            .evidence(sb.features().to_string())
            .remediation("tune2fs -O ^project on the source filesystem if the import fails"),
        );
    }
}
