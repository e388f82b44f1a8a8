//! Sanitize's safety: an existing `-o` is refused unless `--force`, and an
//! interrupted run leaves no hidden `.partial` copy behind.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;

use common::{assert_exit, assert_one_error_line, command, s, snapaudit, tempdir, tool};
use snapaudit_tests::fixtures;

#[test]
fn an_existing_output_is_refused_unless_forced() {
    let dir = tempdir();
    let img = fixtures::image("sys-clean-mbr");
    let out = dir.path().join("out.raw");
    std::fs::write(&out, b"precious").unwrap();
    let run = snapaudit(&["sanitize", s(&img), "-o", s(&out)]);
    assert_exit(&run, 2);
    assert_one_error_line(&run, "out.raw exists; pass --force to replace it");
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    // --plan-only writes nothing, so it does not care.
    assert_exit(
        &snapaudit(&["sanitize", "--plan-only", s(&img), "-o", s(&out)]),
        0,
    );
    let run = snapaudit(&["sanitize", "--force", s(&img), "-o", s(&out)]);
    assert_exit(&run, 0);
    assert_eq!(
        std::fs::metadata(&out).unwrap().len(),
        std::fs::metadata(&img).unwrap().len()
    );
    // No temporary left in the directory either way.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.raw"]);
}

fn partials(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

#[test]
fn sigint_removes_the_partial_output() {
    // A compressed 1 GiB sparse disk: its copy goes through read/write of
    // the expanded image, long enough to be interrupted while the
    // `.big.out.*.partial` file exists.
    let dir = tempdir();
    let raw = dir.path().join("big.raw");
    std::fs::copy(fixtures::image("sys-whole-disk"), &raw).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let zst = dir.path().join("big.raw.zst");
    fixtures::run_ok(tool("zstd", "zstd").args(["-q", "-o"]).arg(&zst).arg(&raw));
    std::fs::remove_file(&raw).unwrap();
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("big.out");
    // A partial file of someone else's earlier run stays.
    let foreign = outdir.join(".big.out.other.partial");
    std::fs::write(&foreign, b"not ours").unwrap();

    let mut child = command(&["sanitize", s(&zst), "-o", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (polling, no timing assumption) for the copy to start.
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("sanitize ended ({status}) before its partial output appeared");
        }
        if partials(&outdir).len() > 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    fixtures::run_ok(tool("kill", "procps").args(["-INT", &child.id().to_string()]));
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!done.status.success(), "{stderr}");
    assert_eq!(done.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("removed the partial output"), "{stderr}");
    assert_eq!(partials(&outdir), [".big.out.other.partial"]);
    assert!(!out.exists());
}
