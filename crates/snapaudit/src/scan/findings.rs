//! Scanner matches as report findings: what was found, where (path and line
//! or `unallocated`, image byte offset and length), redacted evidence and
//! what to do about it.

use super::credentials::CredentialsKind;
use super::engine::Match;
use super::unallocated::RegionKind;
use crate::report::{Finding, Location, Severity};

/// `secret.deleted`: a secret rule matching in unallocated space.
pub(crate) const DELETED: &str = "secret.deleted";
/// `secret.credentials-file`.
pub(crate) const CREDENTIALS_FILE: &str = "secret.credentials-file";

/// What a content rule id finds, for messages.
fn noun(m: &Match) -> String {
    let what = match &*m.rule_id {
        "secret.private-key" if m.encrypted => "passphrase-protected private key",
        "secret.private-key" => "private key",
        "secret.cloud-access-key" => "cloud access key",
        "secret.token" => "API token",
        "secret.password" => "password in clear",
        _ => "match of custom rule",
    };
    format!("{what} ({})", m.detector)
}

fn remediation(rule_id: &str) -> &'static str {
    match rule_id {
        "secret.private-key" => {
            "remove the key from the image (snapaudit sanitize redacts it in place) and replace it: every copy of the image carries it"
        }
        "secret.password" => {
            "remove the password from the file (snapaudit sanitize redacts it in place) and change it: every copy of the image carries it"
        }
        _ => {
            "remove it from the image (snapaudit sanitize redacts it in place) and revoke or rotate it: every copy of the image carries it"
        }
    }
}

/// A match in a file.
pub(crate) fn in_file(
    m: &Match,
    partition: u32,
    path: &str,
    line: Option<u64>,
    offset_bytes: Option<u64>,
    note: Option<&str>,
) -> Finding {
    let mut message = format!("{} in {path}", noun(m));
    if let Some(l) = line {
        message.push_str(&format!(" line {l}"));
    }
    if let Some(n) = note {
        message.push_str(&format!(" ({n})"));
    }
    Finding::new(m.rule_id.to_string(), m.severity, message)
        .at(Location {
            partition: Some(partition),
            path: Some(path.to_string()),
            line,
            offset_bytes,
            length_bytes: Some(m.end.saturating_sub(m.start) as u64),
            ..Location::default()
        })
        .evidence(m.evidence.clone())
        .remediation(remediation(&m.rule_id))
}

/// The one finding for an unchanged package file with `count` matches
/// (`first` is the earliest).
pub(crate) fn vendor_file(
    first: &Match,
    count: usize,
    partition: u32,
    path: &str,
    line: Option<u64>,
    offset_bytes: Option<u64>,
    package: &str,
) -> Finding {
    let mut f = Finding::new(
        first.rule_id.to_string(),
        Severity::Info,
        format!(
            "{count} match(es) in {path}, first a {}, in a file installed by package {package} and unchanged (its MD5 equals dpkg's record): vendor content such as self-test keys, not a secret of this system",
            noun(first)
        ),
    )
    .at(Location {
        partition: Some(partition),
        path: Some(path.to_string()),
        line,
        offset_bytes,
        length_bytes: Some(first.end.saturating_sub(first.start) as u64),
        ..Location::default()
    })
    .evidence(first.evidence.clone());
    f.vendor = true;
    f
}

/// More matches in one file than the report lists.
pub(crate) fn truncated(rule_id: &str, partition: u32, path: &str, more: u64) -> Finding {
    Finding::new(
        rule_id.to_string(),
        Severity::Error,
        format!("{more} more match(es) in {path} are not listed (the report keeps the first {} per file)", super::run::MAX_HITS_PER_FILE),
    )
    .at(Location {
        partition: Some(partition),
        path: Some(path.to_string()),
        ..Location::default()
    })
    .remediation("wipe the file (snapaudit sanitize) or clean it on the source system")
}

