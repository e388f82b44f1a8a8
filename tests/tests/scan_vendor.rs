//! Vendor content and large files, on an ext4 filesystem built here with
//! `mke2fs -d`: a key inside an unchanged package file (dpkg's md5sums,
//! found through the `/lib -> usr/lib` link) is one `info` finding with
//! `vendor: true`; the same key in a generated file no package lists is
//! vendor content too; a modified package file keeps its severity; a token
//! across the boundary of two scan units of a large file is found once, at
//! the image offset `debugfs` gives; hard links are scanned once.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use md5::{Digest, Md5};
use snapaudit::image::Image;
use snapaudit::report::{Finding, Severity};
use snapaudit::scan::{ScanOptions, UNIT_BYTES, scan_report};
use snapaudit_tests::fixtures::{run_ok, tool};

/// Deterministic filler (xorshift).
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn chars(alphabet: &[u8], n: usize, seed: u64) -> String {
    filler(n, seed)
        .into_iter()
        .map(|b| char::from(alphabet[usize::from(b) % alphabet.len()]))
        .collect()
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A PEM private key block with a random body.
fn pem_key(seed: u64) -> String {
    let mut s = format!("-----{} PRIVATE KEY-----\n", "BEGIN");
    for i in 0..8 {
        s.push_str(&chars(B64, 64, seed + i));
        s.push('\n');
    }
    s.push_str(&format!("-----{} PRIVATE KEY-----\n", "END"));
    s
}

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, bytes).unwrap();
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Built {
    _dir: tempfile::TempDir,
    image: std::path::PathBuf,
    /// File offset of the token in /srv/big.bin.
    token_file_offset: u64,
    token_len: u64,
}

fn build() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // A library with an embedded self-test key, installed by a package and
    // unchanged; dpkg names it through the /lib symlink.
    let mut libfoo = filler(50_000, 1);
    libfoo.extend_from_slice(pem_key(100).as_bytes());
    libfoo.extend_from_slice(&filler(20_000, 2));
    write(&root, "usr/lib/libfoo.so.1", &libfoo);
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    // The same key in a file no package lists (a compiled cache).
    let mut cache = b"cache\n".to_vec();
    cache.extend_from_slice(pem_key(100).as_bytes());
    write(&root, "var/cache/foo/selftest.bin", &cache);
    // A package file modified after installation.
    let mut libbar = filler(10_000, 3);
    libbar.extend_from_slice(pem_key(200).as_bytes());
    write(&root, "usr/lib/libbar.so.2", &libbar);
    let libbar_as_shipped = filler(10_000, 3);
    // A conffile changed by the admin to hold a password, listed in status.
    let conf_as_shipped = b"[main]\nuser = app\n";
    let password = chars(ALNUM, 16, 300);
    write(
        &root,
        "etc/app/app.conf",
        format!("[main]\nuser = app\npassword = {password}\n").as_bytes(),
    );
    write(
        &root,
        "var/lib/dpkg/info/libfoo1:amd64.md5sums",
        format!("{}  lib/libfoo.so.1\n", md5_hex(&libfoo)).as_bytes(),
    );
    write(
        &root,
        "var/lib/dpkg/info/libbar2.md5sums",
        format!("{}  usr/lib/libbar.so.2\n", md5_hex(&libbar_as_shipped)).as_bytes(),
    );
    write(
        &root,
        "var/lib/dpkg/status",
        format!(
            "Package: app\nStatus: install ok installed\nConffiles:\n /etc/app/app.conf {}\n\n",
            md5_hex(conf_as_shipped)
        )
        .as_bytes(),
    );
    // A large binary file with a token across the first unit boundary,
    // hard-linked under a second name.
    let token = format!("ghp_{}", chars(ALNUM, 36, 400));
    let mut big = filler(UNIT_BYTES + (4 << 20), 5);
    let token_file_offset = UNIT_BYTES - 17;
    let framed = format!("\n{token}\n");
    big[token_file_offset - 1..token_file_offset - 1 + framed.len()]
        .copy_from_slice(framed.as_bytes());
    write(&root, "srv/big.bin", &big);
    std::fs::hard_link(root.join("srv/big.bin"), root.join("srv/big-link.bin")).unwrap();

    let image = dir.path().join("fs.img");
    run_ok(
        tool("mke2fs")
            .args([
                "-q",
                "-F",
                "-t",
                "ext4",
                "-b",
                "4096",
                "-E",
                "root_owner=0:0",
                "-d",
            ])
            .arg(&root)
            .arg(&image)
            .arg("64M"),
    );
    Built {
        _dir: dir,
        image,
        token_file_offset: token_file_offset as u64,
        token_len: token.len() as u64,
    }
}

