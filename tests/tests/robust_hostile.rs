//! The hostile fixtures (testdata/fixtures.tsv kind `hostile`, FIXTURES.md
//! "Hostile images"): every one goes through the partition reader, a full
//! walk with every file read, and `check`, without a panic and within a
//! time bound; then each shows the behaviour it was built for.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use snapaudit::Error;
use snapaudit::ext4::layout::{Follow, Layout};
use snapaudit::ext4::{FileKind, Fs, Volume, find_root};
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::report::{Report, Severity};
use snapaudit::rules::{CheckOptions, check};
use snapaudit_tests::fixtures;

/// Per-fixture bound for table + walk + reads + check, in a debug build on
/// a shared 2-core machine. The slowest hostile fixture takes well under a
/// second; a loop that is not caught runs into this instead of hanging CI.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `work` on its own thread and fails the test if it has not finished
/// after [`DEADLINE`] (a hang must fail, not block the suite).
fn within_deadline<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => {
            eprintln!("{what}: {:?}", started.elapsed());
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: not finished after {DEADLINE:?} (a hang?)")
        }
        // The worker panicked; its message is already on stderr.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// What a full pass over one image saw.
#[derive(Debug, Default)]
struct Pass {
    /// Walk entries per ext partition, by partition index.
    walked: Vec<(u32, Vec<(String, FileKind)>)>,
    /// Walk errors (path, message).
    walk_errors: Vec<(String, String)>,
    /// Regular files read (whole, up to 16 MiB) and read errors.
    files_read: usize,
    read_errors: Vec<(String, String)>,
    report: Option<Report>,
}

/// Table, every ext filesystem walked and its files read, then `check`.
fn full_pass(image: &Image) -> Pass {
    let mut pass = Pass::default();
    if let Ok(table) = PartitionTable::read(image) {
        for p in &table.partitions {
            if !p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
                continue;
            }
            let Ok(fs) = Volume::new(image, p).open() else {
                continue;
            };
            let mut entries = Vec::new();
            fs.walk(
                "/",
                &mut |e| entries.push((e.path.clone(), e.kind)),
                &mut |path, e| pass.walk_errors.push((path.to_string(), e.to_string())),
            );
            for (path, kind) in &entries {
                if *kind == FileKind::File {
                    match fs.read_limited(path, 16 << 20) {
                        Ok(_) => pass.files_read += 1,
                        Err(e) => pass.read_errors.push((path.clone(), e.to_string())),
                    }
                }
            }
            pass.walked.push((p.index, entries));
        }
    }
    pass.report = check(image, &CheckOptions::default()).ok();
    pass
}

fn pass_of(name: &str) -> Pass {
    let path = fixtures::image(name);
    within_deadline(name, move || full_pass(&Image::open(path).unwrap()))
}

fn root_fs(name: &str) -> Fs {
    let image = Image::open(fixtures::image(name)).unwrap();
    let table = PartitionTable::read(&image).unwrap();
    find_root(&image, &table).unwrap().open().unwrap()
}

/// `rule:severity` of every finding at warning level or above.
fn findings(report: &Report) -> BTreeSet<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| format!("{}:{}", f.rule, f.severity))
        .collect()
}

fn hostile_names() -> Vec<String> {
    let text =
        std::fs::read_to_string(snapaudit_tests::workspace_root().join("testdata/fixtures.tsv"))
            .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut c = l.split('\t');
            let name = c.next()?;
            (c.next()? == "hostile").then(|| name.to_string())
        })
        .collect()
}

/// Every hostile fixture: no panic, no hang; `check` answers (or, for the
/// images too short to be a disk, `Image::open`/`check` fail cleanly).
#[test]
fn every_hostile_fixture_completes_without_panic() {
    let names = hostile_names();
    assert!(names.len() >= 18, "{names:?}");
    for name in names {
        let path = fixtures::image(&name);
        let report = within_deadline(&name, move || {
            let image = match Image::open(&path) {
                Ok(i) => i,
                Err(e) => return Err(e.to_string()),
            };
            let pass = full_pass(&image);
            pass.report.ok_or_else(|| "check failed".to_string())
        });
        match name.as_str() {
            "tiny-empty" | "tiny-100b" => assert!(report.is_err(), "{name}: {report:?}"),
            _ => assert!(report.is_ok(), "{name}: {report:?}"),
        }
    }
}

