//! Human batches: each report printed as its image finishes, a summary
//! line across the batch, `-q` and `-v`.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{assert_exit, command, s, snapaudit, stderr, stdout, tempdir, tool};
use snapaudit_tests::fixtures;

#[test]
fn a_batch_ends_with_a_summary_line() {
    let clean = fixtures::image("sys-clean-mbr");
    let dirty = fixtures::image("sys-fstab-data-uuid");
    let missing = "/nonexistent/disk.raw";
    let out = snapaudit(&["check", "--no-scan", s(&clean), s(&dirty), missing]);
    assert_exit(&out, 2);
    let text = stdout(&out);
    assert_eq!(text.matches("verdict: ").count(), 2, "{text}");
    assert_eq!(text.matches("cannot audit").count(), 1, "{text}");
    let last = text.lines().last().unwrap();
    let dirty_errors = {
        let r: serde_json::Value = serde_json::from_slice(
            &snapaudit(&["check", "--no-scan", "--format", "json", s(&dirty)]).stdout,
        )
        .unwrap();
        (
            r["summary"]["errors"].as_u64().unwrap(),
            r["summary"]["warnings"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        last,
        format!(
            "3 images: 1 passed, 1 failed, 1 could not be audited; {} error(s), {} warning(s)",
            dirty_errors.0, dirty_errors.1
        )
    );
    // One image: no batch line.
    let one = snapaudit(&["check", "--no-scan", s(&clean)]);
    assert!(!stdout(&one).contains("images:"));
}

#[test]
fn human_reports_stream_as_each_image_finishes() {
    // The second "image" is a FIFO: opening it blocks until a writer comes.
    // The first image's report must arrive while it still blocks.
    let dir = tempdir();
    let fifo = dir.path().join("stuck.raw");
    fixtures::run_ok(tool("mkfifo", "coreutils").arg(&fifo));
    let clean = fixtures::image("sys-clean-mbr");
    let mut child = command(&["--threads", "2", "check", "--no-scan", s(&clean), s(&fifo)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    // Hang guard: without streaming the report would only come at the end,
    // so after a long wait the FIFO is released and the test fails below.
    let guard = {
        let (fifo, released, done) = (fifo.clone(), released.clone(), done.clone());
        std::thread::spawn(move || {
            for _ in 0..1200 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            released.store(true, Ordering::SeqCst);
            drop(std::fs::OpenOptions::new().write(true).open(&fifo));
        })
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen_before_release = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("verdict: PASS") {
            seen_before_release = !released.load(Ordering::SeqCst);
            break;
        }
    }
    done.store(true, Ordering::SeqCst);
    guard.join().unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(
        seen_before_release,
        "the first report waited for the blocked image"
    );
    assert_eq!(status.code(), Some(2));
    assert!(rest.iter().any(|l| l.contains("stuck.raw")), "{rest:?}");
    assert!(
        rest.last()
            .unwrap()
            .starts_with("2 images: 1 passed, 0 failed, 1 could not be audited")
    );
}

#[test]
fn quiet_prints_only_findings_and_verbose_adds_timings() {
    let clean = fixtures::image("sys-clean-mbr");
    let dirty = fixtures::image("sys-fstab-data-uuid");
    let out = snapaudit(&["-q", "check", "--no-scan", s(&clean), s(&dirty)]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(!text.is_empty());
    // `IMAGE: SEVERITY RULE message`, nothing else.
    for line in text.lines() {
        let (img, rest) = line.split_once(": ").unwrap();
        assert!(img == s(&clean) || img == s(&dirty), "{line}");
        let severity = rest.split(' ').next().unwrap();
        assert!(["error", "warning", "info"].contains(&severity), "{line}");
    }
    assert!(text.contains(": error fstab.data-disk "), "{text}");
    assert!(!text.contains("verdict") && !text.contains("images:"));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));

    let out = snapaudit(&["-v", "check", "--no-scan", s(&clean), s(&dirty)]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    for img in [&clean, &dirty] {
        assert!(
            err.contains(&format!("snapaudit: {}: opened (raw) in ", img.display())),
            "{err}"
        );
        assert!(
            err.contains(&format!("snapaudit: {}: audited in ", img.display())),
            "{err}"
        );
    }
    let out = snapaudit(&["-q", "-v", "check", s(&clean)]);
    assert_exit(&out, 2);
}
