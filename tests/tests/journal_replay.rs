//! Crash-consistent snapshots (testdata/crash-snapshots.sh: an image copied
//! while loop-mounted) against e2fsck's replay of the same journal: the
//! tree, stat data, contents and free blocks snapaudit reads equal those of
//! a copy where `e2fsck -fy` replayed it; check finds the key at its path;
//! sanitize writes the replayed filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sanitize_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use snapaudit::ext4::layout::{Follow, Layout};
use snapaudit::ext4::{FileKind, Fs, Recovery, Stat, Volume};
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::report::{Report, Severity};
use snapaudit::sanitize::{Plan, PlanOptions};
use snapaudit_tests::fixtures::{run_ok, tool};

const VARIANTS: [&str; 6] = [
    "ordered",
    "journal",
    "plain",
    "ext3",
    "small-log",
    "uncommitted",
];

/// The snapshots, built once per test binary.
fn snapshots() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        for (cmd, package) in [
            ("ssh-keygen", "openssh-client"),
            ("mkfs.ext4", "e2fsprogs"),
            ("debugfs", "e2fsprogs"),
            ("losetup", "mount"),
        ] {
            let found = tool("sh")
                .args(["-c", &format!("command -v {cmd}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(found, "{cmd} not found: apt-get install -y {package}");
        }
        let dir = tempfile::tempdir().unwrap();
        let script = snapaudit_tests::workspace_root().join("testdata/crash-snapshots.sh");
        run_ok(tool("bash").arg(script).arg(dir.path()));
        dir
    })
    .path()
}

fn image(name: &str) -> PathBuf {
    snapshots().join(format!("{name}.img"))
}

/// A copy of `name` on which `e2fsck -fy` replayed the journal.
fn fscked(name: &str) -> tempfile::NamedTempFile {
    let copy = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(image(name), copy.path()).unwrap();
    let out = tool("e2fsck").arg("-fy").arg(copy.path()).output().unwrap();
    // 0: clean, 1: errors corrected (the replay itself counts).
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{name}: e2fsck -fy: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    copy
}

fn volume(path: &Path) -> Volume {
    let image = Image::open(path).unwrap();
    let table = PartitionTable::read(&image).unwrap();
    Volume::new(&image, &table.partitions[0])
}

/// Every entry's stat and (for regular files) contents.
fn tree(fs: &Fs) -> BTreeMap<String, (Stat, Option<Vec<u8>>)> {
    let mut paths = Vec::new();
    fs.walk("/", &mut |e| paths.push(e.path.clone()), &mut |p, e| {
        panic!("{p}: {e}")
    });
    paths
        .into_iter()
        .map(|p| {
            let stat = fs.stat(&p).unwrap();
            let data = (stat.kind == FileKind::File).then(|| fs.read_limited(&p, 1 << 30).unwrap());
            (p, (stat, data))
        })
        .collect()
}

fn free_blocks(v: &Volume) -> u64 {
    Layout::open(v.bytes())
        .unwrap()
        .free_block_ranges()
        .unwrap()
        .iter()
        .map(|r| r.len_blocks)
        .sum()
}

fn dumpe2fs_header(path: &Path) -> String {
    String::from_utf8(run_ok(tool("dumpe2fs").arg("-h").arg(path)).stdout).unwrap()
}

