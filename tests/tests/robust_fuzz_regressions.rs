//! Inputs the fuzz targets (fuzz/) found crashing, kept in
//! `fuzz/regressions/TARGET-WHAT`, each replayed through the code path of
//! its target. Before the fix each of these aborted the process (an
//! allocation of hundreds of GiB driven by an on-disk number) or panicked.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use snapaudit::Error;
use snapaudit::ext4::Volume;
use snapaudit::ext4::layout::Layout;
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::report::Severity;
use snapaudit::rules::{CheckOptions, check};

/// A regression input, zero-padded to `min_len` like its fuzz target does
/// (fuzz/src/lib.rs `padded`).
fn input(name: &str, min_len: usize) -> Vec<u8> {
    let path = snapaudit_tests::workspace_root()
        .join("fuzz/regressions")
        .join(name);
    let mut bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if bytes.len() < min_len {
        bytes.resize(min_len, 0);
    }
    bytes
}

/// A regression input padded to `min_len`, its partition table, and the
/// ext filesystem the partition reader finds in it.
fn ext_volume(name: &str, min_len: usize) -> (Image, PartitionTable, Volume) {
    let image = Image::from_bytes("regression", input(name, min_len));
    let table = PartitionTable::read(&image).unwrap();
    let part = table
        .partitions
        .iter()
        .find(|p| p.fs.as_ref().is_some_and(|f| f.kind.is_ext()))
        .expect("the input still probes as ext");
    let volume = Volume::new(&image, part);
    (image, table, volume)
}

/// ext4_layout: s_blocks_count 236 223 205 120 in groups of 256 (a
/// BLOCK_UNINIT group makes `free_block_ranges` collect every group's
/// metadata ranges). Capacity for 3 ranges per claimed group was reserved
/// up front: 2.7 × 10⁹ ranges, an abort.
#[test]
fn free_block_ranges_do_not_reserve_per_claimed_group() {
    let vol = input("ext4_layout-metadata-ranges-2e32-groups", 256 * 1024);
    let layout = Layout::open(&vol).unwrap();
    assert!(layout.superblock().group_count() > 900_000_000);
    // Either answer is fine; returning at all is the point.
    let _ = layout.free_block_ranges();
    let _ = image_check(&vol);
}

/// ext4_fs: s_blocks_count 2^44 in groups of 8192. ext4-view 1.0 reserves
/// one descriptor per claimed group before reading any: 2 × 10⁹ of them.
/// `Volume::open` now refuses the superblock first, with the reason.
#[test]
fn ext4_view_is_not_handed_billions_of_block_groups() {
    let (image, _, volume) = ext_volume("ext4_fs-ext4-view-2e32-groups", 256 * 1024);
    let err = volume.open().unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("block groups"), "{err}");
    let report = check(&image, &CheckOptions::default()).unwrap();
    assert!(report.findings.iter().any(|f| f.rule == "disk.root-fs"));
}

/// partition_table (via `find_root`): an ext superblock with
/// s_log_block_size 17, blocks of 128 MiB. ext4-view 1.0 accepts block
/// sizes up to 2 GiB and allocates nine blocks of cache before reading
/// anything: 1.1 GiB here, 18 GiB at most. `Volume::open` now refuses block
/// sizes over 64 KiB first.
#[test]
fn ext4_view_is_not_handed_a_128_mib_block_size() {
    let (image, table, volume) = ext_volume("partition_table-ext4-view-128mib-blocks", 0);
    let err = volume.open().unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("s_log_block_size 17"), "{err}");
    assert!(snapaudit::ext4::find_root(&image, &table).is_none());
}

/// partition_table: one MBR entry of type 0x83 at LBA 0 with 0 sectors.
/// mbrman's alignment guess unwrapped `None` (caught by our catch_unwind,
/// but a panic all the same); now it is our own error and mbrman is not
/// asked.
#[test]
fn mbr_entry_at_lba_0_is_reported_not_passed_to_mbrman() {
    let image = Image::from_bytes("regression", input("partition_table-mbr-entry-at-lba-0", 0));
    let table = PartitionTable::read(&image).unwrap();
    assert!(
        table
            .problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.message.contains("over the MBR itself")),
        "{:?}",
        table.problems
    );
}

/// partition_table: an EBR whose first entry (unused) starts 4 × 10⁹
/// sectors after the EBR. mbrman adds the two in u32 whatever the entry's
/// type: a panic with overflow checks (caught by our catch_unwind, but a
/// panic), a silently wrong start without. The EBR walk now refuses the
/// chain before mbrman sees it.
#[test]
fn ebr_entry_whose_start_wraps_u32_is_reported_not_passed_to_mbrman() {
    let image = Image::from_bytes(
        "regression",
        input("partition_table-ebr-entry-start-wraps-u32", 0),
    );
    let table = PartitionTable::read(&image).unwrap();
    assert!(
        table
            .problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.message.contains("starts beyond 2 TiB")),
        "{:?}",
        table.problems
    );
    assert!(
        !table
            .problems
            .iter()
            .any(|p| p.message.contains("mbrman parser failed")),
        "mbrman was handed the chain: {:?}",
        table.problems
    );
}

fn image_check(vol: &[u8]) -> Option<snapaudit::report::Report> {
    check(
        &Image::from_bytes("regression", vol.to_vec()),
        &CheckOptions::default(),
    )
    .ok()
}

/// ext4_fs: a symlink inode whose i_size says 1 TiB. ext4-view 1.0 reads a
/// symlink target longer than 59 bytes with `vec![0; i_size]`, also while
/// resolving any path through the symlink: an abort. The reader ext4-view
/// reads through now shows such inodes (longer than PATH_MAX) with size 0,
/// so the symlink is refused as corrupt and everything else reads.
#[test]
fn ext4_view_is_not_handed_a_symlink_of_a_terabyte() {
    let (_, _, volume) = ext_volume("ext4_fs-symlink-of-a-terabyte", 256 * 1024);
    // Our own reader sees the inode as it is on disk.
    let layout = Layout::open(volume.bytes()).unwrap();
    let mut huge = Vec::new();
    for ino in 1..=layout.superblock().s_inodes_count.min(4096) {
        if let Ok(inode) = layout.inode(ino)
            && inode.file_type() == snapaudit::ext4::layout::FileType::Symlink
            && inode.i_size > 1 << 32
        {
            huge.push(ino);
        }
    }
    assert!(!huge.is_empty(), "the input keeps its oversized symlink");
    let fs = volume.open().unwrap();
    let mut symlinks = Vec::new();
    fs.walk(
        "/",
        &mut |e| {
            if e.kind == snapaudit::ext4::FileKind::Symlink {
                symlinks.push(e.path.clone());
            }
        },
        &mut |_, _| {},
    );
    let mut refused = 0;
    for path in &symlinks {
        let _ = fs.stat(path);
        let _ = fs.canonicalize(path);
        let _ = fs.stat_follow(path);
        if let Err(e) = fs.read_link(path) {
            assert!(matches!(e, Error::Corrupt { .. }), "{path}: {e}");
            refused += 1;
        }
    }
    assert!(refused >= 1, "the 1 TiB symlink is refused, not read");
    let _ = image_check(volume.bytes());
}
