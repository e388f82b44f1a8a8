//! `hygiene.*`: state that every instance made from the image would share.

use crate::report::{Finding, Severity};
use crate::system::layout_facts::HygieneFacts;

pub fn check(h: &HygieneFacts, out: &mut Vec<Finding>) {
    for k in &h.ssh_host_keys {
        out.push(
            Finding::new(
                "hygiene.ssh-host-keys",
                Severity::Warning,
                format!("SSH host key {} is in the image: every instance would have the same host identity, so clients cannot tell them apart (and one leak exposes all)", k.path),
            )
            .path(k.path.clone())
            .remediation("delete the host keys (snapaudit sanitize does); sshd or cloud-init regenerates them on first boot"),
        );
    }
    for m in &h.machine_ids {
        out.push(
            Finding::new(
                "hygiene.machine-id",
                Severity::Warning,
                format!("{} is set: every instance would share one machine ID (journald, DHCP client IDs, systemd units keyed on it)", m.path),
            )
            .path(m.path.clone())
            .remediation("empty the file (snapaudit sanitize does); systemd generates a new ID on first boot"),
        );
    }
    for hist in &h.histories {
        out.push(
            Finding::new(
                "hygiene.shell-history",
                Severity::Warning,
                format!(
                    "{} holds {} bytes of command history, often with passwords and hostnames",
                    hist.path, hist.size_bytes
                ),
            )
            .path(hist.path.clone())
            .remediation("wipe the file (snapaudit sanitize does)"),
        );
    }
    for (path, n) in &h.authorized_keys {
        out.push(
            Finding::new(
                "hygiene.authorized-keys",
                Severity::Warning,
                format!("{path} authorizes {n} SSH key(s): their owners can log in to every instance made from the image"),
            )
            .path(path.clone())
            .remediation("remove keys that should not reach every instance (the cloud injects the instance's key pair)"),
        );
    }
    if !h.cloud_init_instances.is_empty() {
        out.push(
            Finding::new(
                "hygiene.cloud-init",
                Severity::Info,
                format!(
                    "cloud-init state of {} previous instance(s) is under /var/lib/cloud/instances; cloud-init treats a new instance ID as a first boot, but stale state can confuse it",
                    h.cloud_init_instances.len()
                ),
            )
            .path("/var/lib/cloud/instances")
            .remediation("cloud-init clean --logs on the source system"),
        );
    }
    // One finding per log file (the sanitizer wipes each), up to a cap; a
    // system with more gets one summary line for the rest.
    for log in h.logs.iter().take(MAX_LOG_FINDINGS) {
        out.push(
            Finding::new(
                "hygiene.logs",
                Severity::Info,
                format!(
                    "{} holds {} bytes of logs from the source system",
                    log.path, log.size_bytes
                ),
            )
            .path(log.path.clone())
            .remediation("snapaudit sanitize --wipe-logs empties it"),
        );
    }
    if h.logs.len() > MAX_LOG_FINDINGS {
        let rest = &h.logs[MAX_LOG_FINDINGS..];
        let bytes: u64 = rest.iter().map(|l| l.size_bytes).sum();
        out.push(
            Finding::new(
                "hygiene.logs",
                Severity::Info,
                format!(
                    "{} more non-empty log files ({bytes} bytes) under /var/log",
                    rest.len()
                ),
            )
            .path("/var/log")
            .remediation("snapaudit sanitize --wipe-logs empties them"),
        );
    }
}

/// Log files listed one by one before the rest is summarised.
const MAX_LOG_FINDINGS: usize = 200;
