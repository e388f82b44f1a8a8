//! Running the built `snapaudit` binary from the CLI tests.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `snapaudit ARGS`, output captured.
pub fn snapaudit(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

/// The command for `snapaudit ARGS`, to add an environment or a directory.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snapaudit"));
    c.args(args);
    c
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary directory removed when the test ends.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snapaudit-cli-test-")
        .tempdir()
        .unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The exit code, with both streams in the panic message when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// stderr is exactly one line (a failure said once) and holds `needle`.
#[track_caller]
pub fn assert_one_error_line(out: &Output, needle: &str) {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr:\n{err}");
    assert!(lines[0].starts_with("snapaudit: error: "), "{err}");
    assert!(lines[0].contains(needle), "{needle:?} not in {err}");
}

/// A system tool, or a failure that says how to install it.
pub fn tool(name: &str, package: &str) -> Command {
    let found = std::env::split_paths(&snapaudit_tests::fixtures::search_path())
        .any(|d| d.join(name).is_file());
    assert!(found, "{name} not found: apt-get install -y {package}");
    snapaudit_tests::fixtures::tool(name)
}
