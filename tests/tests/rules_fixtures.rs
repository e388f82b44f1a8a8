//! Every fixture of testdata/fixtures.tsv through `check`: the error and
//! warning findings must be exactly the ones the fixture was built to
//! trigger (rule, severity, path, line), plus the "may" rules the table
//! allows for the same cause. Expectations come from the table, which the
//! fixture script keeps next to the recipes.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use snapaudit::image::Image;
use snapaudit::report::{Finding, Severity};
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy, check};
use snapaudit_tests::fixtures;

struct Row {
    name: String,
    kind: String,
    expect: Vec<String>,
    may: Vec<String>,
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

/// Rules the scanner owns; they join `check` with the scan.
fn is_scan_rule(rule: &str) -> bool {
    rule.starts_with("secret.") && rule != "secret.password-hash"
        || rule == "secret.credentials-file"
}

#[test]
fn system_fixtures_give_exactly_the_planted_findings() {
    fixtures::build();
    let options = CheckOptions {
        profile: Profile::alibaba_ecs(),
        scan: ScanPolicy::Skip,
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
        let want: Vec<&String> = row
            .expect
            .iter()
            .filter(|w| !is_scan_rule(rule_of(w)))
            .collect();
        let missing: Vec<&&String> = want
            .iter()
            .filter(|w| !got.iter().any(|g| satisfies(g, w)))
            .collect();
        let extra: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(key)
            .filter(|g| !want.iter().any(|w| satisfies(g, w)))
            .filter(|g| !row.may.iter().any(|m| m == rule_of(g)))
            .filter(|g| !is_scan_rule(rule_of(g)))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{}: missing {missing:?}, unexpected {extra:?}",
                row.name
            ));
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
