//! `disk.*`: the partition table and the layout of the system disk.

use crate::image::Image;
use crate::partition::{FsKind, PartitionTable, TableKind};
use crate::report::{Finding, Location, Severity};
use crate::volume::{LvProblem, Lvm, VolumeRef, Volumes, crypt};

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

/// `disk.single-root` for a root filesystem on the logical volume `name`
/// (`vg/lv`).
pub fn lvm_root(name: &str, partition: u32, out: &mut Vec<Finding>) {
    out.push(
        Finding::new(
            "disk.single-root",
            Severity::Error,
            format!(
                "the root filesystem is on the LVM2 logical volume {name} (physical volume in partition {partition}): Alibaba supports a single root partition, and an instance cannot grow a root inside LVM on first boot"
            ),
        )
        .at(Location {
            partition: Some(partition),
            volume: Some(name.to_string()),
            ..Location::default()
        })
        .remediation("copy the root filesystem into a plain partition (the last on the disk), point fstab and grub at its UUID, and drop the volume group"),
    );
}

/// `disk.lvm`: physical volumes whose label or metadata cannot be read,
/// volume groups with a PV missing from this disk, and logical volumes
/// snapaudit does not read.
pub fn lvm(lvm: &Lvm, out: &mut Vec<Finding>) {
    for p in &lvm.problems {
        out.push(
            Finding::new("disk.lvm", Severity::Error, &p.message)
                .at(Location {
                    partition: Some(p.partition),
                    offset_bytes: Some(p.offset_bytes),
                    ..Location::default()
                })
                .remediation("check the volume group on the source system (vgck, pvck) and take the snapshot again"),
        );
    }
    for g in &lvm.groups {
        let missing: Vec<String> = g
            .pvs
            .iter()
            .filter(|p| p.partition.is_none())
            .map(|p| format!("{} ({})", p.name, p.uuid))
            .collect();
        if !missing.is_empty() {
            out.push(
                Finding::new(
                    "disk.lvm",
                    Severity::Error,
                    format!(
                        "volume group {} is incomplete: physical volume(s) {} are not on this disk; logical volumes with extents there cannot be read, and an instance made from this disk alone will not find them",
                        g.name,
                        missing.join(", ")
                    ),
                )
                .remediation("move every logical volume the system needs onto this disk (pvmove), or vgreduce the missing PVs"),
            );
        }
        for lv in &g.lvs {
            let Some(problem) = &lv.problem else { continue };
            let (severity, fix) = match problem {
                LvProblem::Unsupported(_) => {
                    (Severity::Warning, "audit that volume by other means")
                }
                LvProblem::Incomplete(_) => (
                    Severity::Warning,
                    "move the volume onto this disk (pvmove) if the system needs it",
                ),
                LvProblem::Corrupt(_) => (
                    Severity::Error,
                    "check the volume group on the source system (vgck)",
                ),
            };
            out.push(
                Finding::new(
                    "disk.lvm",
                    severity,
                    format!(
                        "logical volume {} is not read: {}",
                        lv.name(),
                        problem.message()
                    ),
                )
                .at(Location {
                    volume: Some(lv.name()),
                    ..Location::default()
                })
                .remediation(fix),
            );
        }
    }
}

/// `disk.encrypted`: LUKS and BitLocker volumes (their ciphertext is not
/// scanned).
pub fn encrypted(image: &Image, volumes: &Volumes, out: &mut Vec<Finding>) {
    for v in volumes.list() {
        let Some(e) = encryption_of(image, &v) else {
            continue;
        };
        let mut facts = Vec::new();
        if let Some(c) = &e.cipher {
            facts.push(format!("cipher {c}"));
        }
        if let Some(u) = &e.uuid {
            facts.push(format!("UUID {u}"));
        }
        out.push(
            Finding::new(
                "disk.encrypted",
                Severity::Error,
                format!(
                    "{} is encrypted ({}{}): encrypted disks cannot be imported as a custom image, and snapaudit cannot read or scan what is inside",
                    v.describe(),
                    e.format,
                    if facts.is_empty() { String::new() } else { format!(", {}", facts.join(", ")) }
                ),
            )
            .at(v.location())
            .evidence(e.format)
            .remediation("decrypt the volume (cryptsetup reencrypt --decrypt) or copy its contents to an unencrypted filesystem before making the image"),
        );
    }
}

