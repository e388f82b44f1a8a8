//! The e2fsprogs regression-test images (testdata/peer-corpus/e2fsprogs):
//! 218 filesystems, most of them deliberately corrupt. Parsing and walking
//! any of them must never panic or hang (errors are fine); the ones e2fsck
//! calls clean must agree with dumpe2fs and debugfs.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{check, e2fs};
use crate::ext4::layout::{Follow, Layout, ROOT_INO, Superblock};

const CORPUS_DIR: &str = "../../testdata/peer-corpus/e2fsprogs";
/// Directory entries visited per image.
const MAX_ENTRIES: usize = 500;
/// Work per image that is clearly a hang rather than a slow debug build.
const MAX_IMAGE_TIME: Duration = Duration::from_secs(20);

/// The committed corpus; its absence is a broken checkout, not a skip.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS_DIR);
    assert!(
        dir.is_dir(),
        "peer corpus missing at {} (it is committed under testdata/peer-corpus)",
        dir.display()
    );
    dir
}

fn images(dir: &Path) -> Vec<PathBuf> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".img.gz"))
        .collect();
    images.sort();
    images
}

fn gunzip(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).expect("open image");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("gunzip");
    bytes
}

/// Everything a caller might do with an image, errors ignored. Returns how
/// many directory entries were visited.
fn exercise(vol: &[u8]) -> usize {
    let Ok(_) = Superblock::parse(vol) else {
        return 0;
    };
    let Ok(layout) = Layout::open(vol) else {
        return 0;
    };
    let sb = layout.superblock();
    let _ = layout.free_block_ranges();
    let _ = sb.checksum();
    for group in 0..sb.group_count().min(64) {
        let _ = layout.group_desc(group);
        let _ = layout.group_desc_checksum(group);
        let _ = layout.block_bitmap_checksum(group);
        let _ = layout.inode_bitmap_checksum(group);
    }
    for ino in 1..=sb.s_inodes_count.min(64) {
        let _ = layout.is_inode_allocated(ino);
        if let Ok(inode) = layout.inode(ino) {
            let _ = layout.inode_checksum(&inode);
            let _ = layout.file_map(&inode);
            let _ = layout.file_byte_ranges(&inode);
        }
    }
    let mut visited = 0;
    let mut queue = VecDeque::from([(ROOT_INO, b"/".to_vec())]);
    while let Some((dir, path)) = queue.pop_front() {
        let Ok(entries) = layout.read_dir(dir) else {
            continue;
        };
        for entry in entries {
            visited += 1;
            if visited > MAX_ENTRIES {
                return visited;
            }
            if entry.name == b"." || entry.name == b".." {
                continue;
            }
            let mut child_path = path.clone();
            if child_path.len() > 1 {
                child_path.push(b'/');
            }
            child_path.extend_from_slice(&entry.name);
            let _ = layout.lookup(&child_path, Follow::All);
            let _ = layout.lookup(&child_path, Follow::Parents);
            let Ok(inode) = layout.inode(entry.ino) else {
                continue;
            };
            let _ = layout.file_extents(&inode);
            let _ = layout.file_byte_ranges(&inode);
            let _ = layout.inode_checksum(&inode);
            if inode.is_symlink() {
                let _ = layout.read_link(&inode);
            }
            if inode.is_dir() {
                queue.push_back((entry.ino, child_path));
            }
        }
    }
    visited
}

#[test]
fn corpus_images_never_panic_or_hang() {
    let dir = corpus_dir();
    let images = images(&dir);
    assert!(
        images.len() > 200,
        "expected the e2fsprogs corpus, found {} images",
        images.len()
    );
    let mut opened = 0;
    let mut slowest = (Duration::ZERO, String::new());
    for image in &images {
        let name = image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let vol = gunzip(image);
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| exercise(&vol));
        let elapsed = started.elapsed();
        assert!(result.is_ok(), "{name}: panicked");
        assert!(elapsed < MAX_IMAGE_TIME, "{name}: took {elapsed:?}");
        if elapsed > slowest.0 {
            slowest = (elapsed, name.clone());
        }
        if Layout::open(&vol).is_ok() {
            opened += 1;
        }
    }
    eprintln!(
        "{opened} of {} corpus images opened; slowest {:?} ({})",
        images.len(),
        slowest.0,
        slowest.1
    );
    // Most of the corpus has a readable superblock; only a handful are
    // corrupt at that level.
    assert!(opened > 180, "only {opened} images opened");
}

/// Images e2fsck leaves untouched (MANIFEST verdict `clean`).
fn clean_images(dir: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let test = fields.next()?;
            (fields.next()? == "clean").then(|| test.to_string())
        })
        .collect()
}

#[test]
fn clean_corpus_images_match_e2fsprogs() {
    let dir = corpus_dir();
    if !e2fs::available("clean_corpus_images_match_e2fsprogs") {
        return;
    }
    let clean = clean_images(&dir);
    assert!(
        clean.len() >= 15,
        "expected the clean images in MANIFEST.tsv"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    for test in &clean {
        let vol = gunzip(&dir.join(format!("{test}.img.gz")));
        let path = tmp.path().join(format!("{test}.img"));
        std::fs::write(&path, &vol).expect("write image");
        let result = std::panic::catch_unwind(|| check::compare(&path, &vol));
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            panic!("{test}: {message}");
        }
    }
}

/// Random byte flips in the metadata of small mke2fs images (superblock,
/// descriptors, bitmaps, inode tables, directories, map blocks all live in
/// the first few hundred KiB) must give errors, never panics (debug builds
/// also trap arithmetic overflow).
#[test]
fn mutated_images_never_panic() {
    use super::fixture::{Extras, Fixture, pseudo_random};
    for (name, args) in [
        (
            "mutate_ext4",
            &["-t", "ext4", "-b", "1024", "-O", "inline_data"][..],
        ),
        ("mutate_ext3", &["-t", "ext3", "-b", "1024"][..]),
    ] {
        let Some(fixture) = Fixture::build(
            name,
            args,
            "3M",
            Extras {
                sparse_offset_bytes: 300_000,
                many_entries: 40,
                index_dirs: true,
            },
        ) else {
            return;
        };
        let pristine = fixture.bytes();
        // 120 rounds per image: a debug build spends ~30 ms on each.
        let noise = pseudo_random(120 * 16, 99);
        let metadata_len = 512 * 1024;
        for (round, chunk) in noise.chunks(16).enumerate() {
            let mut vol = pristine.clone();
            // Up to 4 flips per round: offset from 3 bytes, value from 1.
            for flip in chunk.chunks(4).take(usize::from(chunk[0] % 4) + 1) {
                let offset =
                    (usize::from(flip[1]) << 16 | usize::from(flip[2]) << 8 | usize::from(flip[3]))
                        % metadata_len;
                vol[offset] ^= flip[0] | 1;
            }
            let result = std::panic::catch_unwind(|| exercise(&vol));
            assert!(result.is_ok(), "{name}: round {round} panicked");
        }
    }
}
