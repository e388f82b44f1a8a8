use serde::{Deserialize, Serialize};

/// How bad a finding is (ordered: `Info < Warning < Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fact worth knowing.
    Info,
    /// The image works, but something is wrong or risky.
    Warning,
    /// The image will not work, or leaks a secret.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding is. Every field is optional: a partition-table finding has
/// no path, a finding in unallocated space has no path but an offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub partition: Option<u32>,
    /// Logical volume (`vg/lv`) the finding is in; `partition` is then the
    /// partition of the volume's first byte.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub volume: Option<String>,
    /// Path inside the filesystem, or `unallocated`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    /// 1-based line number in the file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
    /// Byte offset in the image (not in the partition).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset_bytes: Option<u64>,
    /// Length in bytes of the matched data, where the finding is a match.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub length_bytes: Option<u64>,
}

/// One thing the audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id from RULES.md, e.g. `fstab.data-disk`.
    pub rule: String,
    pub severity: Severity,
    /// What is wrong, where, and why it matters, for a person.
    pub message: String,
    pub location: Location,
    /// Supporting text; secrets are always redacted before they get here.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub evidence: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remediation: Option<String>,
    /// A match in an unchanged file installed by the package manager.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub vendor: bool,
    /// [`Finding::compute_fingerprint`], filled in by `Report::finish`: what
    /// a baseline (`--baseline`) remembers the finding by.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fingerprint: Option<String>,
}

impl Finding {
    pub fn new(rule: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            location: Location::default(),
            evidence: None,
            remediation: None,
            vendor: false,
            fingerprint: None,
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = location;
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.location.path = Some(path.into());
        self
    }

    pub fn line(mut self, line: u64) -> Self {
        self.location.line = Some(line);
        self
    }

    pub fn evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(evidence.into());
        self
    }

    /// A stable identity of this finding: 32 hex digits of SHA-256 over the
    /// rule id, the location (partition, path, line; the byte offset only
    /// for raw-region findings, which have nothing else to say where they
    /// are) and the SHA-256 of the evidence. The evidence is already
    /// redacted, and only its digest goes in, so the fingerprint says
    /// nothing about a secret. Neither the image's path nor the message
    /// (whose wording may improve) nor the severity (which a profile
    /// re-grades) is part of it: the same finding in a copy of the image, or
    /// in the next run, has the same fingerprint.
    pub fn compute_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let l = &self.location;
        let raw_region = l.path.as_deref().is_none_or(|p| p == "unallocated");
        let mut h = Sha256::new();
        let mut field = |name: &str, value: &[u8]| {
            // Length-prefixed, so no two field lists hash the same bytes.
            h.update(name.as_bytes());
            h.update((value.len() as u64).to_le_bytes());
            h.update(value);
        };
        field("v1", b"");
        field("rule", self.rule.as_bytes());
        if let Some(p) = l.partition {
            field("partition", &p.to_le_bytes());
        }
        if let Some(p) = &l.path {
            field("path", p.as_bytes());
        }
        if let Some(n) = l.line {
            field("line", &n.to_le_bytes());
        }
        if raw_region && let Some(o) = l.offset_bytes {
            field("offset", &o.to_le_bytes());
        }
        if let Some(e) = &self.evidence {
            field("evidence-sha256", &Sha256::digest(e.as_bytes()));
        }
        let digest = h.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    pub fn remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }
}
