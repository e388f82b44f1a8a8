//! Which fix a finding calls for (RULES.md, the "sanitize" notes), or why
//! it needs a person.

use super::{FreeSpacePolicy, LogPolicy, PlanOptions};
use crate::report::{Finding, Severity};

/// What to do to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum FileOp {
    /// Comment out 1-based line `line` in place (its first byte becomes `#`).
    CommentOut { line: u64 },
    /// Overwrite matched bytes with `*` (image offset and length of the
    /// match). `secret`: the length and SHA-256 prefix of the secret itself
    /// when the finding's redacted evidence carries them; the planner then
    /// overwrites only the secret inside the match (a `password = …` line
    /// keeps its key) and checks it against the image before writing.
    Redact {
        offset_bytes: u64,
        len_bytes: u64,
        secret: Option<(u64, [u8; 3])>,
    },
    /// Zero the file's data blocks, size kept. On a directory: every
    /// non-empty regular file below it.
    Wipe,
    /// Make the file empty (0 bytes).
    Truncate,
    /// Unlink the file.
    Delete,
}

impl FileOp {
    /// When several findings name one file, the strongest operation wins
    /// (a deleted file needs no redaction).
    pub(super) fn strength(self) -> u8 {
        match self {
            FileOp::CommentOut { .. } => 0,
            FileOp::Redact { .. } => 1,
            FileOp::Wipe => 2,
            FileOp::Truncate => 3,
            FileOp::Delete => 4,
        }
    }
}

/// The fix for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Intent {
    /// An operation on the file at the finding's path.
    File { path: String, op: FileOp },
    /// Matched bytes in unallocated space: zero them.
    Unallocated { offset_bytes: u64, len_bytes: u64 },
    /// Not fixable automatically, with the reason.
    Human(String),
    /// Informational: nothing to fix and nothing to say.
    Ignore,
}

/// Decide the fix for `f`.
pub(super) fn classify(f: &Finding, options: &PlanOptions) -> Intent {
    let path = f.location.path.clone();
    let file = |op: FileOp| match &path {
        Some(p) if p.starts_with('/') => Intent::File {
            path: p.clone(),
            op,
        },
        _ => Intent::Human("the finding names no file to fix".into()),
    };
    let rule = f.rule.as_str();
    match rule {
        "fstab.data-disk" if f.severity == Severity::Error => match f.location.line {
            Some(line) => file(FileOp::CommentOut { line }),
            None => Intent::Human("the finding names no fstab line".into()),
        },
        "fstab.data-disk" => Intent::Human(
            "the line has nofail/noauto or mounts a network filesystem, so boot goes on without it: whether instances get that filesystem is the owner's decision".into(),
        ),
        "hygiene.ssh-host-keys" => file(FileOp::Delete),
        "hygiene.machine-id" => file(FileOp::Truncate),
        "hygiene.shell-history" => file(FileOp::Wipe),
        "hygiene.logs" => match options.logs {
            LogPolicy::Wipe => file(FileOp::Wipe),
            LogPolicy::Keep => Intent::Human("logs are kept unless --wipe-logs is given".into()),
        },
        "secret.credentials-file" => file(FileOp::Wipe),
        _ if rule.starts_with("secret.") => secret(f, &path, options),
        _ => human(f),
    }
}

fn secret(f: &Finding, path: &Option<String>, options: &PlanOptions) -> Intent {
    if f.vendor {
        return Intent::Human(
            "a match in an unchanged file installed by the package manager (vendor test data): left alone, changing it would break the package".into(),
        );
    }
    let range = f.location.offset_bytes.zip(f.location.length_bytes);
    let unallocated = f.rule == "secret.deleted" || path.as_deref() == Some("unallocated");
    match (range, unallocated) {
        (Some((offset_bytes, len_bytes)), true) if len_bytes > 0 => Intent::Unallocated {
            offset_bytes,
            len_bytes,
        },
        (None, true) if options.free_space == FreeSpacePolicy::Zero => {
            // Without a range the match can still be covered by zeroing the
            // free space; the planner ties it to that action.
            Intent::Unallocated {
                offset_bytes: 0,
                len_bytes: 0,
            }
        }
        (Some((offset_bytes, len_bytes)), false) if len_bytes > 0 => match path {
            Some(p) if p.starts_with('/') => Intent::File {
                path: p.clone(),
                op: FileOp::Redact {
                    offset_bytes,
                    len_bytes,
                    secret: f
                        .evidence
                        .as_deref()
                        .and_then(evidence_digest)
                        .filter(|(n, _)| *n > 0 && *n <= len_bytes),
                },
            },
            _ => Intent::Human("the finding names no file".into()),
        },
        _ if f.rule == "secret.password-hash" => Intent::Human(
            "a usable password hash: lock the account (passwd -l) or remove the hash on the source system; the finding carries no byte range to redact".into(),
        ),
        _ => Intent::Human("the finding carries no byte range to redact".into()),
    }
}

