//! The ext4-view crate's own test images (peer corpus `ext4view/`, see its
//! SOURCES.txt): every file snapaudit reads must be byte for byte what
//! e2fsprogs' `debugfs -R "rdump / DIR"` extracts, every symlink must have
//! the same target, and the two trees must list the same names. Skipped
//! (with a message) where debugfs is not installed.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use snapaudit::Error;
use snapaudit::ext4::{FileKind, Fs, Volume};
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit_tests::fixtures::tool;

fn corpus() -> PathBuf {
    snapaudit_tests::peer_corpus().join("ext4view")
}

fn debugfs_available() -> bool {
    tool("debugfs")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `debugfs -R "rdump / DIR"`: the whole tree as e2fsprogs reads it (on-disk
/// state: debugfs does not replay a journal).
fn rdump(image: &Path, into: &Path) {
    let out = tool("debugfs")
        .arg("-R")
        .arg(format!("rdump / {}", into.display()))
        .arg(image)
        .output()
        .unwrap();
    assert!(out.status.success(), "debugfs rdump {}", image.display());
}

/// Every path of the dump with its kind, as the image names it.
fn host_tree(root: &Path) -> BTreeMap<String, FileKind> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let kind = if t.is_dir() {
                stack.push(e.path());
                FileKind::Dir
            } else if t.is_symlink() {
                FileKind::Symlink
            } else if t.is_file() {
                FileKind::File
            } else {
                // rdump writes regular files, directories and symlinks only.
                continue;
            };
            out.insert(format!("/{rel}"), kind);
        }
    }
    out
}

/// Our walk: every path with its kind, plus the walk's errors.
fn our_tree(fs: &Fs) -> (BTreeMap<String, FileKind>, Vec<(String, Error)>) {
    let mut tree = BTreeMap::new();
    let mut errors = Vec::new();
    fs.walk(
        "/",
        &mut |e| {
            tree.insert(e.path.clone(), e.kind);
        },
        &mut |p, e| errors.push((p.to_string(), e)),
    );
    (tree, errors)
}

/// The whole content of `path` through the streaming reader (any size).
fn read_all(fs: &Fs, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    fs.read_chunks(path, 1 << 20, &mut |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    out
}

/// What one image compared.
struct Compared {
    files: usize,
    bytes: u64,
    symlinks: usize,
    /// Paths only snapaudit sees.
    only_ours: Vec<String>,
    walk_errors: Vec<(String, Error)>,
    journal_replayed: bool,
}

/// Compares image `name` with its debugfs dump; paths under `skip` (an
/// encrypted directory, whose names and contents need the key) are left out
/// on both sides.
/// With `replay`, the dump is made from a copy whose journal e2fsck
/// replayed first (`e2fsck -E journal_only`), the state ext4-view reads.
fn compare(name: &str, skip: &[&str], replay: bool) -> Compared {
    let image_file = snapaudit_tests::unzstd_to_temp(&corpus().join(format!("{name}.bin.zst")));
    let dump = tempfile::tempdir().unwrap();
    if replay {
        let copy = tempfile::NamedTempFile::new().unwrap();
        std::fs::copy(image_file.path(), copy.path()).unwrap();
        let status = tool("e2fsck")
            .args(["-E", "journal_only", "-y"])
            .arg(copy.path())
            .output()
            .unwrap()
            .status;
        assert!(
            status.success(),
            "e2fsck journal replay on {name}: {status}"
        );
        rdump(copy.path(), dump.path());
    } else {
        rdump(image_file.path(), dump.path());
    }
    let host = host_tree(dump.path());

    let image = Image::open(image_file.path()).unwrap();
    let table = PartitionTable::read(&image).unwrap();
    assert_eq!(table.partitions.len(), 1, "{name}: a bare filesystem");
    let fs = Volume::new(&image, &table.partitions[0]).open().unwrap();
    let (ours, walk_errors) = our_tree(&fs);
    let skipped = |p: &str| {
        skip.iter()
            .any(|s| p == *s || p.starts_with(&format!("{s}/")))
    };

    let mut c = Compared {
        files: 0,
        bytes: 0,
        symlinks: 0,
        only_ours: Vec::new(),
        walk_errors,
        journal_replayed: fs.journal_replayed(),
    };
    for (path, kind) in &host {
        if skipped(path) && path.as_str() != skip[0] {
            continue;
        }
        assert_eq!(ours.get(path), Some(kind), "{name}:{path}");
        let on_host = dump.path().join(path.trim_start_matches('/'));
        match kind {
            FileKind::File => {
                let want = std::fs::read(&on_host).unwrap();
                let got = read_all(&fs, path);
                assert!(got == want, "{name}:{path}: content differs from debugfs");
                c.files += 1;
                c.bytes += want.len() as u64;
            }
            FileKind::Symlink => {
                let want = std::fs::read_link(&on_host).unwrap();
                assert_eq!(
                    fs.read_link(path).unwrap(),
                    want.to_str().unwrap(),
                    "{name}:{path}"
                );
                c.symlinks += 1;
            }
            _ => {}
        }
    }
    c.only_ours = ours
        .keys()
        .filter(|p| !host.contains_key(*p) && !skipped(p))
        .cloned()
        .collect();
    c
}

#[test]
fn ext4view_images_read_like_debugfs_dumps_them() {
    if !debugfs_available() {
        eprintln!("debugfs not installed: ext4-view corpus comparison skipped");
        return;
    }

    // ext4, 1K blocks, metadata_csum, encryption, htree directories of
    // 1000 and 10 000 files, holes, every kind of symlink.
    let c = compare("test_disk1", &["/encrypted_dir"], false);
    assert!(c.only_ours.is_empty(), "{:?}", c.only_ours);
    assert!(c.files > 11_000, "{}", c.files);
    assert!(c.symlinks >= 10, "{}", c.symlinks);
    // The locked directory is reported unreadable, not walked into.
    let encrypted: Vec<&(String, Error)> = c
        .walk_errors
        .iter()
        .filter(|(p, _)| p == "/encrypted_dir")
        .collect();
    assert_eq!(encrypted.len(), 1, "{:?}", c.walk_errors);
    assert!(matches!(encrypted[0].1, Error::Unsupported { .. }));
    assert_eq!(c.walk_errors.len(), 1, "{:?}", c.walk_errors);

    // ext2: a 68 MiB file through single, double and triple indirect blocks.
    let c = compare("test_disk_ext2", &[], false);
    assert!(c.only_ours.is_empty() && c.walk_errors.is_empty());
    assert!(c.bytes > 70_000_000, "{}", c.bytes);

    // ext3, 128-byte inodes, TEA-hashed htree.
    let c = compare("test_disk_ext3", &[], false);
    assert!(c.only_ours.is_empty() && c.walk_errors.is_empty());
    assert!(c.files >= 1000, "{}", c.files);

    // A journal holding directories that never reached their home blocks:
    // ext4-view replays it in memory; the reference is e2fsck's replay of
    // the same journal (773 directories dir0..dir772 are committed in it;
    // the disk alone has none). Without the replay they are all missing.
    let c = compare("test_disk_4k_block_journal", &[], true);
    assert!(c.journal_replayed);
    assert!(c.only_ours.is_empty() && c.walk_errors.is_empty());
    let c = compare("test_disk_4k_block_journal", &[], false);
    assert_eq!(c.only_ours.len(), 773, "journal-only directories");
    assert!(c.only_ours.iter().all(|p| p.starts_with("/dir")));
}
