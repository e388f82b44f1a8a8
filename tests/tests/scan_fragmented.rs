//! A large fragmented file (more than the size that is copied and scanned
//! whole, so it streams through `StreamScan`): tokens placed across every
//! 64 KiB boundary — many of them extent boundaries — are each found once,
//! at the image offset `debugfs bmap` gives.
//!
//! The fragmentation is made like the `dirty-fragmented` fixture's: fill
//! the filesystem with 64 KiB files, delete every other one with debugfs,
//! then write the big file with debugfs, which allocates it in the holes.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use snapaudit::image::Image;
use snapaudit::scan::{ScanOptions, scan_report};
use snapaudit_tests::fixtures::{run_ok, tool};

const PIECE: usize = 64 * 1024;
const PIECES: usize = 96; // 6 MiB: over the 4 MiB copied whole
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn xorshift(len: usize, seed: u64) -> Vec<u8> {
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

fn debugfs(image: &Path, request: &str) -> String {
    let out = tool("debugfs")
        .args(["-w", "-R", request])
        .arg(image)
        .output()
        .unwrap();
    assert!(out.status.success(), "debugfs {request}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tokens_across_the_extents_of_a_large_fragmented_file_are_found_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("fill")).unwrap();
    for i in 0..2 * PIECES + 8 {
        std::fs::write(
            root.join(format!("fill/{i:04}")),
            xorshift(PIECE, i as u64 + 1),
        )
        .unwrap();
    }
    let image = dir.path().join("fs.img");
    run_ok(
        tool("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-d"])
            .arg(&root)
            .arg(&image)
            .arg("24M"),
    );
    for i in (0..2 * PIECES + 8).step_by(2) {
        debugfs(&image, &format!("rm /fill/{i:04}"));
    }

    // The big file: filler with a distinct token across each 64 KiB mark.
    let mut big = xorshift(PIECES * PIECE, 999);
    let mut tokens = Vec::new();
    for k in 1..PIECES {
        let token = format!(
            "ghp_{}",
            xorshift(36, 5000 + k as u64)
                .into_iter()
                .map(|b| char::from(ALNUM[usize::from(b) % ALNUM.len()]))
                .collect::<String>()
        );
        let at = k * PIECE - 20;
        let framed = format!("\n{token}\n");
        big[at - 1..at - 1 + framed.len()].copy_from_slice(framed.as_bytes());
        tokens.push(at as u64);
    }
    let src = dir.path().join("big.bin");
    std::fs::write(&src, &big).unwrap();
    debugfs(&image, &format!("write {} /big.bin", src.display()));
    let extents = debugfs(&image, "ex /big.bin");
    let leaf_lines = extents
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert!(leaf_lines > 10, "the file is not fragmented:\n{extents}");

    let report = scan_report(
        &Image::open(&image).unwrap(),
        &ScanOptions::builtin().unwrap(),
    )
    .unwrap();
    let mut found: Vec<u64> = report
        .findings
        .iter()
        .filter(|f| f.location.path.as_deref() == Some("/big.bin"))
        .map(|f| {
            assert_eq!(f.rule, "secret.token");
            assert_eq!(f.location.length_bytes, Some(40));
            f.location.offset_bytes.unwrap()
        })
        .collect();
    found.sort_unstable();
    let mut want: Vec<u64> = tokens
        .iter()
        .map(|&file_offset| {
            let block = file_offset / 4096;
            let out = debugfs(&image, &format!("bmap /big.bin {block}"));
            out.trim().parse::<u64>().unwrap() * 4096 + file_offset % 4096
        })
        .collect();
    want.sort_unstable();
    assert_eq!(found.len(), tokens.len(), "each token once");
    assert_eq!(found, want, "image offsets through the extents");
}
