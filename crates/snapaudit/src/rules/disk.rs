//! `disk.*`: the partition table and the layout of the system disk.

use crate::partition::{FsKind, PartitionTable, TableKind};
use crate::report::{Finding, Location, Severity};

/// Findings about the table itself (`disk.partition-table`); these apply to
/// every disk, system or data.
pub fn table(table: &PartitionTable, out: &mut Vec<Finding>) {
    for p in &table.problems {
        out.push(
            Finding::new("disk.partition-table", p.severity, &p.message)
                .at(Location {
                    offset_bytes: p.offset_bytes,
                    ..Location::default()
                })
                .remediation(match p.severity {
                    Severity::Error => "repair or recreate the partition table (sgdisk/sfdisk) before making an image",
                    _ => "rewrite the table so that both copies agree and fit the disk (sgdisk -e moves the backup GPT to the end)",
                }),
        );
    }
}

/// `disk.single-root` and `disk.root-last` for a system disk whose root
/// filesystem is partition `root` (0 = whole disk).
pub fn layout(table: &PartitionTable, root: u32, out: &mut Vec<Finding>) {
    if table.kind == TableKind::None {
        out.push(
            Finding::new(
                "disk.single-root",
                Severity::Warning,
                "the disk has no partition table: the root filesystem starts at byte 0, so there is no room for a bootloader and the disk cannot be repartitioned",
            )
            .remediation("put the filesystem in a partition (MBR or GPT) and install the bootloader"),
        );
        return;
    }
    for p in &table.partitions {
        if p.index == root || p.partition_type.is_bios_boot() || p.partition_type.is_esp() {
            continue;
        }
        let what = match &p.fs {
            _ if p.partition_type.is_container() => {
                "an extended partition holding logical partitions".to_string()
            }
            Some(fs) => format!(
                "a {} {}",
                fs.kind.as_str(),
                if fs.kind == FsKind::Swap {
                    "area"
                } else {
                    "filesystem"
                }
            ),
            None => format!("a {} partition", p.partition_type.name()),
        };
        out.push(
            Finding::new(
                "disk.single-root",
                Severity::Error,
                format!(
                    "partition {} ({what}, {} bytes at byte {}) is not the root filesystem: a system disk image may hold only the root partition (plus BIOS-boot/ESP); data on it would be copied into every instance and the extra partition breaks resizing",
                    p.index, p.size_bytes, p.start_bytes
                ),
            )
            .at(Location {
                partition: Some(p.index),
                offset_bytes: Some(p.start_bytes),
                ..Location::default()
            })
            .remediation("move the data to a separate data disk snapshot and delete the partition (or merge it into root)"),
        );
    }
    let Some(root_part) = table.partitions.iter().find(|p| p.index == root) else {
        return;
    };
    let after: Vec<u32> = table
        .partitions
        .iter()
        .filter(|p| !p.partition_type.is_container() && p.start_bytes > root_part.start_bytes)
        .map(|p| p.index)
        .collect();
    if !after.is_empty() {
        out.push(
            Finding::new(
                "disk.root-last",
                Severity::Warning,
                format!(
                    "the root filesystem (partition {root}) is followed by partition(s) {}: it cannot be grown into a larger system disk on first boot",
                    after.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
            )
            .at(Location {
                partition: Some(root),
                ..Location::default()
            })
            .remediation("make the root partition the last one on the disk"),
        );
    }
}

/// `disk.root-fs` when no readable root filesystem was found: name what is
/// there instead, once, so the file rules' silence is explained.
pub fn no_root(
    table: &PartitionTable,
    open_error: Option<(u32, &crate::Error)>,
    unopened_ext: &[(u32, String)],
    out: &mut Vec<Finding>,
) {
    if let Some((index, err)) = open_error {
        out.push(
            Finding::new(
                "disk.root-fs",
                Severity::Error,
                format!("the root filesystem on partition {index} cannot be read ({err}); the file rules did not run"),
            )
            .at(Location {
                partition: Some(index),
                ..Location::default()
            })
            .remediation("run e2fsck on the filesystem, or take the snapshot again from a cleanly shut down instance"),
        );
        return;
    }
    let mut unreadable: Vec<String> = table
        .partitions
        .iter()
        .filter_map(|p| {
            let fs = p.fs.as_ref()?;
            matches!(
                fs.kind,
                FsKind::Xfs | FsKind::Btrfs | FsKind::Lvm2 | FsKind::Luks
            )
            .then(|| format!("partition {} is {}", p.index, fs.kind.as_str()))
        })
        .collect();
    // An ext filesystem that could not be opened at all (an unsupported
    // feature such as casefold or inline_data, a corrupt superblock) may be
    // the root: say why, rather than "no root found".
    let other_fs = !unreadable.is_empty();
    unreadable.extend(
        unopened_ext.iter().map(|(index, err)| {
            format!("partition {index} is ext2/3/4 but cannot be read ({err})")
        }),
    );
    let message = if unreadable.is_empty() {
        "no root filesystem found: no ext2/3/4 partition holds /etc and /sbin (or /usr/sbin); the file rules did not run".to_string()
    } else if other_fs {
        format!(
            "no readable root filesystem: {}; snapaudit reads ext2/3/4 only, so the file rules did not run",
            unreadable.join(", ")
        )
    } else {
        format!(
            "no readable root filesystem: {}; the file rules did not run",
            unreadable.join(", ")
        )
    };
    out.push(
        Finding::new("disk.root-fs", Severity::Error, message)
            .remediation("check that this is a system disk snapshot; an xfs/btrfs/LVM/LUKS root must be audited by other means for now"),
    );
}

/// The root filesystem opened with ext4-view but its on-disk structures
/// could not be read by our own reader: the `fs.*` and flag rules did not run.
pub fn layout_unreadable(index: u32, err: &crate::Error) -> Finding {
    Finding::new(
        "disk.root-fs",
        Severity::Error,
        format!("the root filesystem's superblock or group descriptors cannot be read ({err}); the fs.* rules and the inode-flag checks did not run"),
    )
    .at(Location {
        partition: Some(index),
        ..Location::default()
    })
    .remediation("run e2fsck -f on the source filesystem")
}
