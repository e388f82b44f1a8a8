//! `fstab.*`: /etc/fstab against the disk it will boot from.

use super::ids::{DiskIds, OnDisk};
use crate::report::{Finding, Severity};
use crate::system::facts::SystemFacts;

const FSTAB: &str = "/etc/fstab";

pub fn check(facts: &SystemFacts, ids: &DiskIds, out: &mut Vec<Finding>) {
    let Some(fstab) = &facts.fstab else {
        out.push(
            Finding::new(
                "fstab.missing",
                Severity::Error,
                "/etc/fstab is missing: the root filesystem will not be remounted read-write and nothing else is mounted at boot",
            )
            .path(FSTAB)
            .remediation("restore /etc/fstab with a UUID= line for / (blkid shows the UUID)"),
        );
        return;
    };
    let fstab = &fstab.value;
    for err in &fstab.errors {
        out.push(
            Finding::new("fstab.syntax", Severity::Warning, format!("/etc/fstab line {}: {}", err.line, err.message))
                .path(FSTAB)
                .line(err.line)
                .evidence(err.raw.clone())
                .remediation("fix or comment out the line; mount -a and systemd-fstab-generator skip or fail on it"),
        );
    }
    for e in &fstab.entries {
        let loc = |f: Finding| f.path(FSTAB).line(e.line).evidence(e.raw.clone());
        if e.is_pseudo_fs() || e.is_bind() || !e.source.is_block_device() && !e.is_network_fs() {
            continue;
        }
        if e.is_network_fs() {
            out.push(loc(Finding::new(
                "fstab.data-disk",
                Severity::Warning,
                format!(
                    "/etc/fstab line {} mounts the network filesystem {} on {}: every instance made from the image will try to mount it at boot",
                    e.line, e.source_raw, e.target
                ),
            ))
            .remediation("make sure every instance can reach it, or add nofail / remove the line"));
            continue;
        }
        let root_entry = e.target_is("/");
        match ids.contains(&e.source) {
            OnDisk::No if root_entry => {} // reported as fstab.root-mismatch below
            OnDisk::No => {
                let optional = e.is_optional_at_boot();
                out.push(loc(Finding::new(
                    "fstab.data-disk",
                    if optional { Severity::Warning } else { Severity::Error },
                    format!(
                        "/etc/fstab line {} mounts {} on {}, which is not on this disk{}",
                        e.line,
                        e.source_raw,
                        e.target,
                        if optional {
                            " (nofail/noauto: boot goes on without it)"
                        } else {
                            ": instances made from the image will stop in emergency mode at boot waiting for it"
                        }
                    ),
                ))
                .remediation(if optional {
                    "remove the line unless every instance gets that data disk"
                } else {
                    "comment the line out (snapaudit sanitize does), or add nofail"
                }));
            }
            _ => {}
        }
        if root_entry && ids.is_root(&e.source) == Some(false) {
            out.push(loc(Finding::new(
                "fstab.root-mismatch",
                Severity::Error,
                format!(
                    "/etc/fstab line {} mounts {} on /, but this image's root filesystem is UUID={}: the boot will not find its root",
                    e.line,
                    e.source_raw,
                    ids.root_fs_uuid().unwrap_or("?")
                ),
            ))
            .remediation("point the / line at the root filesystem's UUID"));
        }
        if e.source.is_kernel_device_name() {
            out.push(loc(Finding::new(
                "fstab.device-name",
                Severity::Warning,
                format!(
                    "/etc/fstab line {} names the kernel device {}: device names change between virtio, Xen and NVMe instance types",
                    e.line, e.source_raw
                ),
            ))
            .remediation("use UUID= or LABEL= instead"));
        }
    }
}
