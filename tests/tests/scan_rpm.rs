//! Vendor content on rpm systems: the tree `testdata/build-rpm-fixture.sh`
//! installed with Debian's rpm 4.18 (a fabricated key in
//! `/lib/sa-selftest/selftest.pem` and another in
//! `/usr/share/sa-selftest/modified.pem`) is made usr-merged (`/lib ->
//! usr/lib`, as on RHEL 7+), the second file is modified, and the tree goes into
//! an MBR system disk with `mke2fs -d`; once with rpm's `rpmdb.sqlite`,
//! once with the same headers as a Berkeley DB `Packages` (rpm ≤ 4.15).
//! The unchanged package file's key must be one `info` finding with
//! `vendor: true` (SHA-256 digest, found through the usr-merge alias); the
//! modified one keeps `error`.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use snapaudit::image::Image;
use snapaudit::report::{Finding, Severity};
use snapaudit::scan::{ScanOptions, scan_report};
use snapaudit_tests::fixtures::{run_ok, tool};
use snapaudit_tests::workspace_root;

const MIB: u64 = 1 << 20;

/// `target/rpm-fixture`, built (once; the script is idempotent).
fn rpm_fixture() -> PathBuf {
    let out = workspace_root().join("target/rpm-fixture");
    let status = Command::new("bash")
        .arg(workspace_root().join("testdata/build-rpm-fixture.sh"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "build-rpm-fixture.sh failed");
    out
}

fn copy_tree(from: &Path, to: &Path) {
    let status = tool("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}

#[derive(Clone, Copy, Debug)]
enum Db {
    Sqlite,
    Bdb,
}

/// The system disk: MBR, one ext4 partition at 1 MiB holding the tree.
fn build(db: Db) -> (tempfile::TempDir, PathBuf) {
    let fixture = rpm_fixture();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    copy_tree(&fixture.join("root"), &root);
    // usr-merge: rpm installed into /lib; RHEL's /lib is a link to usr/lib.
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::rename(
        root.join("lib/sa-selftest"),
        root.join("usr/lib/sa-selftest"),
    )
    .unwrap();
    std::fs::remove_dir(root.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    // An admin edited the package's second key file.
    let modified = root.join("usr/share/sa-selftest/modified.pem");
    let mut text = std::fs::read(&modified).unwrap();
    text.extend_from_slice(b"# rotated by hand\n");
    std::fs::write(&modified, text).unwrap();
    if let Db::Bdb = db {
        std::fs::remove_file(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
        std::fs::copy(
            fixture.join("bdb/Packages"),
            root.join("var/lib/rpm/Packages"),
        )
        .unwrap();
    }
    let image = dir.path().join("disk.img");
    let fs_bytes = 64 * MIB;
    std::fs::File::create(&image)
        .unwrap()
        .set_len(MIB + fs_bytes)
        .unwrap();
    let mut sfdisk = tool("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&image)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, type=83, bootable\n")
        .unwrap();
    assert!(sfdisk.wait().unwrap().success(), "sfdisk");
    run_ok(
        tool("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-E"])
            .arg(format!("offset={MIB},root_owner=0:0"))
            .arg("-d")
            .arg(&root)
            .arg(&image)
            .arg(format!("{}k", fs_bytes / 1024)),
    );
    (dir, image)
}

fn at<'r>(findings: &'r [Finding], path: &str) -> Vec<&'r Finding> {
    findings
        .iter()
        .filter(|f| f.location.path.as_deref() == Some(path))
        .collect()
}

fn check(db: Db) {
    let (_dir, image) = build(db);
    let report = scan_report(
        &Image::open(&image).unwrap(),
        &ScanOptions::builtin().unwrap(),
    )
    .unwrap();
    let f = &report.findings;

    let vendor = at(f, "/usr/lib/sa-selftest/selftest.pem");
    assert_eq!(vendor.len(), 1, "{db:?}: one finding per vendor file");
    assert_eq!(vendor[0].rule, "secret.private-key");
    assert_eq!(vendor[0].severity, Severity::Info, "{db:?}");
    assert!(vendor[0].vendor, "{db:?}");
    assert!(
        vendor[0].message.contains("sa-selftest"),
        "{db:?}: {}",
        vendor[0].message
    );

    let modified = at(f, "/usr/share/sa-selftest/modified.pem");
    assert_eq!(modified.len(), 1, "{db:?}");
    assert_eq!(modified[0].rule, "secret.private-key");
    assert_eq!(modified[0].severity, Severity::Error, "{db:?}");
    assert!(!modified[0].vendor);
    assert!(
        modified[0].message.contains("modified"),
        "{db:?}: {}",
        modified[0].message
    );
    assert_eq!(report.summary.errors, 1, "{db:?}: only the modified file");
}

#[test]
fn rpm_sqlite_vendor_file_is_info_and_modified_file_is_error() {
    check(Db::Sqlite);
}

#[test]
fn rpm_bdb_vendor_file_is_info_and_modified_file_is_error() {
    check(Db::Bdb);
}
