//! Helpers shared by the sanitize tests: running a plan into a temporary
//! output, e2fsck on a filesystem inside an image, hashes, findings built
//! by hand at known offsets, and small filesystems made with `mke2fs -d`.
//!
//! Secrets planted by the fixtures are never printed: assertion messages
//! name paths, offsets and lengths only.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use snapaudit::ext4::layout::{Follow, Layout};
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::report::{Finding, ImageInfo, Report, Severity};
use snapaudit::sanitize::{ApplyOptions, Outcome, Plan, PlanOptions, apply};
use snapaudit_tests::fixtures;

/// A sanitized copy in a temporary directory.
pub struct Sanitized {
    pub dir: tempfile::TempDir,
    pub out: PathBuf,
    pub plan: Plan,
    pub outcome: Outcome,
}

/// Plan `report` on `image` and write the result into a new temporary file.
pub fn sanitize(image: &Path, report: &Report, options: &PlanOptions) -> Sanitized {
    let img = Image::open(image).unwrap();
    let plan = Plan::from_report(report, &img, options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.img");
    let outcome = apply(&img, &plan, &out, &ApplyOptions::default())
        .unwrap_or_else(|e| panic!("apply on {}: {e}", image.display()));
    Sanitized {
        dir,
        out,
        plan,
        outcome,
    }
}

/// `e2fsck -fn` on the filesystem at `offset_bytes` of `image`: exit code
/// and output.
pub fn fsck(image: &Path, offset_bytes: u64) -> (i32, String) {
    let target = format!("{}?offset={offset_bytes}", image.display());
    let output = fixtures::tool("e2fsck")
        .args(["-fn", &target])
        .env("LC_ALL", "C")
        .output()
        .expect("run e2fsck");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Assert that e2fsck finds nothing to fix.
pub fn assert_fsck_clean(image: &Path, offset_bytes: u64, what: &str) {
    let (code, text) = fsck(image, offset_bytes);
    assert_eq!(code, 0, "{what}: e2fsck -fn exit {code}:\n{text}");
}

/// sha256 of a file, by `sha256sum` (coreutils).
pub fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(
        output.status.success(),
        "sha256sum {} failed",
        path.display()
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// sha256 of `bytes` in hex, by `sha256sum` (coreutils).
pub fn sha256_bytes(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A report holding `findings` for `image` (as if `check` had made it).
pub fn report(image: &Path, findings: Vec<Finding>) -> Report {
    let mut r = Report::new(
        ImageInfo {
            path: image.display().to_string(),
            size_bytes: 0,
            format: "raw".into(),
        },
        "alibaba-ecs",
    );
    r.findings = findings;
    r.finish();
    r
}

/// A finding of `rule` about `path` in partition `partition`.
pub fn finding(rule: &str, severity: Severity, partition: u32, path: &str) -> Finding {
    let mut f = Finding::new(rule, severity, format!("{rule} (test)")).path(path);
    f.location.partition = Some(partition);
    f
}

/// Start of partition `index` of `image`.
pub fn partition_start(image: &Path, index: u32) -> u64 {
    let img = Image::open(image).unwrap();
    let table = PartitionTable::read(&img).unwrap();
    table.get(index).unwrap().start_bytes
}

/// Image byte ranges holding file bytes `[file_offset, file_offset+len)`
/// of `path` in partition `index`.
pub fn file_image_ranges(
    image: &Path,
    index: u32,
    path: &str,
    file_offset: u64,
    len: u64,
) -> Vec<(u64, u64)> {
    let img = Image::open(image).unwrap();
    let table = PartitionTable::read(&img).unwrap();
    let part = table.get(index).unwrap();
    let layout = Layout::open(part.bytes(&img)).unwrap();
    let inode = layout.lookup_inode(path, Follow::All).unwrap();
    let mut out = Vec::new();
    let mut pos = file_offset;
    let end = file_offset + len;
    for r in layout.file_byte_ranges(&inode).unwrap() {
        let r_end = r.file_offset_bytes + r.len_bytes;
        if pos < end && pos >= r.file_offset_bytes && pos < r_end {
            let take = (r_end - pos).min(end - pos);
            out.push((
                part.start_bytes + r.volume_offset_bytes + (pos - r.file_offset_bytes),
                take,
            ));
            pos += take;
        }
    }
    assert_eq!(
        pos, end,
        "{path}: bytes {file_offset}+{len} are not all stored"
    );
    out
}

/// A `secret.*` finding (as the scanner reports one) for the `len` bytes
/// at file offset `file_offset` of `path`.
pub fn secret_finding(
    image: &Path,
    index: u32,
    rule: &str,
    path: &str,
    file_offset: u64,
    len: u64,
) -> Finding {
    let ranges = file_image_ranges(image, index, path, file_offset, len);
    let mut f = finding(rule, Severity::Error, index, path);
    f.location.offset_bytes = Some(ranges[0].0);
    f.location.length_bytes = Some(len);
    f.evidence = Some(format!("({len} chars, test)"));
    f
}

/// Read `path` from partition `index` of `image` with the layout reader
/// (which, unlike ext4-view, reads inline_data filesystems).
pub fn read_file(image: &Path, index: u32, path: &str) -> Vec<u8> {
    let img = Image::open(image).unwrap();
    let table = PartitionTable::read(&img).unwrap();
    let bytes = table.get(index).unwrap().bytes(&img);
    let layout = Layout::open(bytes).unwrap();
    let inode = layout.lookup_inode(path, Follow::All).unwrap();
    let mut content = vec![0u8; inode.i_size as usize];
    for r in layout.file_byte_ranges(&inode).unwrap() {
        let at = r.file_offset_bytes as usize;
        let src =
            &bytes[r.volume_offset_bytes as usize..(r.volume_offset_bytes + r.len_bytes) as usize];
        content[at..at + src.len()].copy_from_slice(src);
    }
    content
}

/// Read `path` with ext4-view, which looks names up through htree
/// indexes; `None` when ext4-view does not support the filesystem
/// (meta_bg, inline_data).
pub fn read_file_view(image: &Path, index: u32, path: &str) -> Option<Vec<u8>> {
    let img = Image::open(image).unwrap();
    let table = PartitionTable::read(&img).unwrap();
    let volume = snapaudit::ext4::Volume::new(&img, table.get(index).unwrap());
    match volume.open() {
        Ok(fs) => Some(fs.read_limited(path, 1 << 30).unwrap()),
        Err(snapaudit::Error::Unsupported { .. }) => None,
        Err(e) => panic!("{}: {e}", image.display()),
    }
}

/// Whether `path` exists in partition `index` (our own layout reader).
pub fn exists(image: &Path, index: u32, path: &str) -> bool {
    let img = Image::open(image).unwrap();
    let table = PartitionTable::read(&img).unwrap();
    let layout = Layout::open(table.get(index).unwrap().bytes(&img)).unwrap();
    layout.lookup(path, Follow::Parents).is_ok()
}

/// Offsets where `needle` occurs in the file `path` (image bytes), found
/// by `grep -F -a -b -o` so that a 100 MiB image is searched quickly.
pub fn grep_offsets(path: &Path, needle: &[u8]) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("pattern");
    std::fs::write(&pattern, needle).unwrap();
    let output = Command::new("grep")
        .args(["-F", "-a", "-b", "-o", "-f"])
        .arg(&pattern)
        .arg(path)
        .output()
        .expect("run grep");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(':').and_then(|(o, _)| o.parse().ok()))
        .collect()
}

/// A filesystem image built by `mke2fs -d` from a tree `populate` writes.
pub struct BuiltFs {
    pub dir: tempfile::TempDir,
    pub image: PathBuf,
    pub root: PathBuf,
}

/// Build `size` (mke2fs syntax) with `mkfs_args` from the tree `populate`
/// makes; `None` when e2fsprogs is missing.
pub fn build_fs(mkfs_args: &[&str], size: &str, populate: impl FnOnce(&Path)) -> BuiltFs {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    populate(&root);
    let image = dir.path().join("fs.img");
    let mut args: Vec<String> = ["-q", "-F", "-o", "Linux", "-E", "root_owner=0:0"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    args.extend(mkfs_args.iter().map(|s| (*s).to_string()));
    args.extend([
        "-d".to_string(),
        root.display().to_string(),
        image.display().to_string(),
        size.to_string(),
    ]);
    let output = fixtures::tool("mke2fs")
        .args(&args)
        .env(
            "MKE2FS_CONFIG",
            snapaudit_tests::workspace_root().join("testdata/mke2fs.conf"),
        )
        .output()
        .expect("run mke2fs");
    assert!(
        output.status.success(),
        "mke2fs {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    BuiltFs { dir, image, root }
}

/// `e2fsck -fyD` (index directories into htrees); exit 0 or 1 is success.
pub fn index_dirs(image: &Path) {
    let output = fixtures::tool("e2fsck")
        .arg("-fyD")
        .arg(image)
        .output()
        .expect("run e2fsck");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "e2fsck -fyD: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Write `bytes` at `path` under `root`, creating directories.
pub fn put(root: &Path, path: &str, bytes: &[u8]) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, bytes).unwrap();
}

/// Deterministic filler (xorshift) so blocks differ.
pub fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'a' + (state % 26) as u8
        })
        .collect()
}

/// The snapaudit binary, built on first use (`cargo build -p snapaudit-cli`).
pub fn snapaudit_bin() -> PathBuf {
    snapaudit_tests::snapaudit_bin()
}

/// A copy of `src` (in `dir`) whose root filesystem's journal superblock
/// has an invalid block type: its journal cannot be replayed.
pub fn with_broken_journal(src: &Path, dir: &Path) -> std::path::PathBuf {
    let copy = dir.join("broken-journal.img");
    std::fs::copy(src, &copy).unwrap();
    let image = Image::open(&copy).unwrap();
    let table = snapaudit::partition::PartitionTable::read(&image).unwrap();
    let volume = snapaudit::ext4::find_root(&image, &table).unwrap();
    let layout = snapaudit::ext4::layout::Layout::open(volume.bytes()).unwrap();
    let jsb = snapaudit::ext4::journal::journal_ranges(&layout).unwrap()[0].start;
    let at = volume.image_offset(jsb) + 7;
    drop(layout);
    drop(image);
    let file = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &[9], at).unwrap();
    copy
}
