//! `accounts.*` and `secret.password-hash`: who can log in.

use crate::report::{Finding, Severity};
use crate::system::facts::SystemFacts;

/// The account files `chattr +i/+a` must not lock.
pub const LOCKABLE: &[&str] = &["/etc/shadow", "/etc/passwd", "/etc/group", "/etc/gshadow"];

/// Inode flags (ext4 `i_flags`): immutable and append-only.
pub const EXT4_IMMUTABLE_FL: u32 = 0x10;
pub const EXT4_APPEND_FL: u32 = 0x20;

pub fn check(facts: &SystemFacts, flags: &[(String, u32)], out: &mut Vec<Finding>) {
    match &facts.passwd {
        None => out.push(
            Finding::new(
                "accounts.root",
                Severity::Error,
                "/etc/passwd is missing: nobody can log in",
            )
            .path("/etc/passwd")
            .remediation("restore /etc/passwd"),
        ),
        Some(p) => {
            let entries = &p.value.entries;
            if !entries.iter().any(|e| e.name == "root" && e.uid == 0) {
                let uid0: Vec<&str> = entries
                    .iter()
                    .filter(|e| e.uid == 0)
                    .map(|e| e.name.as_str())
                    .collect();
                out.push(
                    Finding::new(
                        "accounts.root",
                        Severity::Error,
                        format!(
                            "/etc/passwd has no account named root with UID 0{}: the cloud resets the password and injects keys for \"root\"",
                            if uid0.is_empty() { String::new() } else { format!(" (UID 0 is {})", uid0.join(", ")) }
                        ),
                    )
                    .path("/etc/passwd")
                    .line(entries.iter().find(|e| e.uid == 0).map_or(1, |e| e.line))
                    .remediation("rename the UID-0 account back to root"),
                );
            }
            for e in entries.iter().filter(|e| e.uid == 0 && e.name != "root") {
                out.push(
                    Finding::new(
                        "accounts.uid0",
                        Severity::Warning,
                        format!("account {} has UID 0: a second superuser that password resets do not cover", e.name),
                    )
                    .path("/etc/passwd")
                    .line(e.line)
                    .remediation("give the account its own UID or remove it"),
                );
            }
        }
    }
    let unreadable = facts.unreadable.iter().find(|(p, _)| p == "/etc/shadow");
    if let Some((_, err)) = unreadable {
        out.push(
            Finding::new(
                "accounts.shadow",
                Severity::Error,
                format!(
                    "/etc/shadow cannot be read ({err}): passwords cannot be set on first boot"
                ),
            )
            .path("/etc/shadow")
            .remediation(
                "run e2fsck on the source filesystem; restore /etc/shadow (pwconv rebuilds it)",
            ),
        );
    } else if facts.shadow.is_none() {
        out.push(
            Finding::new(
                "accounts.shadow",
                Severity::Error,
                "/etc/shadow is missing: passwords cannot be set on first boot",
            )
            .path("/etc/shadow")
            .remediation("restore /etc/shadow (pwconv rebuilds it from /etc/passwd)"),
        );
    }
    for (path, f) in flags {
        let mut what = Vec::new();
        if f & EXT4_IMMUTABLE_FL != 0 {
            what.push("immutable (chattr +i)");
        }
        if f & EXT4_APPEND_FL != 0 {
            what.push("append-only (chattr +a)");
        }
        if !what.is_empty() {
            out.push(
                Finding::new(
                    "accounts.shadow",
                    Severity::Error,
                    format!("{path} is {}: the cloud cannot set the root password or create users on first boot", what.join(" and ")),
                )
                .path(path.clone())
                .remediation(format!("chattr -i -a {path} on the source system (snapaudit cannot clear inode flags in a copy yet)")),
            );
        }
    }
    if let Some(shadow) = &facts.shadow {
        for e in shadow
            .value
            .entries
            .iter()
            .filter(|e| e.has_usable_password())
        {
            out.push(
                Finding::new(
                    "secret.password-hash",
                    Severity::Warning,
                    format!(
                        "account {} has a usable password hash ({}): every instance made from the image shares that password",
                        e.name,
                        e.hash_scheme().map_or("unknown scheme".to_string(), |s| format!("{s:?}"))
                    ),
                )
                .path("/etc/shadow")
                .line(e.line)
                .remediation(format!("lock the password (passwd -l {}) and use keys or the cloud's password reset", e.name)),
            );
        }
    }
}
