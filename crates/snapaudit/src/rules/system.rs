//! `system.critical-dirs`: /bin, /sbin, /lib and init.

use crate::report::{Finding, Severity};
use crate::system::facts::SystemFacts;
use crate::system::layout_facts::DirState;

pub fn check(facts: &SystemFacts, out: &mut Vec<Finding>) {
    for d in &facts.critical_dirs {
        let path = d.path;
        let (severity, what) = match &d.state {
            DirState::Dir => continue,
            DirState::Symlink {
                target,
                resolves: true,
            } if !target.starts_with('/') => continue,
            DirState::Symlink {
                target,
                resolves: true,
            } => (
                Severity::Warning,
                format!(
                    "{path} is an absolute symlink to {target}: it resolves inside the image, but breaks when the disk is mounted elsewhere (rescue, image import)"
                ),
            ),
            DirState::Symlink {
                target,
                resolves: false,
            } => (
                Severity::Error,
                format!("{path} is a symlink to {target}, which is not a directory in the image"),
            ),
            DirState::Missing => (Severity::Error, format!("{path} is missing")),
            DirState::NotDir(kind) => (
                Severity::Error,
                format!("{path} is a {kind:?}, not a directory"),
            ),
            DirState::Unreadable(e) => (Severity::Error, format!("{path} cannot be read: {e}")),
        };
        out.push(
            Finding::new(
                "system.critical-dirs",
                severity,
                format!("{what}: the system cannot boot without {path}"),
            )
            .path(path)
            .remediation(format!(
                "restore {path} (on usr-merged systems: ln -s usr{path} {path})"
            )),
        );
    }
    let init = [
        "/sbin/init",
        "/usr/lib/systemd/systemd",
        "/lib/systemd/systemd",
    ];
    if !init
        .iter()
        .any(|p| facts.exists.get(*p).copied().unwrap_or(false))
    {
        out.push(
            Finding::new("system.critical-dirs", Severity::Error, "no init: neither /sbin/init nor /usr/lib/systemd/systemd exists, so the kernel has nothing to start")
                .path("/sbin/init")
                .remediation("reinstall systemd (or the distribution's init package)"),
        );
    }
}