/// The encryption header of a volume, if it has one.
pub fn encryption_of(image: &Image, v: &VolumeRef<'_>) -> Option<crypt::Encryption> {
    match v {
        VolumeRef::Partition(p) => {
            // Probed as something else: not encrypted (BitLocker has no probe).
            if p.fs.as_ref().is_some_and(|f| f.kind != FsKind::Luks)
                || p.partition_type.is_container()
            {
                return None;
            }
            crypt::detect(p.bytes(image))
        }
        VolumeRef::Logical(lv) => {
            if lv.fs.as_ref().map(|f| f.kind) != Some(FsKind::Luks) {
                return None;
            }
            let head = lv.runs.first()?;
            let len = head.segment.len.min(8 << 20);
            crypt::detect(
                image
                    .range(head.segment.disk_offset, len, "LUKS header")
                    .ok()?,
            )
        }
    }
}

/// `disk.root-fs` when no readable root filesystem was found: name what is
/// there instead, once, so the file rules' silence is explained.
pub fn no_root(
    volumes: &Volumes,
    open_error: Option<(&crate::ext4::Volume, &crate::Error)>,
    unopened_ext: &[(String, String)],
    out: &mut Vec<Finding>,
) {
    if let Some((volume, err)) = open_error {
        let what = match volume.name() {
            Some(name) => format!("logical volume {name}"),
            None => format!("partition {}", volume.partition()),
        };
        out.push(
            Finding::new(
                "disk.root-fs",
                Severity::Error,
                format!("the root filesystem on {what} cannot be read ({err}); the file rules did not run"),
            )
            .at(Location {
                partition: Some(volume.partition()),
                volume: volume.name().map(str::to_string),
                ..Location::default()
            })
            .remediation("run e2fsck on the filesystem, or take the snapshot again from a cleanly shut down instance"),
        );
        return;
    }
    // A PV whose volume group was read is described by its LVs instead.
    let pv_read = |index: u32| {
        volumes
            .lvm
            .groups
            .iter()
            .any(|g| g.pvs.iter().any(|p| p.partition == Some(index)))
    };
    let mut unreadable: Vec<String> = volumes
        .list()
        .into_iter()
        .filter_map(|v| {
            if let VolumeRef::Logical(lv) = v
                && let Some(p) = &lv.problem
            {
                return Some(format!(
                    "logical volume {} is not read ({})",
                    lv.name(),
                    p.message()
                ));
            }
            let fs = v.fs()?;
            if let VolumeRef::Partition(p) = v
                && fs.kind == FsKind::Lvm2
                && pv_read(p.index)
            {
                return None;
            }
            matches!(
                fs.kind,
                FsKind::Xfs | FsKind::Btrfs | FsKind::Lvm2 | FsKind::Luks
            )
            .then(|| format!("{} is {}", v.describe(), fs.kind.as_str()))
        })
        .collect();
    // An ext filesystem that could not be opened at all (an unsupported
    // feature such as casefold or inline_data, a corrupt superblock) may be
    // the root: say why, rather than "no root found".
    let other_fs = !unreadable.is_empty();
    unreadable.extend(
        unopened_ext
            .iter()
            .map(|(what, err)| format!("{what} is ext2/3/4 but cannot be read ({err})")),
    );
    let message = if unreadable.is_empty() {
        "no root filesystem found: no ext2/3/4 partition or logical volume holds /etc and /sbin (or /usr/sbin); the file rules did not run".to_string()
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
            .remediation("check that this is a system disk snapshot; an xfs/btrfs/LUKS root (or one on an LVM volume type snapaudit does not read) must be audited by other means for now"),
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
