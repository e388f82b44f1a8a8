//! Every fixture of testdata/fixtures.tsv through `check` (rules and the
//! sensitive-data scan), and the data-disk fixtures through `scan`: the
//! error and warning findings must be exactly the ones the fixture was built
//! to trigger (rule, severity, path, line), plus the "may" rules the table
//! allows for the same cause. Expectations come from the table, which the
//! fixture script keeps next to the recipes.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use snapaudit::image::Image;
use snapaudit::report::{Finding, Severity};
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy, check};
use snapaudit::scan::{ScanOptions, scan_report};
use snapaudit_tests::fixtures;

struct Row {
    name: String,
    kind: String,
    expect: Vec<String>,
    may: Vec<String>,
    notes: String,
}

fn rows() -> Vec<Row> {
    let text =
        std::fs::read_to_string(snapaudit_tests::workspace_root().join("testdata/fixtures.tsv"))
            .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("name\t") && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let list = |s: &str| {
                if s == "-" {
                    Vec::new()
                } else {
                    s.split_whitespace().map(String::from).collect()
                }
            };
            Row {
                name: c[0].into(),
                kind: c[1].into(),
                expect: list(c[2]),
                may: list(c[3]),
                notes: c.get(4).copied().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

/// `rule:severity[@path[:line]]`, the table's notation.
fn key(f: &Finding) -> String {
    let mut k = format!("{}:{}", f.rule, f.severity);
    if let Some(p) = &f.location.path {
        k.push('@');
        k.push_str(p);
        if let Some(l) = f.location.line {
            k.push_str(&format!(":{l}"));
        }
    }
    k
}

/// Does finding key `got` satisfy expectation `want` (which may leave out
/// the path or line)?
fn satisfies(got: &str, want: &str) -> bool {
    got == want
        || got.starts_with(&format!("{want}:"))
        || (!want.contains('@') && got.starts_with(&format!("{want}@")))
}

fn rule_of(k: &str) -> &str {
    k.split(':').next().unwrap_or(k)
}

#[test]
fn system_fixtures_give_exactly_the_planted_findings() {
    fixtures::build();
    let options = CheckOptions {
        profile: Profile::alibaba_ecs(),
        scan: ScanPolicy::Scan,
        root_partition: None,
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in rows().into_iter().filter(|r| r.kind == "system") {
        let path = fixtures::image(&row.name);
        if row.expect == ["exit2"] {
            assert!(
                Image::open(&path)
                    .and_then(|i| check(&i, &options))
                    .is_err(),
                "{}",
                row.name
            );
            continue;
        }
        let image = Image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", row.name));
        let report = check(&image, &options).unwrap_or_else(|e| panic!("{}: {e}", row.name));
        let got: BTreeSet<String> = report.findings.iter().map(key).collect();
        if let Some(problem) = compare(&report.findings, &row.expect, &row.may, &got) {
            failures.push(format!("{}: {problem}", row.name));
        }
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} system fixtures checked");
    assert!(
        failures.is_empty(),
        "{} fixture(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `None` when the error and warning findings are exactly `want` (plus
/// the rules of `may`), else what is missing and what is unexpected.
fn compare(
    findings: &[Finding],
    want: &[String],
    may: &[String],
    got: &BTreeSet<String>,
) -> Option<String> {
    let missing: Vec<&String> = want
        .iter()
        .filter(|w| !got.iter().any(|g| satisfies(g, w)))
        .collect();
    let extra: Vec<String> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(key)
        .filter(|g| !want.iter().any(|w| satisfies(g, w)))
        .filter(|g| !may.iter().any(|m| m == rule_of(g)))
        .collect();
    (!missing.is_empty() || !extra.is_empty())
        .then(|| format!("missing {missing:?}, unexpected {extra:?}"))
}

/// The `scan` expectation of a data fixture, from its notes: the
/// `RULE:SEVERITY@PATH:LINE` items after "`scan`:" ("no finding" = none).
fn scan_expectation(notes: &str) -> Vec<String> {
    let after = notes
        .split_once("`scan`:")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no `scan`: expectation in notes {notes:?}"));
    after
        .split_whitespace()
        .map(|t| t.trim_end_matches([';', ',', '.']))
        .filter(|t| {
            t.split(':').nth(1).is_some_and(|sev| {
                sev.starts_with("error") || sev.starts_with("warning") || sev.starts_with("info")
            })
        })
        .map(String::from)
        .collect()
}

#[test]
fn data_fixtures_scan_gives_exactly_the_planted_secrets() {
    fixtures::build();
    let options = ScanOptions::builtin().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in rows().into_iter().filter(|r| r.kind == "data") {
        let want = scan_expectation(&row.notes);
        let image = Image::open(fixtures::image(&row.name)).unwrap();
        let report = scan_report(&image, &options).unwrap_or_else(|e| panic!("{}: {e}", row.name));
        let got: BTreeSet<String> = report.findings.iter().map(key).collect();
        // As the system rows' "may" columns allow for key pairs: a second
        // finding of an expected rule in the same file (the AWS secret on
        // the line after its key id) is the same cause.
        let same_file = |g: &String| {
            want.iter()
                .any(|w| w.rsplit_once(':').map(|(k, _)| k) == g.rsplit_once(':').map(|(k, _)| k))
        };
        let findings: Vec<Finding> = report
            .findings
            .iter()
            .filter(|f| !same_file(&key(f)))
            .cloned()
            .collect();
        if let Some(problem) = compare(&findings, &want, &[], &got) {
            failures.push(format!("{}: {problem}", row.name));
        }
        // Data disks get no system-disk rule.
        let system: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.rule.as_str())
            .filter(|r| {
                !(r.starts_with("secret.")
                    || r.starts_with("hygiene.")
                    || *r == "disk.partition-table"
                    || *r == "disk.lvm")
            })
            .collect();
        if !system.is_empty() {
            failures.push(format!(
                "{}: system-disk rules in a scan: {system:?}",
                row.name
            ));
        }
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} data fixtures checked");
    assert!(
        failures.is_empty(),
        "{} fixture(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn scan_expectations_are_read_from_the_notes() {
    assert_eq!(
        scan_expectation("ext4; `scan`: secret.password:error@/a:1 secret.token:warning@/b"),
        vec!["secret.password:error@/a:1", "secret.token:warning@/b"]
    );
    assert!(scan_expectation("`scan`: no finding").is_empty());
}
