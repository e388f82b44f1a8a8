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
    if !h.logs.is_empty() {
        let bytes: u64 = h.logs.iter().map(|l| l.size_bytes).sum();
        let sample: Vec<&str> = h.logs.iter().take(5).map(|l| l.path.as_str()).collect();
        out.push(
            Finding::new(
                "hygiene.logs",
                Severity::Info,
                format!("{} non-empty log file(s), {bytes} bytes, under /var/log: they describe the source system", h.logs.len()),
            )
            .path("/var/log")
            .evidence(sample.join(", "))
            .remediation("snapaudit sanitize --wipe-logs empties them"),
        );
    }
}
