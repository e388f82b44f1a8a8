//! Accepting known findings: a baseline (a saved report whose findings'
//! fingerprints are accepted) and ignore files (`.snapauditignore`: lines
//! of `RULE [PATH-GLOB]`, `#` comments). Suppressed findings leave
//! `findings` and are counted in `summary.suppressed`.

use std::collections::HashSet;

use serde_json::Value;

use super::glob;
use super::{Finding, Report};
use crate::{Error, Result};

/// Key of snapaudit's fingerprint in SARIF `partialFingerprints`.
pub const SARIF_FINGERPRINT_KEY: &str = "snapaudit/v1";

/// One line of an ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// A rule id, or a glob of them (`secret.*`).
    pub rule: String,
    /// A glob of the paths inside the image (a leading `/` is implied;
    /// `unallocated` is the free space); `None` matches every location.
    pub path: Option<String>,
    /// 1-based line in the ignore file, for messages.
    pub line: usize,
}

impl IgnoreRule {
    /// Every rule of an ignore file's `text`.
    pub fn parse_file(text: &str) -> Result<Vec<IgnoreRule>> {
        let mut out = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(rule), path) = (words.next(), words.next()) else {
                continue;
            };
            if let Some(extra) = words.next() {
                return Err(Error::invalid(format!(
                    "line {}: expected `RULE [PATH-GLOB]`, found a third word {extra:?} (a path with spaces needs `?` or `*` in their place)",
                    i + 1
                )));
            }
            let path = path.map(|p| {
                if p.starts_with('/') || p == "unallocated" || p.starts_with("**") {
                    p.to_string()
                } else {
                    format!("/{p}")
                }
            });
            out.push(IgnoreRule {
                rule: rule.to_string(),
                path,
                line: i + 1,
            });
        }
        Ok(out)
    }

    /// Whether this rule covers finding `f`.
    pub fn matches(&self, f: &Finding) -> bool {
        if !glob::matches(&self.rule, &f.rule) {
            return false;
        }
        match (&self.path, &f.location.path) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(glob_path), Some(path)) => glob::matches(glob_path, path),
        }
    }
}

/// What to leave out of reports.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    fingerprints: HashSet<String>,
    ignores: Vec<IgnoreRule>,
}

impl Suppressions {
    pub fn new() -> Self {
        Suppressions::default()
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty() && self.ignores.is_empty()
    }

