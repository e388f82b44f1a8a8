//! `snapaudit sanitize` from the command line: the plan in JSON, exit codes,
//! refusals that write nothing, `--in-place`, and no finished-looking or
//! partial file left behind by a run that did not complete.

// Test code unwraps: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sanitize_support;

use std::path::Path;
use std::process::Output;

use sanitize_support::*;
use snapaudit_tests::fixtures;

fn run(args: &[&std::ffi::OsStr]) -> Output {
    std::process::Command::new(snapaudit_bin())
        .args(args)
        .output()
        .expect("run snapaudit")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn plan_only_prints_the_plan_and_writes_nothing() {
    let image = fixtures::image("dirty-ssh-host-keys");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.img");
    let output = run(&[
        os("sanitize"),
        image.as_os_str(),
        os("-o"),
        out.as_os_str(),
        os("--plan-only"),
        os("--format"),
        os("json"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["schema"], "snapaudit.sanitize/1");
    let actions = doc["plan"]["actions"].as_array().unwrap();
    let deletes = actions.iter().filter(|a| a["op"] == "delete").count();
    assert_eq!(deletes, 3);
    assert!(actions.iter().any(|a| a["op"] == "zero-free-space"));
    assert_eq!(actions[0]["fixes"][0]["rule"], "hygiene.ssh-host-keys");
    assert!(doc.get("outcome").is_none());
    assert!(files_in(dir.path()).is_empty());

    // The human form names the same actions.
    let human = run(&[os("sanitize"), image.as_os_str(), os("--plan-only")]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("delete") && text.contains("/etc/ssh/ssh_host_rsa_key"),
        "{text}"
    );
    assert!(text.contains("plan only: nothing written"), "{text}");
}

#[test]
fn a_run_writes_out_and_exits_by_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    // Everything fixable: exit 0, the file is complete, no partial file.
    let image = fixtures::image("sys-fstab-data-uuid");
    let out = dir.path().join("fixed.img");
    let output = run(&[os("sanitize"), image.as_os_str(), os("-o"), out.as_os_str()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("written: "), "{stdout}");
    assert!(stdout.contains("free blocks holding data"), "{stdout}");
    assert_eq!(files_in(dir.path()), vec!["fixed.img".to_string()]);
    assert_fsck_clean(
        &out,
        fixtures::meta("sys-fstab-data-uuid").u64("p1.start_bytes"),
        "cli",
    );
    // An error finding that needs a person: written, but exit 1.
    let image = fixtures::image("sys-root-renamed");
    let out = dir.path().join("renamed.img");
    let output = run(&[os("sanitize"), image.as_os_str(), os("-o"), out.as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(out.is_file());
    assert!(String::from_utf8_lossy(&output.stdout).contains("accounts.root"));
}

#[test]
fn refusals_exit_2_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.img");
    // A journal that needs recovery and cannot be replayed.
    let broken = tempfile::tempdir().unwrap();
    let image = with_broken_journal(
        &fixtures::image("sys-journal-needs-recovery"),
        broken.path(),
    );
    let output = run(&[os("sanitize"), image.as_os_str(), os("-o"), out.as_os_str()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("journal needs recovery"));
    assert!(files_in(dir.path()).is_empty());
    // The output is the input.
    let copy = dir.path().join("copy.img");
    std::fs::copy(fixtures::image("dirty-machine-id"), &copy).unwrap();
    let hash = sha256(&copy);
    let output = run(&[os("sanitize"), copy.as_os_str(), os("-o"), copy.as_os_str()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is the input image"));
    assert_eq!(sha256(&copy), hash);
    // --in-place on a compressed input.
    let zst = fixtures::sample_zst();
    let output = run(&[os("sanitize"), zst.as_os_str(), os("--in-place")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("compressed"));
    // Missing -o.
    let output = run(&[os("sanitize"), copy.as_os_str()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(files_in(dir.path()), vec!["copy.img".to_string()]);
}

#[test]
fn in_place_changes_only_the_named_image() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.img");
    std::fs::copy(fixtures::image("dirty-machine-id"), &copy).unwrap();
    let output = run(&[
        os("sanitize"),
        copy.as_os_str(),
        os("--in-place"),
        os("--format"),
        os("json"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["outcome"]["method"], "in-place");
    assert_eq!(files_in(dir.path()), vec!["copy.img".to_string()]);
    assert!(read_file(&copy, 1, "/etc/machine-id").is_empty());
    assert_fsck_clean(
        &copy,
        fixtures::meta("dirty-machine-id").u64("p1.start_bytes"),
        "in place",
    );
}

#[test]
fn wipe_logs_and_free_space_are_options() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixtures::image("dirty-logs");
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            os("sanitize"),
            image.as_os_str(),
            os("--plan-only"),
            os("--format"),
            os("json"),
        ];
        args.extend(extra.iter().map(|s| os(s)));
        serde_json::from_slice(&run(&args).stdout).unwrap()
    };
    let ops = |doc: &serde_json::Value| -> Vec<String> {
        doc["plan"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["op"].as_str().unwrap().to_string())
            .collect()
    };
    let default = json(&[]);
    assert_eq!(ops(&default), vec!["zero-free-space".to_string()]);
    assert!(
        default["plan"]["not_fixable"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["reason"].as_str().unwrap().contains("--wipe-logs"))
    );
    let wiped = json(&["--wipe-logs", "--no-zero-free"]);
    assert_eq!(ops(&wiped), vec!["wipe".to_string(); 3]);
    let _ = dir;
}