/// The length and SHA-256 prefix that redacted evidence ends with:
/// `LTAI…(24 chars, sha256:3f2a9c)` → `(24, [0x3f, 0x2a, 0x9c])`.
pub(super) fn evidence_digest(evidence: &str) -> Option<(u64, [u8; 3])> {
    let open = evidence.rfind('(')?;
    let inner = evidence.get(open + 1..)?.strip_suffix(')')?;
    let (count, digest) = inner.split_once(" chars, sha256:")?;
    let len: u64 = count.trim().parse().ok()?;
    Some((len, crate::util::hex_bytes::<3>(digest.as_bytes())?))
}

/// Rules without an automatic fix: the reason, or `Ignore` for plain
/// information.
fn human(f: &Finding) -> Intent {
    let rule = f.rule.as_str();
    let group = rule.split('.').next().unwrap_or("");
    let reason = match rule {
        "accounts.root" => {
            "the root account is missing or renamed: which account becomes root again is the owner's decision (restore `root` with UID 0 in /etc/passwd and /etc/shadow)"
        }
        "accounts.uid0" => {
            "another account has UID 0: removing or renumbering it is the owner's decision"
        }
        "accounts.shadow" => {
            "the account files are missing or carry the immutable/append-only flag: the flags were set on purpose; clear them (chattr -i/-a) or restore the file on the source system"
        }
        "disk.single-root" => {
            "the disk has partitions besides the root filesystem: moving their data or dropping them is the owner's decision"
        }
        "selinux.enabled" => {
            "switching SELinux to permissive or disabled is a security-policy decision: change /etc/selinux/config (and drop enforcing=1) on the source system if the cloud requires it"
        }
        "fstab.root-mismatch" => {
            "the / entry names another device: which device is the root filesystem is for the owner to confirm"
        }
        "fstab.missing" => "there is no /etc/fstab to edit: one has to be written",
        "fstab.syntax" | "fstab.device-name" => {
            "the line needs rewriting, which a same-length in-place edit cannot do"
        }
        "hygiene.authorized-keys" => {
            "authorized keys may be wanted: the owner decides which to keep"
        }
        "hygiene.cloud-init" => {
            "run `cloud-init clean` on the source system: deleting a state tree is not automated"
        }
        _ if f.severity == Severity::Info => return Intent::Ignore,
        _ => match group {
            "boot" => {
                "bootloader configuration: regenerate it (grub-mkconfig / grub2-mkconfig) on the source system"
            }
            "disk" => "partition layout: needs repartitioning by a person",
            "fs" => {
                "filesystem state: repair or resize it with e2fsck/resize2fs on the source system"
            }
            "os" | "system" => "the installed system is incomplete: repair it on the source system",
            _ => "no automatic fix for this rule",
        },
    };
    Intent::Human(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;

    fn opts() -> PlanOptions {
        PlanOptions::default()
    }

    #[test]
    fn rules_map_to_their_fix() {
        let f = Finding::new("hygiene.ssh-host-keys", Severity::Warning, "m")
            .path("/etc/ssh/ssh_host_rsa_key");
        assert_eq!(
            classify(&f, &opts()),
            Intent::File {
                path: "/etc/ssh/ssh_host_rsa_key".into(),
                op: FileOp::Delete
            }
        );
        let f = Finding::new("fstab.data-disk", Severity::Error, "m")
            .path("/etc/fstab")
            .line(12);
        assert_eq!(
            classify(&f, &opts()),
            Intent::File {
                path: "/etc/fstab".into(),
                op: FileOp::CommentOut { line: 12 }
            }
        );
        let warn = Finding::new("fstab.data-disk", Severity::Warning, "m")
            .path("/etc/fstab")
            .line(12);
        assert!(matches!(classify(&warn, &opts()), Intent::Human(_)));
        let log = Finding::new("hygiene.logs", Severity::Info, "m").path("/var/log/syslog");
        assert!(matches!(classify(&log, &opts()), Intent::Human(_)));
        let wipe_logs = PlanOptions {
            logs: LogPolicy::Wipe,
            ..PlanOptions::default()
        };
        assert!(matches!(
            classify(&log, &wipe_logs),
            Intent::File {
                op: FileOp::Wipe,
                ..
            }
        ));
        let kernel = Finding::new("os.kernel", Severity::Info, "m");
        assert_eq!(classify(&kernel, &opts()), Intent::Ignore);
        let root = Finding::new("accounts.root", Severity::Error, "m").path("/etc/passwd");
        assert!(matches!(classify(&root, &opts()), Intent::Human(_)));
    }

    #[test]
    fn secrets_are_redacted_zeroed_or_left_to_a_person() {
        let mut f = Finding::new("secret.token", Severity::Error, "m").path("/home/u/ci.sh");
        assert!(
            matches!(classify(&f, &opts()), Intent::Human(_)),
            "no range"
        );
        f.location.offset_bytes = Some(1000);
        f.location.length_bytes = Some(40);
        assert!(matches!(
            classify(&f, &opts()),
            Intent::File {
                op: FileOp::Redact {
                    offset_bytes: 1000,
                    len_bytes: 40,
                    secret: None
                },
                ..
            }
        ));
        f.evidence = Some("ghp_…(40 chars, sha256:3f2a9c)".into());
        assert!(matches!(
            classify(&f, &opts()),
            Intent::File {
                op: FileOp::Redact {
                    secret: Some((40, [0x3f, 0x2a, 0x9c])),
                    ..
                },
                ..
            }
        ));
        // A secret longer than the match cannot be inside it: not used.
        f.evidence = Some("ghp_…(41 chars, sha256:3f2a9c)".into());
        assert!(matches!(
            classify(&f, &opts()),
            Intent::File {
                op: FileOp::Redact { secret: None, .. },
                ..
            }
        ));
        f.vendor = true;
        assert!(matches!(classify(&f, &opts()), Intent::Human(_)));
        let mut d = Finding::new("secret.deleted", Severity::Error, "m").path("unallocated");
        d.location.offset_bytes = Some(4096);
        d.location.length_bytes = Some(1679);
        assert_eq!(
            classify(&d, &opts()),
            Intent::Unallocated {
                offset_bytes: 4096,
                len_bytes: 1679
            }
        );
    }

    #[test]
    fn evidence_digests_parse_only_in_the_redact_format() {
        assert_eq!(
            evidence_digest("LTAI…(24 chars, sha256:3f2a9c)"),
            Some((24, [0x3f, 0x2a, 0x9c]))
        );
        assert_eq!(
            evidence_digest("(8 chars, sha256:000000)"),
            Some((8, [0, 0, 0]))
        );
        assert_eq!(evidence_digest("(24 chars, sha256:3f2a9)"), None);
        assert_eq!(evidence_digest("(x chars, sha256:3f2a9c)"), None);
        assert_eq!(evidence_digest("(24 chars, sha256:zz2a9c)"), None);
        assert_eq!(evidence_digest("plain text"), None);
        assert_eq!(evidence_digest("(24 chars, sha256:3f2a9c"), None);
    }

    #[test]
    fn the_strongest_operation_wins() {
        assert!(FileOp::Delete.strength() > FileOp::Truncate.strength());
        assert!(
            FileOp::Wipe.strength()
                > FileOp::Redact {
                    offset_bytes: 0,
                    len_bytes: 1,
                    secret: None
                }
                .strength()
        );
    }
}