    /// Accept every finding of a saved run: a JSON report, JSON lines of
    /// reports (a batch), or a SARIF log. Returns how many fingerprints it
    /// held. Reports from before fingerprints existed are fingerprinted
    /// here from their findings.
    pub fn add_baseline(&mut self, text: &str) -> Result<usize> {
        let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .map_err(|e| Error::invalid(format!("line {}: not JSON: {e}", i + 1)))
                })
                .collect::<Result<_>>()?,
        };
        let before = self.fingerprints.len();
        for doc in &docs {
            if let Some(runs) = doc.get("runs").and_then(Value::as_array) {
                for result in runs
                    .iter()
                    .filter_map(|r| r.get("results").and_then(Value::as_array))
                    .flatten()
                {
                    if let Some(fp) = result
                        .get("partialFingerprints")
                        .and_then(|p| p.get(SARIF_FINGERPRINT_KEY))
                        .and_then(Value::as_str)
                    {
                        self.fingerprints.insert(fp.to_string());
                    }
                }
            } else if let Some(findings) = doc.get("findings").and_then(Value::as_array) {
                for f in findings {
                    let f: Finding = serde_json::from_value(f.clone()).map_err(|e| {
                        Error::invalid(format!("a finding that does not parse: {e}"))
                    })?;
                    let fp = f
                        .fingerprint
                        .clone()
                        .unwrap_or_else(|| f.compute_fingerprint());
                    self.fingerprints.insert(fp);
                }
            } else {
                return Err(Error::invalid(
                    "not a snapaudit JSON report (no `findings`) or SARIF log (no `runs`)",
                ));
            }
        }
        Ok(self.fingerprints.len() - before)
    }

    /// Add the rules of an ignore file's `text`; returns how many.
    pub fn add_ignore_file(&mut self, text: &str) -> Result<usize> {
        let rules = IgnoreRule::parse_file(text)?;
        let n = rules.len();
        self.ignores.extend(rules);
        Ok(n)
    }

    /// Whether `f` is suppressed.
    pub fn covers(&self, f: &Finding) -> bool {
        let fp = f
            .fingerprint
            .clone()
            .unwrap_or_else(|| f.compute_fingerprint());
        self.fingerprints.contains(&fp) || self.ignores.iter().any(|r| r.matches(f))
    }

    /// Remove the suppressed findings of a finished `report`, recount its
    /// summary and add them to `summary.suppressed`; returns how many.
    pub fn apply(&self, report: &mut Report) -> usize {
        if self.is_empty() {
            return 0;
        }
        let before = report.findings.len();
        report.findings.retain(|f| !self.covers(f));
        let n = before - report.findings.len();
        report.summary.suppressed += n;
        report.finish();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ImageInfo, Location, Severity};

    fn report() -> Report {
        let mut r = Report::new(
            ImageInfo {
                path: "a.raw".into(),
                size_bytes: 1,
                format: "raw".into(),
            },
            "generic",
        );
        r.findings = vec![
            Finding::new("fstab.data-disk", Severity::Error, "x")
                .path("/etc/fstab")
                .line(12),
            Finding::new("secret.token", Severity::Error, "y")
                .path("/home/u/.env")
                .line(3)
                .evidence("ghp_…(40 chars, sha256:aabbcc)"),
            Finding::new("secret.deleted", Severity::Error, "z")
                .at(Location {
                    path: Some("unallocated".into()),
                    offset_bytes: Some(4096),
                    ..Location::default()
                })
                .evidence("AKIA…(20 chars, sha256:010203)"),
        ];
        r.finish();
        r
    }

    #[test]
    fn fingerprints_follow_location_and_evidence_not_image_or_message() {
        let a = report();
        let mut b = report();
        b.image.path = "/elsewhere/copy.qcow2".into();
        for f in &mut b.findings {
            f.message = "reworded".into();
            f.severity = Severity::Info;
            // A file's data may move between builds; its path and line say
            // where it is.
            if f.location.path.as_deref() != Some("unallocated") {
                f.location.offset_bytes = Some(999);
            }
        }
        b.finish();
        let fps = |r: &Report| -> HashSet<String> {
            r.findings
                .iter()
                .map(|f| f.fingerprint.clone().unwrap())
                .collect()
        };
        assert_eq!(fps(&a), fps(&b));
        assert_eq!(fps(&a).len(), 3);
        let fp = |f: Finding| f.compute_fingerprint();
        let base = Finding::new("secret.token", Severity::Error, "y")
            .path("/home/u/.env")
            .line(3)
            .evidence("ghp_…(40 chars, sha256:aabbcc)");
        assert_ne!(fp(base.clone()), fp(base.clone().line(4)));
        assert_ne!(fp(base.clone()), fp(base.clone().path("/home/v/.env")));
        assert_ne!(
            fp(base.clone()),
            fp(base.clone().evidence("ghp_…(40 chars, sha256:aabbcd)"))
        );
        let mut moved = a
            .findings
            .iter()
            .find(|f| f.rule == "secret.deleted")
            .unwrap()
            .clone();
        let before = moved.compute_fingerprint();
        moved.location.offset_bytes = Some(8192);
        assert_ne!(
            before,
            moved.compute_fingerprint(),
            "a raw region is where it is"
        );
        let fpr = base.compute_fingerprint();
        assert_eq!(fpr.len(), 32);
        assert!(!fpr.contains("aabbcc"));
    }

    #[test]
    fn a_baseline_suppresses_what_it_holds() {
        let saved = serde_json::to_string(&report()).unwrap();
        let mut s = Suppressions::new();
        assert_eq!(s.add_baseline(&saved).unwrap(), 3);
        let mut r = report();
        r.findings.push(
            Finding::new("accounts.uid0", Severity::Warning, "new")
                .path("/etc/passwd")
                .line(2),
        );
        r.finish();
        assert_eq!(s.apply(&mut r), 3);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.summary.suppressed, 3);
        assert_eq!((r.summary.errors, r.summary.warnings), (0, 1));
        assert_eq!(r.summary.verdict, "pass");
        // JSON lines and SARIF carry the same fingerprints.
        let lines = format!("{saved}\n{saved}\n");
        assert_eq!(Suppressions::new().add_baseline(&lines).unwrap(), 3);
        let sarif = crate::report::to_sarif(&[report()]).to_string();
        assert_eq!(Suppressions::new().add_baseline(&sarif).unwrap(), 3);
        assert!(Suppressions::new().add_baseline("{\"x\": 1}").is_err());
        assert!(Suppressions::new().add_baseline("not json").is_err());
    }

    #[test]
    fn ignore_files_match_rules_and_paths() {
        let rules = IgnoreRule::parse_file(
            "# accepted\n\nfstab.data-disk\nsecret.* home/*/.env  # trailing words are errors\n",
        );
        assert!(rules.is_err());
        let rules = IgnoreRule::parse_file(
            "# accepted\n\nfstab.data-disk\nsecret.* home/*/.env\nsecret.deleted unallocated\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[1].path.as_deref(), Some("/home/*/.env"));
        assert_eq!(rules[1].line, 4);
        let r = report();
        let by_rule = |id: &str| r.findings.iter().find(|f| f.rule == id).unwrap();
        assert!(rules[0].matches(by_rule("fstab.data-disk")));
        assert!(rules[1].matches(by_rule("secret.token")));
        assert!(!rules[1].matches(by_rule("secret.deleted")));
        assert!(rules[2].matches(by_rule("secret.deleted")));
    }
}