/// debugfs's own dump of `path`: regular files by path.
fn rdump(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        tool("debugfs")
            .arg("-R")
            .arg(format!("rdump / {}", dir.path().display()))
            .arg(path),
    );
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string();
                out.insert(format!("/{rel}"), std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn crash_snapshots_read_like_copies_e2fsck_replayed() {
    for name in VARIANTS {
        let snap = image(name);
        assert!(
            dumpe2fs_header(&snap).contains("needs_recovery"),
            "{name}: needs_recovery"
        );
        let reference = fscked(name);
        assert!(!dumpe2fs_header(reference.path()).contains("needs_recovery"));

        let ours = volume(&snap);
        let Some(Recovery::Replayed { transactions, .. }) = ours.recovery() else {
            panic!("{name}: {:?}", ours.recovery());
        };
        assert!(*transactions > 0, "{name}");
        let theirs = volume(reference.path());
        assert!(theirs.recovery().is_none());
        let (a, b) = (tree(&ours.open().unwrap()), tree(&theirs.open().unwrap()));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}: the trees differ"
        );
        for (path, (stat, data)) in &a {
            let (want_stat, want_data) = &b[path];
            assert_eq!(stat, want_stat, "{name}:{path}");
            assert!(data == want_data, "{name}:{path}: contents differ");
        }
        // debugfs reads the same files from the replayed copy.
        for (path, bytes) in rdump(reference.path()) {
            let got = a.get(&path).and_then(|(_, d)| d.as_ref());
            assert!(got == Some(&bytes), "{name}:{path}: differs from debugfs");
        }
        assert_eq!(
            free_blocks(&ours),
            free_blocks(&theirs),
            "{name}: free blocks"
        );
        // Read as on disk, the newest files are missing (the journal holds
        // them): the comparison above is not vacuous.
        if name != "uncommitted" {
            assert!(a.contains_key("/root/.ssh/id_ed25519"), "{name}");
            let disk = Image::open(&snap).unwrap();
            let raw = Layout::open(disk.bytes()).unwrap();
            let on_disk = raw.lookup("/root/.ssh/id_ed25519", Follow::All);
            assert!(
                on_disk.is_err(),
                "{name}: the key is already on disk: {on_disk:?}"
            );
        }
    }
}

fn report(path: &Path) -> Report {
    let image = Image::open(path).unwrap();
    snapaudit::rules::check(&image, &Default::default()).unwrap()
}

#[test]
fn check_finds_the_key_at_its_path_and_says_the_journal_was_replayed() {
    for name in VARIANTS {
        let r = report(&image(name));
        let key = r.findings.iter().find(|f| {
            f.rule == "secret.private-key"
                && f.location.path.as_deref() == Some("/root/.ssh/id_ed25519")
        });
        if name == "uncommitted" {
            // The key's inode is in the transaction that never committed:
            // as after e2fsck, the file does not exist and its data is in
            // free blocks.
            assert!(key.is_none(), "{name}");
            assert!(
                r.findings.iter().any(|f| f.rule == "secret.deleted"
                    && f.location.path.as_deref() == Some("unallocated"))
            );
        } else {
            assert_eq!(
                key.map(|f| f.severity),
                Some(Severity::Error),
                "{name}: {:#?}",
                r.findings
            );
        }
        // The key deleted before the snapshot is in free blocks.
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == "secret.deleted"
                    && f.location.path.as_deref() == Some("unallocated")),
            "{name}: {:#?}",
            r.findings
        );
        let unclean: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule == "fs.unclean")
            .collect();
        assert_eq!(unclean.len(), 1, "{name}");
        assert_eq!(unclean[0].severity, Severity::Warning);
        assert!(
            unclean[0].message.contains("replayed it in memory ("),
            "{}",
            unclean[0].message
        );
        assert!(
            unclean[0].message.contains("transaction(s)"),
            "{}",
            unclean[0].message
        );
    }
    // data=journal: the key's data went through the journal, whose blocks
    // are scanned as a region of their own.
    let r = report(&image("journal"));
    let journal: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.location.path.as_deref() == Some("journal"))
        .collect();
    assert!(!journal.is_empty(), "{:#?}", r.findings);
    assert!(journal.iter().all(|f| f.rule == "secret.deleted"
        && f.severity == Severity::Error
        && f.location.offset_bytes.is_some()));
}

