//! `sanitize` reads any container and writes the format asked for: the
//! output is checked by `qemu-img check` (qcow2) and `qemu-img compare`
//! against the raw sanitized output, and the input is never modified.

// Test code unwraps: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sanitize_support;

use std::path::Path;
use std::process::Output;

use sanitize_support::{sha256, snapaudit_bin};
use snapaudit_tests::containers::{convert, qemu_img, run_tool};
use snapaudit_tests::fixtures;

fn sanitize(input: &Path, extra: &[&str]) -> Output {
    std::process::Command::new(snapaudit_bin())
        .arg("sanitize")
        .arg(input)
        .args(extra)
        .output()
        .expect("run snapaudit")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{what}: exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sanitize_writes_raw_qcow2_vhd_and_compressed_outputs_of_the_same_disk() {
    let input = fixtures::image("dirty-ssh-host-keys");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let before = sha256(&input);
    let raw = d.join("clean.raw");
    ok(&sanitize(&input, &["-o", &s(&raw)]), "raw");
    for (name, format) in [("clean.qcow2", "qcow2"), ("clean.vhd", "vpc")] {
        let out = d.join(name);
        ok(&sanitize(&input, &["-o", &s(&out)]), name);
        // qemu probes a fixed VHD as raw (its cookie is only at the end):
        // name the format.
        let info = qemu_img(&["info", "-f", format, "--output=json", &s(&out)]);
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["format"], format, "{name}");
        assert_eq!(
            info["virtual-size"].as_u64(),
            Some(std::fs::metadata(&raw).unwrap().len()),
            "{name}: virtual size"
        );
        if format == "qcow2" {
            let check = qemu_img(&["check", &s(&out)]);
            assert!(
                String::from_utf8_lossy(&check.stdout).contains("No errors were found"),
                "{name}: qemu-img check: {}",
                String::from_utf8_lossy(&check.stdout)
            );
        }
        let cmp = qemu_img(&["compare", "-f", format, "-F", "raw", &s(&out), &s(&raw)]);
        assert!(
            String::from_utf8_lossy(&cmp.stdout).contains("identical"),
            "{name} differs from the raw output"
        );
    }
    // --output-format wins over the extension.
    let forced = d.join("forced.img");
    ok(
        &sanitize(&input, &["-o", &s(&forced), "--output-format", "qcow2"]),
        "forced",
    );
    qemu_img(&["compare", "-f", "qcow2", "-F", "raw", &s(&forced), &s(&raw)]);
    // A compressed output holds the raw disk.
    let zst = d.join("clean.raw.zst");
    ok(&sanitize(&input, &["-o", &s(&zst)]), "zst");
    let unpacked = d.join("unpacked.raw");
    run_tool(
        "zstd",
        &["-dqf", &s(&zst), "-o", &s(&unpacked)],
        "apt-get install -y zstd",
    );
    assert_eq!(sha256(&unpacked), sha256(&raw), "zst output");
    assert_eq!(sha256(&input), before, "the input image was modified");
}

#[test]
fn a_container_input_is_sanitized_like_its_raw_disk_and_never_in_place() {
    let input = fixtures::image("dirty-ssh-host-keys");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let qcow = d.join("input.qcow2");
    convert(&input, &qcow, "qcow2", &["-c"]);
    let before = sha256(&qcow);
    let from_raw = d.join("from-raw.raw");
    let from_qcow = d.join("from-qcow.raw");
    ok(&sanitize(&input, &["-o", &s(&from_raw)]), "raw input");
    ok(&sanitize(&qcow, &["-o", &s(&from_qcow)]), "qcow2 input");
    assert_eq!(sha256(&from_qcow), sha256(&from_raw), "same sanitized disk");
    assert_eq!(sha256(&qcow), before, "the input container was modified");

    let in_place = sanitize(&qcow, &["--in-place"]);
    assert_eq!(in_place.status.code(), Some(2), "--in-place on qcow2");
    let err = String::from_utf8_lossy(&in_place.stderr);
    assert!(err.contains("container"), "{err}");
    assert_eq!(sha256(&qcow), before, "the refused --in-place wrote");
}

#[test]
fn formats_snapaudit_does_not_write_are_refused_before_any_work() {
    let input = fixtures::image("dirty-ssh-host-keys");
    let dir = tempfile::tempdir().unwrap();
    for (out, extra) in [
        ("out.vmdk", &[][..]),
        ("out.img", &["--output-format", "vmdk-stream"][..]),
        ("out.img", &["--output-format", "floppy"][..]),
    ] {
        let path = dir.path().join(out);
        let mut args = vec!["-o", &*s(&path)]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(extra.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sanitize(&input, &refs);
        assert_eq!(run.status.code(), Some(2), "{out} {extra:?}");
        assert!(!path.exists(), "{out}: nothing is written");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no partial file"
        );
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
