//! `os.*`: the distribution and its kernels.

use crate::report::{Finding, Severity};
use crate::system::facts::SystemFacts;

pub fn check(facts: &SystemFacts, out: &mut Vec<Finding>) {
    let identified = facts
        .os_release
        .as_ref()
        .is_some_and(|o| o.value.id.is_some())
        || !facts.legacy_releases.is_empty();
    if !identified {
        out.push(
            Finding::new(
                "os.release",
                Severity::Error,
                "the distribution cannot be identified: no /etc/os-release (or /usr/lib/os-release) with ID=, and no /etc/*-release or /etc/*_version file; the cloud cannot choose drivers and initialisation for the image",
            )
            .path("/etc/os-release")
            .remediation("restore the distribution's release package (base-files, redhat-release, …)"),
        );
    }
    if !facts.issue_present {
        out.push(
            Finding::new(
                "os.release",
                Severity::Warning,
                "/etc/issue is missing; some image import checks read the distribution from it",
            )
            .path("/etc/issue")
            .remediation("restore /etc/issue from the distribution's base package"),
        );
    }
    let default = facts.default_kernel_version();
    let mut kernels = facts.boot_kernels.clone();
    kernels.sort();
    if !kernels.is_empty() || default.is_some() {
        out.push(
            Finding::new(
                "os.kernel",
                Severity::Info,
                format!(
                    "installed kernels: {}; default: {}",
                    if kernels.is_empty() {
                        "none in /boot".to_string()
                    } else {
                        kernels.join(", ")
                    },
                    default.as_deref().unwrap_or("unknown")
                ),
            )
            .path("/boot"),
        );
    }
    if let Some(v) = default {
        if !facts.module_dirs.iter().any(|m| m == &v) {
            out.push(
                Finding::new(
                    "os.kernel",
                    Severity::Warning,
                    format!("the default kernel {v} has no /lib/modules/{v}: drivers (virtio, NVMe) cannot be loaded at boot"),
                )
                .path(format!("/lib/modules/{v}"))
                .remediation("reinstall the kernel package so its modules are present"),
            );
        }
    }
}