#[test]
fn sanitize_writes_the_replayed_filesystem() {
    for name in ["ordered", "journal", "plain", "ext3", "small-log"] {
        let snap = image(name);
        let r = report(&snap);
        let done = sanitize_support::sanitize(&snap, &r, &PlanOptions::default());
        assert!(
            done.plan
                .actions
                .iter()
                .any(|a| a.op == snapaudit::sanitize::Operation::ReplayJournal),
            "{name}: {:#?}",
            done.plan.actions
        );
        sanitize_support::assert_fsck_clean(&done.out, 0, name);
        let header = dumpe2fs_header(&done.out);
        assert!(!header.contains("needs_recovery"), "{name}");
        assert!(
            header.contains("Journal start:            0"),
            "{name}: {header}"
        );
        // Every file equals the e2fsck-replayed copy's, apart from what the
        // plan changed.
        let edited: Vec<&str> = done
            .plan
            .actions
            .iter()
            .filter_map(|a| a.path.as_deref())
            .collect();
        assert!(
            edited.contains(&"/root/.ssh/id_ed25519"),
            "{name}: {edited:?}"
        );
        let reference = rdump(fscked(name).path());
        let output = rdump(&done.out);
        for (path, bytes) in &reference {
            if edited.contains(&path.as_str()) {
                continue;
            }
            assert!(
                output.get(path) == Some(bytes),
                "{name}:{path}: differs from e2fsck's replay"
            );
        }
        // The sanitized copy reads without a journal to replay, and its
        // journal holds no secret.
        let again = report(&done.out);
        assert!(
            again.findings.iter().all(|f| f.rule != "fs.unclean"),
            "{name}"
        );
        assert!(
            again
                .findings
                .iter()
                .all(|f| f.location.path.as_deref() != Some("journal")),
            "{name}"
        );
    }
}

#[test]
fn an_unreplayable_journal_is_read_as_on_disk_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("broken.img");
    std::fs::copy(image("ordered"), &copy).unwrap();
    // Break the journal superblock's block type (journal block 0).
    let v = volume(&copy);
    let layout = Layout::open(v.bytes()).unwrap();
    let jsb = snapaudit::ext4::journal::journal_ranges(&layout).unwrap()[0].start;
    drop(layout);
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes[jsb as usize + 7] = 9;
    std::fs::write(&copy, bytes).unwrap();

    let v = volume(&copy);
    let Some(Recovery::Failed(why)) = v.recovery() else {
        panic!("{:?}", v.recovery());
    };
    assert!(why.contains("block type 9, expected 3 or 4"), "{why}");
    assert!(!v.open().unwrap().journal_replayed());
    let r = report(&copy);
    let unclean = r.findings.iter().find(|f| f.rule == "fs.unclean").unwrap();
    assert!(
        unclean.message.contains("could not be replayed"),
        "{}",
        unclean.message
    );
    let img = Image::open(&copy).unwrap();
    let plan = Plan::from_report(&r, &img, &PlanOptions::default()).unwrap();
    assert!(plan.is_refused());
    assert!(
        plan.refused[0].reason.contains(why.as_str()),
        "{}",
        plan.refused[0].reason
    );
}

/// The fuzz seeds are journals debugfs's journal writer made (fuzz/seeds.sh):
/// exact cases of revokes, checksum v3 with 64bit tags and 32-bit tags.
#[test]
fn debugfs_written_journals_replay() {
    use snapaudit::ext4::journal::{ContiguousLog, JournalSuperblock, replay};
    let seeds = snapaudit_tests::workspace_root().join("fuzz/seeds/jbd2_replay");
    for (name, blocks, revokes) in [
        ("plain", vec![100, 101], 0),
        ("revoke", vec![], 2),
        ("csum-v3", vec![100, 101, 102], 0),
    ] {
        let mut journal = std::fs::read(seeds.join(name)).unwrap();
        journal.resize(1 << 20, 0);
        let jsb = JournalSuperblock::parse(&journal[..1024], 0, 1024, 1024).unwrap();
        let log = ContiguousLog {
            bytes: &journal,
            block_bytes: 1024,
        };
        let r = replay(&log, &jsb, 4096).unwrap();
        assert_eq!(r.transactions, 1, "{name}: {r:?}");
        assert_eq!(
            r.blocks.keys().copied().collect::<Vec<_>>(),
            blocks,
            "{name}"
        );
        assert_eq!(r.revokes, revokes, "{name}");
    }
}