/// Physical block of logical block `lblk` of `path`, from debugfs.
fn bmap(image: &Path, path: &str, lblk: u64) -> u64 {
    let out = tool("debugfs")
        .arg("-R")
        .arg(format!("bmap {path} {lblk}"))
        .arg(image)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| {
            panic!(
                "debugfs bmap: {e}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn at<'r>(findings: &'r [Finding], path: &str) -> Vec<&'r Finding> {
    findings
        .iter()
        .filter(|f| f.location.path.as_deref() == Some(path))
        .collect()
}

#[test]
fn vendor_content_modified_package_files_and_large_files() {
    let built = build();
    let image = Image::open(&built.image).unwrap();
    let report = scan_report(&image, &ScanOptions::builtin().unwrap()).unwrap();
    let f = &report.findings;

    let foo = at(f, "/usr/lib/libfoo.so.1");
    assert_eq!(foo.len(), 1, "one finding per vendor file");
    assert_eq!(foo[0].severity, Severity::Info);
    assert!(foo[0].vendor);
    assert_eq!(foo[0].rule, "secret.private-key");
    assert!(foo[0].message.contains("libfoo1"), "{}", foo[0].message);

    let cache = at(f, "/var/cache/foo/selftest.bin");
    assert_eq!(cache.len(), 1);
    assert_eq!(cache[0].severity, Severity::Info);
    assert!(cache[0].vendor, "same bytes as vendor content");

    let bar = at(f, "/usr/lib/libbar.so.2");
    assert_eq!(bar.len(), 1);
    assert_eq!(bar[0].severity, Severity::Error);
    assert!(!bar[0].vendor);
    assert!(bar[0].message.contains("modified"), "{}", bar[0].message);

    let conf = at(f, "/etc/app/app.conf");
    assert_eq!(conf.len(), 1);
    assert_eq!(
        (
            conf[0].rule.as_str(),
            conf[0].severity,
            conf[0].location.line
        ),
        ("secret.password", Severity::Error, Some(3))
    );

    // Scanned once, under the first name the walk meets.
    let big: Vec<&Finding> = f
        .iter()
        .filter(|x| {
            x.location
                .path
                .as_deref()
                .is_some_and(|p| p.starts_with("/srv/big"))
        })
        .collect();
    assert_eq!(big.len(), 1, "hard links are one file");
    let token = big[0];
    assert_eq!(token.rule, "secret.token");
    assert_eq!(token.location.line.map(|l| l >= 1), Some(true));
    let block = 4096u64;
    let path = token.location.path.as_deref().unwrap();
    let physical = bmap(&built.image, path, built.token_file_offset / block);
    assert_eq!(
        token.location.offset_bytes,
        Some(physical * block + built.token_file_offset % block)
    );
    assert_eq!(token.location.length_bytes, Some(built.token_len));

    assert_eq!(report.summary.errors, 3, "bar, conf, big");
}

/// `debugfs imap`: the image offset of inode `path`'s record.
fn inode_offset(image: &Path, path: &str) -> u64 {
    let out = tool("debugfs")
        .arg("-R")
        .arg(format!("imap {path}"))
        .arg(image)
        .output()
        .unwrap();
    // "Inode 12 is part of block group 0\n\tlocated at block 35, offset 0x0b00"
    let text = String::from_utf8_lossy(&out.stdout);
    let block: u64 = text
        .split("located at block ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or_else(|| panic!("debugfs imap: {text}"));
    let offset = text
        .split("offset 0x")
        .nth(1)
        .and_then(|r| u64::from_str_radix(r.trim(), 16).ok())
        .unwrap_or_else(|| panic!("debugfs imap: {text}"));
    block * 4096 + offset
}

#[test]
fn inline_data_files_are_scanned_in_their_inode() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let token = format!("ghp_{}", chars(ALNUM, 36, 900));
    write(&root, "etc/ci/token", format!("T={token}\n").as_bytes());
    let image = dir.path().join("fs.img");
    run_ok(
        tool("mke2fs")
            .args([
                "-q",
                "-F",
                "-t",
                "ext4",
                "-b",
                "4096",
                "-I",
                "256",
                "-O",
                "inline_data",
                "-d",
            ])
            .arg(&root)
            .arg(&image)
            .arg("16M"),
    );
    let report = scan_report(
        &Image::open(&image).unwrap(),
        &ScanOptions::builtin().unwrap(),
    )
    .unwrap();
    let found = at(&report.findings, "/etc/ci/token");
    assert_eq!(
        found.len(),
        1,
        "{:?}",
        report.findings.iter().map(|f| &f.rule).collect::<Vec<_>>()
    );
    assert_eq!(found[0].rule, "secret.token");
    // i_block starts 0x28 bytes into the inode record; the token 2 bytes in.
    assert_eq!(
        found[0].location.offset_bytes,
        Some(inode_offset(&image, "/etc/ci/token") + 0x28 + 2)
    );
}