#[test]
fn broken_partition_tables_are_errors_not_crashes() {
    for name in [
        "hostile-gpt-array-past-end",
        "hostile-gpt-overlap",
        "hostile-gpt-entries-2e32",
        "hostile-gpt-entry-size",
        "hostile-mbr-ebr-loop",
        "hostile-mbr-ebr-self",
        "hostile-mbr-past-end",
    ] {
        let pass = pass_of(name);
        let got = findings(pass.report.as_ref().unwrap());
        assert!(
            got.contains("disk.partition-table:error"),
            "{name}: {got:?}"
        );
        assert!(got.contains("disk.root-fs:error"), "{name}: {got:?}");
    }
}

/// The EBR loop is cut where it closes: p1, p5 and p6 are listed once
/// each, and the problem names the link that loops.
#[test]
fn ebr_loops_list_each_logical_partition_once() {
    for name in ["hostile-mbr-ebr-loop", "hostile-mbr-ebr-self"] {
        let image = Image::open(fixtures::image(name)).unwrap();
        let table = within_deadline(name, move || PartitionTable::read(&image).unwrap());
        let indexes: Vec<u32> = table.partitions.iter().map(|p| p.index).collect();
        assert_eq!(indexes, [1, 2, 5, 6], "{name}");
        assert!(
            table
                .problems
                .iter()
                .any(|p| p.severity == Severity::Error && p.message.contains("chain")),
            "{name}: {:?}",
            table.problems
        );
    }
}

/// 0xFFFFFFFF entries of 0xFFFFFFFF bytes would be 16 EiB: refused from
/// the header, before any allocation.
#[test]
fn gpt_entry_counts_from_the_header_are_not_trusted() {
    for name in ["hostile-gpt-entries-2e32", "hostile-gpt-entry-size"] {
        let image = Image::open(fixtures::image(name)).unwrap();
        let started = Instant::now();
        let table = PartitionTable::read(&image);
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
        match table {
            Ok(t) => assert!(
                t.problems.iter().any(|p| p.severity == Severity::Error),
                "{name}: {:?}",
                t.problems
            ),
            Err(e) => assert!(matches!(e, Error::Corrupt { .. }), "{name}: {e}"),
        }
    }
}

#[test]
fn gpt_partitions_past_the_end_and_overlapping_are_named() {
    let image = Image::open(fixtures::image("hostile-mbr-past-end")).unwrap();
    let table = PartitionTable::read(&image).unwrap();
    assert!(
        table
            .problems
            .iter()
            .any(|p| p.message.contains("partition 1 ends at byte")),
        "{:?}",
        table.problems
    );
    let image = Image::open(fixtures::image("hostile-gpt-overlap")).unwrap();
    let table = PartitionTable::read(&image).unwrap();
    assert!(
        table
            .problems
            .iter()
            .any(|p| p.message.contains("partitions 1 and 2 overlap")),
        "{:?}",
        table.problems
    );
}

/// `/opt/loop/sub/back` is `/opt/loop` again and `/opt/loop/sub/root` is
/// `/`: the walk lists both names and descends into neither, so it sees
/// the tree once (plus the two links) and reports the loop.
#[test]
fn directory_loops_are_walked_once() {
    let pass = pass_of("hostile-dir-loop");
    let tree = fixtures::tree("hostile-dir-loop");
    let (_, walked) = &pass.walked[0];
    let paths: BTreeSet<&str> = walked.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths.len(), walked.len(), "a path was listed twice");
    let in_tree = tree_paths(&tree);
    let extra: Vec<&&str> = paths
        .iter()
        .filter(|p| !in_tree.contains(**p) && !p.starts_with("/lost+found"))
        .collect();
    assert_eq!(
        extra,
        vec![&"/opt/loop/sub/back", &"/opt/loop/sub/root"],
        "the walk went through a loop"
    );
    let loop_errors: Vec<&(String, String)> = pass
        .walk_errors
        .iter()
        .filter(|(_, m)| m.contains("loop"))
        .collect();
    assert_eq!(loop_errors.len(), 2, "{:?}", pass.walk_errors);
    assert!(pass.report.is_some());
}

