//! `snapaudit check` as a batch tool: one JSON report per line per image,
//! exit codes 0/1/2, SARIF 2.1.0, and a broken image that does not stop
//! the batch.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use snapaudit_tests::fixtures;

fn snapaudit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snapaudit"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn exit_codes_follow_the_verdict() {
    let clean = fixtures::image("sys-clean-gpt-esp");
    let dirty = fixtures::image("sys-fstab-data-uuid");
    let out = snapaudit(&["check", "--no-scan", clean.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict: PASS"));
    let out = snapaudit(&["check", "--no-scan", dirty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("fstab.data-disk"));
}

#[test]
fn a_batch_gives_one_json_line_per_image_and_survives_broken_ones() {
    let clean = fixtures::image("sys-clean-mbr");
    let dirty = fixtures::image("sys-selinux-enforcing");
    let missing = std::env::temp_dir().join("snapaudit-no-such-image.raw");
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--format",
        "json",
        clean.to_str().unwrap(),
        missing.to_str().unwrap(),
        dirty.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unreadable image makes the batch exit 2"
    );
    let reports: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3);
    let by_path = |p: &std::path::Path| {
        reports
            .iter()
            .find(|r| r["image"]["path"] == p.to_str().unwrap())
            .unwrap()
    };
    assert_eq!(by_path(&clean)["summary"]["verdict"], "pass");
    assert_eq!(by_path(&dirty)["summary"]["verdict"], "fail");
    assert_eq!(by_path(&missing)["summary"]["verdict"], "error");
    assert!(
        by_path(&missing)["error"]
            .as_str()
            .unwrap()
            .contains("No such file")
    );
    for r in &reports {
        assert_eq!(r["schema"], "snapaudit.report/1");
    }
}

#[test]
fn sarif_output_is_one_run_per_image() {
    let a = fixtures::image("sys-extra-uid0");
    let b = fixtures::image("sys-fstab-data-vdb");
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--format",
        "sarif",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let results = runs[1]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| r["ruleId"] == "fstab.data-disk")
        .unwrap();
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "etc/fstab"
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        12
    );
    assert!(
        runs[1]["properties"]["byteOffsets"]
            .as_str()
            .unwrap()
            .starts_with("into the expanded virtual disk")
    );
    let rules = runs[1]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|x| x["id"] == "fstab.data-disk"));
}

#[test]
fn the_generic_profile_drops_alibaba_only_rules() {
    let img = fixtures::image("sys-selinux-enforcing");
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--profile",
        "generic",
        "--format",
        "json",
        img.to_str().unwrap(),
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let selinux: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "selinux.enabled")
        .collect();
    assert_eq!(selinux.len(), 1);
    assert_eq!(selinux[0]["severity"], "info");
    assert_eq!(r["profile"], "generic");
    let bad = snapaudit(&["check", "--profile", "nope", img.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_sample_disk_shows_its_planted_problems() {
    let sample = fixtures::sample_zst();
    let out = snapaudit(&[
        "check",
        "--no-scan",
        "--format",
        "json",
        sample.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["image"]["format"], "zst");
    let rules: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for want in [
        "fstab.data-disk",
        "hygiene.ssh-host-keys",
        "hygiene.shell-history",
        "hygiene.machine-id",
    ] {
        assert!(rules.contains(&want), "{want} missing from {rules:?}");
    }
}
