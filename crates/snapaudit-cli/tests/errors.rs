//! Failures say what went wrong once, on stderr, in one line (with a hint
//! where one helps), and exit 2; input that is not a disk image is an
//! error, not a failing audit; `--partition` is honoured or refused.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use common::{assert_exit, assert_one_error_line, command, s, snapaudit, stderr, stdout, tempdir};
use snapaudit_tests::fixtures;

const NOT_A_DISK: &str = "not a disk image (no partition table, no filesystem signature found)";

/// 10 MB of pseudo-random bytes (xorshift: no table, no signature).
fn random_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("random.raw");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = Vec::with_capacity(10_000_000);
    while buf.len() < 10_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.extend_from_slice(&x.to_le_bytes());
    }
    f.write_all(&buf).unwrap();
    path
}

#[test]
fn random_bytes_are_not_a_disk_image_for_every_subcommand() {
    let dir = tempdir();
    let random = random_file(dir.path());
    for args in [
        vec!["check", "--no-scan"],
        vec!["check"],
        vec!["scan"],
        vec!["inspect"],
        vec!["ls"],
        vec!["sanitize", "--plan-only"],
    ] {
        let mut argv = args.clone();
        argv.push(s(&random));
        let out = snapaudit(&argv);
        assert_exit(&out, 2);
        assert_one_error_line(&out, NOT_A_DISK);
        assert!(
            stderr(&out).contains("random.raw"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !stdout(&out).contains("disk.root-fs"),
            "{args:?}: reported as a rule finding:\n{}",
            stdout(&out)
        );
    }
    // The JSON report carries the same error, and nothing else.
    let out = snapaudit(&["check", "--format", "json", s(&random)]);
    assert_exit(&out, 2);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["error"], NOT_A_DISK);
    assert_eq!(r["summary"]["verdict"], "error");
    assert_eq!(r["findings"].as_array().unwrap().len(), 0);
    assert_one_error_line(&out, NOT_A_DISK);
}

#[test]
fn check_failures_reach_stderr_even_when_stdout_is_redirected() {
    let dir = tempdir();
    let missing = dir.path().join("missing.raw");
    for format in ["json", "sarif", "human"] {
        let out = snapaudit(&["check", "--no-scan", "--format", format, s(&missing)]);
        assert_exit(&out, 2);
        assert_one_error_line(&out, "missing.raw: No such file or directory");
        assert_eq!(stderr(&out).matches("No such file").count(), 1);
    }
}

#[test]
fn permission_denied_is_said_once_with_a_hint() {
    let dir = tempdir();
    let image = dir.path().join("secret.raw");
    std::fs::copy(fixtures::image("sys-clean-mbr"), &image).unwrap();
    std::fs::set_permissions(&image, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // Root reads anything: drop to nobody for the run (util-linux setpriv).
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    let dir_perm = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.path(), dir_perm).unwrap();
    for sub in ["inspect", "ls", "check", "scan"] {
        let out = if root {
            common::tool("setpriv", "util-linux")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_snapaudit"))
                .args([sub, s(&image)])
                .output()
                .unwrap()
        } else {
            snapaudit(&[sub, s(&image)])
        };
        assert_exit(&out, 2);
        assert_one_error_line(&out, "Permission denied");
        let err = stderr(&out);
        assert_eq!(err.matches("Permission denied").count(), 1, "{err}");
        assert!(err.contains("hint: check the file's permissions"), "{err}");
    }
}

#[test]
fn a_missing_tmpdir_is_named_in_the_hint() {
    let dir = tempdir();
    let nowhere = dir.path().join("no-such-tmp");
    for sub in ["inspect", "check"] {
        let out = command(&[sub, s(&fixtures::sample_zst())])
            .env("TMPDIR", &nowhere)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        assert_one_error_line(&out, "set TMPDIR to an existing directory");
        assert!(stderr(&out).contains(s(&nowhere)), "{}", stderr(&out));
    }
}