/// Every path under `tree`, as the image names it (`/etc/passwd`).
fn tree_paths(tree: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![tree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(tree).unwrap().display().to_string();
            out.insert(format!("/{rel}"));
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// Symlink loops and over-long chains stop with an error, through both
/// ext4-view and our own lookup; the links themselves can still be stat'ed.
#[test]
fn symlink_loops_stop_with_an_error() {
    let fs = root_fs("hostile-symlink-loop");
    let layout_bytes = fs.volume().bytes();
    let layout = Layout::open(layout_bytes).unwrap();
    for link in ["a", "b", "self", "chain0"] {
        let path = format!("/opt/loop/{link}");
        assert_eq!(fs.stat(&path).unwrap().kind, FileKind::Symlink, "{path}");
        assert!(fs.canonicalize(&path).is_err(), "{path}");
        assert!(fs.read_limited(&path, 1 << 20).is_err(), "{path}");
        assert!(layout.lookup(&path, Follow::All).is_err(), "{path}");
    }
    // chain0 is 50 links from /etc/hostname, over Linux's 40; chain40 is
    // 10 links from it and resolves.
    let hostname = fs.read_limited("/etc/hostname", 4096).unwrap();
    assert_eq!(
        fs.read_limited("/opt/loop/chain40", 4096).unwrap(),
        hostname
    );
    // `dot -> .` and `up -> ../loop` are directories, not loops.
    assert_eq!(fs.stat_follow("/opt/loop/dot").unwrap().kind, FileKind::Dir);
    assert_eq!(fs.stat_follow("/opt/loop/up").unwrap().kind, FileKind::Dir);
}

/// `..` above the root stays at the root, and absolute targets start from
/// the image's root: every escaping link reads the image's own file.
#[test]
fn escaping_symlinks_resolve_inside_the_image() {
    let fs = root_fs("hostile-symlink-escape");
    let tree = fixtures::tree("hostile-symlink-escape");
    for (link, target) in [
        ("passwd", "etc/passwd"),
        ("abs", "etc/shadow"),
        ("hostname", "etc/hostname"),
    ] {
        let path = format!("/opt/escape/{link}");
        let got = fs.read_limited(&path, 1 << 20).unwrap();
        assert_eq!(got, std::fs::read(tree.join(target)).unwrap(), "{path}");
    }
    assert_eq!(fs.canonicalize("/opt/escape/rootdir").unwrap(), "/");
    let vol = fs.volume().bytes();
    let layout = Layout::open(vol).unwrap();
    let etc_passwd = layout.lookup("/etc/passwd", Follow::All).unwrap();
    assert_eq!(
        layout.lookup("/opt/escape/passwd", Follow::All).unwrap(),
        etc_passwd
    );
}

/// 10 000 entries in one htree directory: all listed, through ext4-view and
/// through our linear reader.
#[test]
fn a_ten_thousand_entry_directory_is_listed_whole() {
    let names = within_deadline("read_dir", move || {
        root_fs("hostile-bigdir")
            .read_dir("/var/cache/many")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
    });
    let want: Vec<String> = (0..10_000).map(|i| format!("f{i:05}")).collect();
    assert_eq!(names, want);
    let fs = root_fs("hostile-bigdir");
    let vol = fs.volume().bytes();
    let layout = Layout::open(vol).unwrap();
    let ino = layout.lookup("/var/cache/many", Follow::All).unwrap();
    // Plus "." and "..".
    assert_eq!(layout.read_dir(ino).unwrap().len(), 10_002);
}

/// `read_dir_stat` (inode read by the entry's number, what `ls -l` uses)
/// says exactly what a `stat` of each path says: on symlinks (loops
/// included), directories, and all 10 000 entries of the big directory.
#[test]
fn listing_with_metadata_equals_stat_of_each_path() {
    for (fixture, dir, at_least) in [
        ("hostile-symlink-loop", "/opt/loop", 6),
        ("hostile-bigdir", "/var/cache/many", 10_000),
        ("hostile-bigdir", "/", 10),
    ] {
        let fs = root_fs(fixture);
        let listed = fs.read_dir_stat(dir).unwrap();
        assert!(
            listed.len() >= at_least,
            "{fixture}:{dir}: {}",
            listed.len()
        );
        let names: Vec<_> = listed.iter().map(|(e, _)| e.clone()).collect();
        assert_eq!(names, fs.read_dir(dir).unwrap(), "{fixture}:{dir}");
        for (entry, stat) in listed {
            let path = if dir == "/" {
                format!("/{}", entry.name)
            } else {
                format!("{dir}/{}", entry.name)
            };
            assert_eq!(stat.unwrap(), fs.stat(&path).unwrap(), "{fixture}:{path}");
        }
    }
}

/// 100 nested directories: walked to the leaf, which reads back.
#[test]
fn a_hundred_deep_tree_is_walked_to_the_leaf() {
    let pass = pass_of("hostile-deep-tree");
    let leaf = fixtures::meta("hostile-deep-tree")
        .str("deep.leaf")
        .to_string();
    let (_, walked) = &pass.walked[0];
    assert!(walked.iter().any(|(p, _)| *p == leaf), "{leaf} not walked");
    assert!(pass.walk_errors.is_empty(), "{:?}", pass.walk_errors);
    let fs = root_fs("hostile-deep-tree");
    let tree = fixtures::tree("hostile-deep-tree");
    assert_eq!(
        fs.read_limited(&leaf, 4096).unwrap(),
        std::fs::read(tree.join(leaf.trim_start_matches('/'))).unwrap()
    );
}

/// A 1 TiB sparse file is never pulled into memory: `read_limited` refuses
/// it from its size, and its data is found from the extent map (two small
/// runs), not by reading the holes.
#[test]
fn a_sparse_terabyte_file_is_not_read_into_memory() {
    let meta = fixtures::meta("hostile-sparse-1t");
    let path = meta.str("sparse.path").to_string();
    let fs = root_fs("hostile-sparse-1t");
    let st = fs.stat(&path).unwrap();
    assert_eq!(st.size_bytes, meta.u64("sparse.size_bytes"));
    let started = Instant::now();
    let err = fs.read_limited(&path, 1 << 30).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(err.to_string().contains("larger than"), "{err}");

    let vol = fs.volume().bytes();
    let layout = Layout::open(vol).unwrap();
    let inode = layout.lookup_inode(&path, Follow::All).unwrap();
    let ranges = layout.file_byte_ranges(&inode).unwrap();
    let mapped: u64 = ranges.iter().map(|r| r.len_bytes).sum();
    assert!(mapped <= 64 * 1024, "{mapped} bytes mapped");
    let at = |file_offset: u64, len: usize| -> Vec<u8> {
        let r = ranges
            .iter()
            .find(|r| {
                r.file_offset_bytes <= file_offset
                    && file_offset < r.file_offset_bytes + r.len_bytes
            })
            .unwrap();
        let start = (r.volume_offset_bytes + file_offset - r.file_offset_bytes) as usize;
        vol[start..start + len].to_vec()
    };
    assert_eq!(at(0, 20), b"BEGIN-OF-SPARSE-FILE");
    assert_eq!(
        at(meta.u64("sparse.end_marker_offset"), 18),
        b"END-OF-SPARSE-FILE"
    );
    let pass = pass_of("hostile-sparse-1t");
    assert!(
        pass.read_errors.iter().any(|(p, _)| *p == path),
        "{:?}",
        pass.read_errors
    );
}

/// A flipped inode checksum: the audit runs, every other file reads.
#[test]
fn a_bad_inode_checksum_spoils_one_file_only() {
    let meta = fixtures::meta("hostile-bad-csum");
    let bad = meta.str("bad_csum.path").to_string();
    let pass = pass_of("hostile-bad-csum");
    let report = pass.report.as_ref().unwrap();
    assert!(report.system.is_some(), "the audit stopped at the root");
    let others: Vec<&(String, String)> =
        pass.read_errors.iter().filter(|(p, _)| *p != bad).collect();
    assert!(others.is_empty(), "{others:?}");
    let vol_fs = root_fs("hostile-bad-csum");
    let vol = vol_fs.volume().bytes();
    let layout = Layout::open(vol).unwrap();
    let inode = layout.lookup_inode(&bad, Follow::All).unwrap();
    assert!(
        !layout.inode_checksum(&inode).unwrap().unwrap().is_valid(),
        "the fixture's checksum is no longer bad"
    );
}

/// An encrypted directory cannot be listed without the key: reported as
/// unreadable (`Unsupported`), and the walk and the audit go on.
#[test]
fn an_encrypted_directory_is_reported_unreadable() {
    let dir = fixtures::meta("hostile-encrypted-dir")
        .str("encrypted.dir")
        .to_string();
    let fs = root_fs("hostile-encrypted-dir");
    let err = fs.read_dir(&dir).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("encrypted"), "{err}");
    let pass = pass_of("hostile-encrypted-dir");
    assert!(
        pass.walk_errors.iter().any(|(p, _)| *p == dir),
        "{:?}",
        pass.walk_errors
    );
    let (_, walked) = &pass.walked[0];
    assert!(walked.iter().any(|(p, _)| p == "/etc/passwd"));
    assert!(pass.report.unwrap().system.is_some());
}

/// Filesystems ext4-view 1.0 refuses (casefold, inline_data): the audit
/// says so (`disk.root-fs` names the feature), and our own reader still
/// reads every file of the tree byte for byte.
#[test]
fn filesystems_ext4_view_refuses_are_read_by_our_own_reader() {
    for name in ["fs-casefold", "fs-inline-data"] {
        let image = Image::open(fixtures::image(name)).unwrap();
        let report = check(&image, &CheckOptions::default()).unwrap();
        let root_fs = report
            .findings
            .iter()
            .find(|f| f.rule == "disk.root-fs")
            .unwrap_or_else(|| panic!("{name}: no disk.root-fs finding"));
        assert!(
            root_fs.message.contains("unsupported") || root_fs.message.contains("feature"),
            "{name}: {}",
            root_fs.message
        );
        let table = PartitionTable::read(&image).unwrap();
        let part = &table.partitions[0];
        let vol = Volume::new(&image, part);
        let layout = Layout::open(vol.bytes()).unwrap();
        let compared = compare_tree_with_layout(&layout, &fixtures::tree(name));
        assert!(compared > 20, "{name}: only {compared} files compared");
    }
}

/// Block sizes 1 KiB and 64 KiB, bigalloc: every file of the tree reads
/// back identical through `Fs` (ext4-view) and through our reader.
#[test]
fn block_size_and_bigalloc_variants_read_back_identical() {
    for name in [
        "fs-block-1k",
        "fs-block-64k",
        "fs-bigalloc",
        "sys-clean-mbr",
    ] {
        let fs = root_fs(name);
        let tree = fixtures::tree(name);
        let differs = fixtures::meta(name)
            .get("tree.differs")
            .unwrap_or("")
            .to_string();
        let mut compared = 0;
        for path in tree_paths(&tree) {
            let on_host = tree.join(path.trim_start_matches('/'));
            let meta = std::fs::symlink_metadata(&on_host).unwrap();
            if !meta.is_file() || differs.split_whitespace().any(|d| d == path) {
                continue;
            }
            let got = fs.read_limited(&path, 64 << 20).unwrap();
            assert_eq!(got, std::fs::read(&on_host).unwrap(), "{name}:{path}");
            compared += 1;
        }
        let vol = fs.volume().bytes();
        let layout = Layout::open(vol).unwrap();
        assert_eq!(compare_tree_with_layout(&layout, &tree), compared, "{name}");
    }
}

/// Reads every regular file of `tree` through `layout` (lookup + extent
/// map) and compares it; returns how many files were compared.
fn compare_tree_with_layout(layout: &Layout<'_>, tree: &Path) -> usize {
    let mut compared = 0;
    for path in tree_paths(tree) {
        let on_host = tree.join(path.trim_start_matches('/'));
        if !std::fs::symlink_metadata(&on_host).unwrap().is_file() {
            continue;
        }
        let inode = layout.lookup_inode(&path, Follow::Never).unwrap();
        let mut got = vec![0u8; inode.i_size as usize];
        for r in layout.file_byte_ranges(&inode).unwrap() {
            let src = &layout.volume()
                [r.volume_offset_bytes as usize..(r.volume_offset_bytes + r.len_bytes) as usize];
            let at = r.file_offset_bytes as usize;
            got[at..at + src.len()].copy_from_slice(src);
        }
        assert_eq!(
            got,
            std::fs::read(&on_host).unwrap(),
            "{}:{path}",
            tree.display()
        );
        compared += 1;
    }
    compared
}
