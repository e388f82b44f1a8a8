//! Discoverability: `rules` (from the catalogue, agreeing with
//! docs/RULES.md), `explain`, shell completions and the man page, each
//! checked by the tool that reads it (bash/zsh/fish -n, groff).

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_exit, assert_one_error_line, snapaudit, stdout, tool};
use std::collections::BTreeSet;

/// Backquoted rule ids in the first column of RULES.md's tables.
fn documented_ids() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(snapaudit_tests::workspace_root().join("docs/RULES.md")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(id, _)| id.to_string())
        .filter(|id| id.contains('.'))
        .collect()
}

fn markdown_ids(args: &[&str]) -> Vec<String> {
    let out = snapaudit(args);
    assert_exit(&out, 0);
    stdout(&out)
        .lines()
        .skip(2)
        .map(|l| {
            l.strip_prefix("| `")
                .and_then(|l| l.split_once('`'))
                .unwrap_or_else(|| panic!("not a table row: {l}"))
                .0
                .to_string()
        })
        .collect()
}

#[test]
fn rules_markdown_agrees_with_rules_md() {
    let listed = markdown_ids(&["rules", "--format", "markdown"]);
    assert_eq!(listed.len(), snapaudit::rules::catalogue::RULES.len());
    let documented = documented_ids();
    let undocumented: Vec<&String> = listed
        .iter()
        .filter(|id| !documented.contains(*id))
        .collect();
    assert!(
        undocumented.is_empty(),
        "listed by `rules` but not in docs/RULES.md: {undocumented:?}"
    );
    for id in ["fstab.data-disk", "secret.deleted", "disk.partition-table"] {
        assert!(listed.iter().any(|l| l == id), "{id}");
    }
    // The generic profile drops fs.features and caps selinux.enabled.
    let generic = markdown_ids(&["rules", "--profile", "generic", "--format", "markdown"]);
    assert!(!generic.contains(&"fs.features".to_string()));
    assert_eq!(generic.len(), listed.len() - 1);
    let out = snapaudit(&["rules", "--profile", "generic", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let selinux = rows.iter().find(|r| r["id"] == "selinux.enabled").unwrap();
    assert_eq!(selinux["max_severity"], "info");
    assert_eq!(selinux["scope"], "system-disk");
    let out = snapaudit(&["rules", "--profile", "nope"]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "unknown profile");
    let out = snapaudit(&["check", "--format", "markdown", "x.raw"]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "--format markdown is for `snapaudit rules`");
}

#[test]
fn explain_prints_the_rule_or_the_closest_ids() {
    let out = snapaudit(&["explain", "fstab.data-disk"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("fstab.data-disk: "), "{text}");
    assert!(text.contains("nofail"), "the RULES.md rows: {text}");
    assert!(
        text.contains("[warning]") && text.contains("[error]"),
        "{text}"
    );
    let out = snapaudit(&["explain", "selinux.enabled"]);
    assert!(stdout(&out).contains("profile generic: reported at most as info"));
    let out = snapaudit(&["explain", "fstab.datadisk"]);
    assert_exit(&out, 2);
    assert_one_error_line(
        &out,
        "unknown rule \"fstab.datadisk\" (closest: fstab.data-disk",
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    for (shell, package) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        let out = snapaudit(&["completions", shell]);
        assert_exit(&out, 0);
        let script = stdout(&out);
        for sub in ["check", "sanitize", "explain", "baseline"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
        let dir = common::tempdir();
        let path = dir.path().join(format!("snapaudit.{shell}"));
        std::fs::write(&path, &out.stdout).unwrap();
        let check = tool(shell, package).arg("-n").arg(&path).output().unwrap();
        assert!(
            check.status.success(),
            "{shell} -n: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let out = snapaudit(&["completions", "powershell-9000"]);
    assert_exit(&out, 2);
}

#[test]
fn the_man_page_renders() {
    let out = snapaudit(&["manpage"]);
    assert_exit(&out, 0);
    let dir = common::tempdir();
    let path = dir.path().join("snapaudit.1");
    std::fs::write(&path, &out.stdout).unwrap();
    let rendered = tool("groff", "groff-base")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(rendered.status.success());
    assert!(
        rendered.stderr.is_empty(),
        "groff warnings: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = tool("groff", "groff-base")
        .args(["-man", "-Tascii", "-P-c", "-P-b", "-P-u"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Audit and sanitize VM disk snapshots offline"),
        "{text}"
    );
    for sub in ["check", "inspect", "sanitize", "rules"] {
        assert!(text.contains(sub), "{sub} missing from the man page");
    }
}