#[test]
fn an_unsupported_container_says_how_to_convert_it() {
    let dir = tempdir();
    let qed = dir.path().join("disk.qed");
    let mut bytes = b"QED\0".to_vec();
    bytes.resize(1 << 20, 0);
    std::fs::write(&qed, bytes).unwrap();
    let out = snapaudit(&["inspect", s(&qed)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "qemu-img convert -O raw");
}

#[test]
fn inspect_exits_2_when_the_table_cannot_be_fully_read() {
    // The MBR fixture cut short: partition 1 now ends past the image's end.
    let dir = tempdir();
    let cut = dir.path().join("cut.raw");
    std::fs::copy(fixtures::image("sys-clean-mbr"), &cut).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let out = snapaudit(&["inspect", s(&cut)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "ends at byte");
    // What could be read is still shown.
    assert!(
        stdout(&out).contains("partition table: mbr"),
        "{}",
        stdout(&out)
    );
    let out = snapaudit(&["inspect", s(&fixtures::image("sys-clean-mbr"))]);
    assert_exit(&out, 0);
    assert!(out.stderr.is_empty());
}

#[test]
fn human_output_says_no_partition_table() {
    let whole = fixtures::image("sys-whole-disk");
    let out = snapaudit(&["check", "--no-scan", s(&whole)]);
    assert!(
        stdout(&out).contains("disk: no partition table, 1 partition(s)"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("none table"));
    let out = snapaudit(&["inspect", s(&whole)]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("(raw), no partition table"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn partition_zero_is_the_whole_disk() {
    let whole = fixtures::image("sys-whole-disk");
    let plain = snapaudit(&["ls", s(&whole), "/etc"]);
    assert_exit(&plain, 0);
    let zero = snapaudit(&["ls", "--partition", "0", s(&whole), "/etc"]);
    assert_exit(&zero, 0);
    assert_eq!(plain.stdout, zero.stdout);
    assert!(stdout(&zero).lines().any(|l| l == "fstab"));
    // On a partitioned disk, byte 0 holds the MBR, not a filesystem.
    let mbr = fixtures::image("sys-clean-mbr");
    let out = snapaudit(&["ls", "--partition", "0", s(&mbr)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "partition 0 (the whole disk) holds no filesystem");
    let out = snapaudit(&["cat", "--partition", "1", s(&mbr), "/etc/hostname"]);
    assert_exit(&out, 0);
}

#[test]
fn check_audits_the_partition_it_is_given() {
    // p1 is the root found by content; p2 a data filesystem with no /etc.
    let img = fixtures::image("sys-gpt-data-part");
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["check", "--no-scan", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(s(&img));
        serde_json::from_slice(&snapaudit(&args).stdout).unwrap()
    };
    let rules = |r: &serde_json::Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let default = json(&[]);
    let p2 = json(&["--partition", "2"]);
    assert_eq!(default["disk"]["partitions"][0]["role"], "root");
    assert_eq!(p2["disk"]["partitions"][1]["role"], "root");
    assert!(!rules(&default).contains(&"fstab.missing".to_string()));
    assert!(
        rules(&p2).contains(&"fstab.missing".to_string()),
        "{:?}",
        rules(&p2)
    );
    let out = snapaudit(&["check", "--no-scan", "--partition", "9", s(&img)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "no partition 9 on this disk (it has: 1, 2)");
}

#[test]
fn inspect_and_scan_keep_to_the_partition() {
    let img = fixtures::image("sys-clean-gpt-esp");
    let out = snapaudit(&["inspect", "--format", "json", "--partition", "2", s(&img)]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parts = v["disk"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["index"], 2);
    assert_eq!(parts[0]["fs"], "vfat");

    // A deleted key in the gap before p1 (no partition) and one in p2's
    // free blocks: `scan --partition 2` reports only the second.
    let dir = tempdir();
    let disk = dir.path().join("two-keys.raw");
    std::fs::copy(fixtures::image("sys-gpt-data-part"), &disk).unwrap();
    let key = b"\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBpZ3JhbmRvbWtleWZvcnRlc3Rpbmdvbmx5bm90cmVhbGtleXMAAAAAAA==\n-----END OPENSSH PRIVATE KEY-----\n";
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
        f.write_all_at(key, 512 * 1024).unwrap();
        f.write_all_at(key, 144 << 20).unwrap();
    }
    let scan = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["scan", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(s(&disk));
        let out = snapaudit(&args);
        assert_exit(&out, 1);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        r["findings"].as_array().unwrap().clone()
    };
    let all = scan(&[]);
    let partitions: Vec<&serde_json::Value> =
        all.iter().map(|f| &f["location"]["partition"]).collect();
    assert_eq!(
        partitions,
        [&serde_json::Value::Null, &serde_json::json!(2)]
    );
    assert_eq!(scan(&["--partition", "2"]), all[1..]);
    assert_eq!(scan(&["--partition", "0"]), all);
    let out = snapaudit(&["scan", "--partition", "7", s(&disk)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "no partition 7");
}

#[test]
fn sanitize_refuses_partition() {
    let img = fixtures::image("sys-clean-mbr");
    let out = snapaudit(&["sanitize", "--plan-only", "--partition", "1", s(&img)]);
    assert_exit(&out, 2);
    assert_one_error_line(&out, "sanitize does not take --partition");
}