/// A match in a raw region. `vendor_twin`: the same secret was found in an
/// unchanged package file (a deleted copy of vendor content).
pub(crate) fn in_region(
    m: &Match,
    kind: &RegionKind,
    offset_bytes: u64,
    vendor_twin: Option<&str>,
) -> Finding {
    let length_bytes = Some(m.end.saturating_sub(m.start) as u64);
    let mut volume = None;
    let (rule, severity, message, path, partition, fix) = match kind {
        RegionKind::Free {
            partition,
            volume: lv,
        } => {
            volume = lv.as_deref().map(str::to_string);
            let where_ = match lv {
                Some(lv) => format!("logical volume {lv}"),
                None => format!("partition {partition}"),
            };
            (
                DELETED.to_string(),
                Severity::Error,
                format!(
                    "{} in the free blocks of {where_} at image byte {offset_bytes}: deleted data is still on the disk",
                    noun(m)
                ),
                Some("unallocated".to_string()),
                Some(*partition),
                "zero the free blocks (snapaudit sanitize, or zerofree on the partition) and rotate the secret",
            )
        }
        RegionKind::PvFree { partition, vg } => (
            DELETED.to_string(),
            Severity::Error,
            format!(
                "{} in extents of volume group {vg} (physical volume in partition {partition}) that no logical volume uses, at image byte {offset_bytes}: deleted data of a removed or shrunk volume is still on the disk",
                noun(m)
            ),
            Some("unallocated".to_string()),
            Some(*partition),
            "zero the free extents (lvcreate -l 100%FREE a scratch volume, zero it, lvremove) and rotate the secret",
        ),
        RegionKind::Journal { partition } => (
            DELETED.to_string(),
            Severity::Error,
            format!(
                "{} in the journal of partition {partition} at image byte {offset_bytes}: an old copy of a file or of metadata is still on the disk",
                noun(m)
            ),
            Some("journal".to_string()),
            Some(*partition),
            "zero the journal (snapaudit sanitize of a cleanly unmounted or replayed filesystem) and rotate the secret",
        ),
        RegionKind::Unpartitioned => (
            DELETED.to_string(),
            Severity::Error,
            format!(
                "{} in space no partition covers, at image byte {offset_bytes}",
                noun(m)
            ),
            Some("unallocated".to_string()),
            None,
            "zero the unpartitioned space and rotate the secret",
        ),
        RegionKind::Unreadable {
            partition,
            fs,
            volume: lv,
        } => {
            volume = lv.as_deref().map(str::to_string);
            let where_ = match lv {
                Some(lv) => format!("logical volume {lv}"),
                None => format!("partition {partition}"),
            };
            (
                m.rule_id.to_string(),
                m.severity,
                format!(
                    "{} in {where_} ({}, which snapaudit cannot read as files: found by a raw scan) at image byte {offset_bytes}",
                    noun(m),
                    fs.as_deref().unwrap_or("unknown content")
                ),
                None,
                Some(*partition),
                remediation(&m.rule_id),
            )
        }
    };
    let mut f = Finding::new(rule, severity, message)
        .at(Location {
            partition,
            volume,
            path,
            line: None,
            offset_bytes: Some(offset_bytes),
            length_bytes,
        })
        .evidence(m.evidence.clone())
        .remediation(fix);
    if let Some(file) = vendor_twin {
        f.severity = Severity::Info;
        f.vendor = true;
        f.message = format!(
            "{} (the same bytes are vendor content of the unchanged package file {file})",
            f.message
        );
    }
    f
}

/// `secret.credentials-file`.
pub(crate) fn credentials_file(
    kind: CredentialsKind,
    partition: u32,
    path: &str,
    size_bytes: u64,
    offset_bytes: Option<u64>,
) -> Finding {
    Finding::new(
        CREDENTIALS_FILE,
        Severity::Error,
        format!(
            "{path} holds {} ({size_bytes} bytes): whoever gets the image gets the account",
            kind.tool()
        ),
    )
    .at(Location {
        partition: Some(partition),
        path: Some(path.to_string()),
        offset_bytes,
        ..Location::default()
    })
    .remediation("delete the file from the image (or wipe it with snapaudit sanitize) and revoke the credentials it holds")
}

/// A custom path-only rule (gitleaks `path` without `regex`).
pub(crate) fn path_rule(m: &Match, partition: u32, path: &str) -> Finding {
    Finding::new(
        m.rule_id.to_string(),
        m.severity,
        format!("{path} matches the path of rule {}", m.detector),
    )
    .at(Location {
        partition: Some(partition),
        path: Some(path.to_string()),
        ..Location::default()
    })
    .evidence(m.evidence.clone())
}
