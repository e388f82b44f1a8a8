//! `selinux.enabled`: SELinux must be off for Alibaba custom images.

use crate::report::{Finding, Severity};
use crate::system::facts::SystemFacts;
use crate::system::selinux::SelinuxMode;

const CONFIG: &str = "/etc/selinux/config";

pub fn check(facts: &SystemFacts, out: &mut Vec<Finding>) {
    if let Some(cfg) = &facts.selinux {
        let line = |f: Finding| match cfg.value.mode_line {
            Some(l) => f.path(CONFIG).line(l),
            None => f.path(CONFIG),
        };
        match cfg.value.mode {
            Some(SelinuxMode::Enforcing) => out.push(
                line(Finding::new(
                    "selinux.enabled",
                    Severity::Error,
                    "SELinux is enforcing: cloud initialisation (password reset, key injection) can be denied and the image may fail to start",
                ))
                .evidence("SELINUX=enforcing")
                .remediation("set SELINUX=disabled in /etc/selinux/config"),
            ),
            Some(SelinuxMode::Permissive) => out.push(
                line(Finding::new("selinux.enabled", Severity::Warning, "SELinux is permissive: it logs denials but still relabels and loads a policy"))
                    .evidence("SELINUX=permissive")
                    .remediation("set SELINUX=disabled in /etc/selinux/config"),
            ),
            _ => {}
        }
    }
    let Some(boot) = &facts.boot else { return };
    let Some(default) = &boot.default else { return };
    if default.entry.kernel_cmdline().enforcing() == Some(true) {
        let file = match &default.entry.origin {
            crate::system::grub::EntryOrigin::Bls { file_id } => {
                format!("/boot/loader/entries/{file_id}.conf")
            }
            _ => boot.config_path.clone(),
        };
        let f = Finding::new("selinux.enabled", Severity::Error, "the default kernel command line has enforcing=1: SELinux enforces regardless of /etc/selinux/config")
            .path(file);
        let f = match default.entry.kernel_line {
            Some(l) => f.line(l),
            None => f,
        };
        out.push(f.evidence("enforcing=1").remediation(
            "remove enforcing=1 from the kernel command line and regenerate the grub configuration",
        ));
    }
}
