//! Accepting known findings: fingerprints in JSON and SARIF, `--baseline`,
//! `.snapauditignore` / `--ignore-file`, `--fail-on`, and the suppressed
//! count in the summary.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{assert_exit, assert_one_error_line, command, s, snapaudit, stdout, tempdir};
use serde_json::Value;
use snapaudit_tests::fixtures;

fn json_report(args: &[&str]) -> Value {
    let out = snapaudit(args);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), common::stderr(&out)))
}

fn fingerprints(r: &Value) -> BTreeSet<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fingerprints_are_stable_across_runs_copies_and_containers() {
    let dir = tempdir();
    let img = fixtures::image("dirty-deleted-key");
    let a = json_report(&["check", "--format", "json", s(&img)]);
    let fps = fingerprints(&a);
    assert!(fps.len() >= 2, "{a}");
    assert_eq!(
        fps.len(),
        a["findings"].as_array().unwrap().len(),
        "one per finding"
    );
    for fp in &fps {
        assert_eq!(fp.len(), 32);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()), "{fp}");
    }
    assert_eq!(
        fingerprints(&json_report(&["check", "--format", "json", s(&img)])),
        fps
    );
    let copy = dir.path().join("renamed-copy.raw");
    std::fs::copy(&img, &copy).unwrap();
    assert_eq!(
        fingerprints(&json_report(&["check", "--format", "json", s(&copy)])),
        fps
    );
    let qcow2 = dir.path().join("converted.qcow2");
    fixtures::run_ok(
        common::tool("qemu-img", "qemu-utils")
            .args(["convert", "-O", "qcow2"])
            .arg(&img)
            .arg(&qcow2),
    );
    assert_eq!(
        fingerprints(&json_report(&["check", "--format", "json", s(&qcow2)])),
        fps
    );
    // SARIF carries the same ones.
    let sarif = json_report(&["check", "--format", "sarif", s(&img)]);
    let sarif_fps: BTreeSet<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["partialFingerprints"]["snapaudit/v1"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sarif_fps, fps);
}

#[test]
fn a_baseline_suppresses_known_findings_and_counts_them() {
    let dir = tempdir();
    let img = fixtures::image("sys-fstab-data-uuid");
    let first = snapaudit(&["check", "--no-scan", "--format", "json", s(&img)]);
    assert_exit(&first, 1);
    let baseline = dir.path().join("baseline.json");
    std::fs::write(&baseline, &first.stdout).unwrap();
    let before: Value = serde_json::from_slice(&first.stdout).unwrap();
    let n = before["findings"].as_array().unwrap().len();
    assert_eq!(before["summary"]["suppressed"], 0);

    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--format",
        "json",
        "--baseline",
        s(&baseline),
        s(&img),
    ]);
    assert_exit(&out, 0);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["findings"].as_array().unwrap().len(), 0);
    assert_eq!(r["summary"]["suppressed"], n);
    assert_eq!(r["summary"]["errors"], 0);
    assert_eq!(r["summary"]["verdict"], "pass");
    let human = snapaudit(&["check", "--no-scan", "--baseline", s(&baseline), s(&img)]);
    assert_exit(&human, 0);
    assert!(
        stdout(&human).contains(&format!("{n} suppressed")),
        "{}",
        stdout(&human)
    );

    // A finding the baseline does not hold still fails the run.
    let other = fixtures::image("sys-selinux-enforcing");
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--format",
        "json",
        "--baseline",
        s(&baseline),
        s(&other),
    ]);
    assert_exit(&out, 1);

    // A SARIF log is a baseline too.
    let sarif = snapaudit(&["check", "--no-scan", "--format", "sarif", s(&img)]);
    let sarif_path = dir.path().join("baseline.sarif");
    std::fs::write(&sarif_path, &sarif.stdout).unwrap();
    let out = snapaudit(&["check", "--no-scan", "--baseline", s(&sarif_path), s(&img)]);
    assert_exit(&out, 0);

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let out = snapaudit(&["check", "--no-scan", "--baseline", s(&junk), s(&img)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "baseline");
    assert!(out.stdout.is_empty());
}

#[test]
fn ignore_files_accept_rules_by_path() {
    let dir = tempdir();
    let img = fixtures::image("sys-fstab-data-uuid");
    // The default file, read from the current directory.
    std::fs::write(
        dir.path().join(".snapauditignore"),
        "# the data disk is attached on every instance\nfstab.data-disk etc/fstab\n",
    )
    .unwrap();
    let out = command(&["check", "--no-scan", "--format", "json", s(&img)])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["suppressed"], 1);
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "fstab.data-disk")
    );

    // --ignore-file; a glob that names another path suppresses nothing.
    let other = dir.path().join("other-ignore");
    std::fs::write(&other, "fstab.* /etc/fstab.d/*\n").unwrap();
    let out = snapaudit(&["check", "--no-scan", "--ignore-file", s(&other), s(&img)]);
    assert_exit(&out, 1);
    assert!(!stdout(&out).contains("suppressed"));
    std::fs::write(&other, "fstab.*\n").unwrap();
    let out = snapaudit(&["check", "--no-scan", "--ignore-file", s(&other), s(&img)]);
    assert_exit(&out, 0);

    std::fs::write(&other, "# ok\nfstab.data-disk /etc/fstab extra\n").unwrap();
    let out = snapaudit(&["check", "--no-scan", "--ignore-file", s(&other), s(&img)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "line 2: expected `RULE [PATH-GLOB]`");
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--ignore-file",
        s(&dir.path().join("nope")),
        s(&img),
    ]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "cannot read ignore file");
}

#[test]
fn fail_on_sets_the_exit_code() {
    // Warnings only: accounts.uid0.
    let warn = fixtures::image("sys-extra-uid0");
    let err = fixtures::image("sys-fstab-data-uuid");
    for (img, fail_on, code) in [
        (&warn, None, 0),
        (&warn, Some("warning"), 1),
        (&warn, Some("error"), 0),
        (&err, Some("never"), 0),
        (&err, Some("warning"), 1),
        (&err, None, 1),
    ] {
        let mut args = vec!["check", "--no-scan"];
        if let Some(f) = fail_on {
            args.extend(["--fail-on", f]);
        }
        args.push(s(img));
        assert_exit(&snapaudit(&args), code);
    }
    // Never still means 2 when an image cannot be audited.
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--fail-on",
        "never",
        "/nonexistent/x.raw",
    ]);
    assert_exit(&out, 2);
    // scan takes the same options.
    let data = fixtures::image("data-scan");
    assert_exit(&snapaudit(&["scan", s(&data)]), 1);
    assert_exit(&snapaudit(&["scan", "--fail-on", "never", s(&data)]), 0);
}
