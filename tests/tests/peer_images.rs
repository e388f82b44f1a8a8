//! Small raw disks from other projects' test suites (peer corpus
//! `images/`) and e2fsprogs' corrupt filesystem images: snapaudit reads what
//! their upstream tests assert, and never panics on any of them.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};

use snapaudit::ext4::Volume;
use snapaudit::image::Image;
use snapaudit::partition::{PartitionTable, TableKind};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/peer-corpus")
}

fn table_of(rel: &str) -> PartitionTable {
    let img = Image::open(corpus().join("images").join(rel)).unwrap();
    PartitionTable::read(&img).unwrap()
}

/// Open, read the table, and walk every ext filesystem, reading every
/// regular file (capped). Errors are fine; panics are not.
fn exercise(image: Image) -> (usize, usize) {
    let Ok(table) = PartitionTable::read(&image) else {
        return (0, 0);
    };
    let (mut files, mut errors) = (0, 0);
    for p in &table.partitions {
        if !p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
            continue;
        }
        let Ok(fs) = Volume::new(&image, p).open() else {
            errors += 1;
            continue;
        };
        let mut paths = Vec::new();
        fs.walk(
            "/",
            &mut |e| {
                if e.kind == snapaudit::ext4::FileKind::File && paths.len() < 2000 {
                    paths.push(e.path.clone());
                }
            },
            &mut |_, _| errors += 1,
        );
        for path in paths {
            match fs.read_limited(&path, 1 << 24) {
                Ok(_) => files += 1,
                Err(_) => errors += 1,
            }
        }
    }
    (files, errors)
}

#[test]
fn bootsector_images_match_upstream() {
    let t = table_of("bootsector/4t-gpt.img");
    assert_eq!(t.kind, TableKind::Gpt);
    let got: Vec<(u64, u64)> = t
        .partitions
        .iter()
        .map(|p| (p.start_bytes, p.size_bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            (1_048_576, 3_000_999_346_176),
            (3_001_000_394_752, 999_786_618_368)
        ]
    );
    // The image is a truncated head: the partitions lie past its end.
    assert!(
        t.problems
            .iter()
            .any(|p| p.message.contains("ends at byte"))
    );

    let t = table_of("bootsector/fdisk-1m-part.img");
    assert_eq!(t.kind, TableKind::Gpt);
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(
        (t.partitions[0].start_bytes, t.partitions[0].size_bytes),
        (34 * 512, 1 << 20)
    );
    assert_eq!(
        t.partitions[0].partuuid.as_deref(),
        Some("f8fdbcd8-6424-4272-a8ef-249bcb71a25c")
    );
    assert_eq!(t.partitions[0].partition_type.name(), "linux");

    assert_eq!(
        table_of("bootsector/fdisk-empty-gpt.img").partitions.len(),
        0
    );
    let empty_mbr = table_of("bootsector/fdisk-empty-mbr.img");
    assert!(empty_mbr.partitions.is_empty());

    let t = table_of("bootsector/mbr-ubuntu-raspi3-16.04.img");
    assert_eq!(t.kind, TableKind::Mbr);
    let got: Vec<(bool, String, u64, u64)> = t
        .partitions
        .iter()
        .map(|p| {
            (
                p.bootable,
                p.partition_type.code(),
                p.start_bytes,
                p.size_bytes,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (true, "0x0c".into(), 4_194_304, 134_217_728),
            (false, "0x83".into(), 138_412_032, 3_860_856_832)
        ]
    );

    let t = table_of("bootsector/pirroman-short-header.img");
    assert_eq!(t.kind, TableKind::Gpt);
    assert_eq!(t.partitions.len(), 70);
    assert!(
        t.partitions
            .iter()
            .any(|p| p.name.as_deref() == Some("frp"))
    );

    let t = table_of("bootsector/tiny.img");
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(
        (t.partitions[0].start_bytes, t.partitions[0].size_bytes),
        (512, 3584)
    );
}

#[test]
fn gptman_and_gpt_crate_images_match_upstream() {
    let t = table_of("gptman/disk1.img");
    assert_eq!((t.kind, t.sector_bytes), (TableKind::Gpt, 512));
    let got: Vec<(Option<&str>, u64, u64, bool)> = t
        .partitions
        .iter()
        .map(|p| {
            (
                p.name.as_deref(),
                p.start_bytes / 512,
                p.size_bytes / 512,
                p.bootable,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(Some("Foo"), 34, 10, false), (Some("Bar"), 48, 5, true)]
    );
    assert!(t.problems.is_empty(), "{:?}", t.problems);

    let t = table_of("gptman/disk2.img");
    assert_eq!((t.kind, t.sector_bytes), (TableKind::Gpt, 4096));
    let got: Vec<(u64, u64)> = t
        .partitions
        .iter()
        .map(|p| (p.start_bytes / 4096, p.end_bytes() / 4096 - 1))
        .collect();
    assert_eq!(got, vec![(6, 15), (70, 79)]);

    for (img, sector) in [("gptman/disk3.img", 512), ("gptman/disk4.img", 4096)] {
        let t = table_of(img);
        assert_eq!(t.sector_bytes, sector);
        let names: Vec<&str> = t
            .partitions
            .iter()
            .filter_map(|p| p.name.as_deref())
            .collect();
        assert_eq!(
            names,
            vec!["Properly zeroed name", "Name with garbage"],
            "{img}"
        );
    }

    let t = table_of("rust-gpt/gpt-disk.img");
    let got: Vec<(u64, u64)> = t
        .partitions
        .iter()
        .map(|p| (p.start_bytes / 512, p.size_bytes / 512))
        .collect();
    assert_eq!(got, vec![(34, 1), (35, 4)]);
}

#[test]
fn mbrman_images_match_upstream() {
    let t = table_of("mbrman/disk1.img");
    let got: Vec<(u32, bool, String, u64)> = t
        .partitions
        .iter()
        .map(|p| {
            (
                p.index,
                p.bootable,
                p.partition_type.code(),
                p.start_bytes / 512,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(1, true, "0x06".into(), 1), (2, false, "0x0b".into(), 3)]
    );

    let t = table_of("mbrman/disk2.img");
    let logical: Vec<(u64, u64)> = t
        .partitions
        .iter()
        .filter(|p| p.index >= 5)
        .map(|p| (p.start_bytes / 512, p.size_bytes / 512))
        .collect();
    assert_eq!(logical, vec![(6, 1), (8, 2), (11, 3), (15, 1), (17, 1)]);
    assert!(
        t.problems.iter().all(|p| !p.message.contains("chain")),
        "{:?}",
        t.problems
    );
}

#[test]
fn ext4_rs_tiny_image_walks_like_upstream() {
    let image = Image::open(corpus().join("images/ext4-rs/all-types-tiny.img")).unwrap();
    let table = PartitionTable::read(&image).unwrap();
    assert_eq!(table.partitions.len(), 1);
    assert_eq!(table.partitions[0].start_bytes, 512);
    let fs = Volume::new(&image, &table.partitions[0]).open().unwrap();
    assert_eq!(
        fs.read_limited("/home/faux/hello.txt", 1024).unwrap(),
        b"Hello, world!\n"
    );
    // ext4-view 1.0 rejects base timestamps above i32::MAX instead of
    // reading them as signed; snapaudit falls back to its own inode reader,
    // which decodes the epoch bits.
    assert_eq!(fs.stat("/future-file").unwrap().mtime, 11_847_456_550);
    let mut n = 0;
    fs.walk("/", &mut |_| n += 1, &mut |p, e| panic!("{p}: {e}"));
    // Upstream counts 28 entries including the root itself.
    assert_eq!(n + 1, 28);
}

#[test]
fn every_peer_disk_image_opens_without_panic() {
    let mut seen = 0;
    for dir in [
        "bootsector",
        "gptman",
        "mbrman",
        "rust-gpt",
        "dfvfs",
        "ext4-rs",
    ] {
        for entry in std::fs::read_dir(corpus().join("images").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(ext, "md" | "txt" | "tgz") {
                continue;
            }
            if let Ok(img) = Image::open(&path) {
                exercise(img);
            }
            seen += 1;
        }
    }
    assert!(seen >= 20, "{seen}");
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Clean e2fsprogs images that ext4-view 1.0 cannot read completely. Each
/// fails with a clear error, not a panic; the test fails when one starts
/// working, so the list cannot go stale.
const EXT4_VIEW_LIMITS: &[(&str, &str)] = &[
    (
        "f_bigalloc_symlink_with_xattr",
        "metadata_csum with 128-byte inodes: rejected as truncated",
    ),
    (
        "f_shared_blocks_ok",
        "metadata_csum with 128-byte inodes: rejected as truncated",
    ),
    ("f_ea_inode_fast_symlink", "ea_inode feature unsupported"),
    ("f_ea_signed_hash", "ea_inode feature unsupported"),
    ("f_ea_unsigned_hash", "ea_inode feature unsupported"),
    ("f_valid_ea_in_inode", "ea_inode feature unsupported"),
];

#[test]
fn every_e2fsprogs_image_opens_or_fails_cleanly() {
    let dir = corpus().join("e2fsprogs");
    let mut n = 0;
    let mut clean_files = 0;
    for line in std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, verdict) = (cols[0], cols[1]);
        let bytes = gunzip(&dir.join(format!("{name}.img.gz")));
        let image = Image::from_bytes(name, bytes);
        let (files, errors) = exercise(image);
        if verdict == "clean" {
            match EXT4_VIEW_LIMITS.iter().find(|(n, _)| *n == name) {
                Some((_, why)) => assert!(
                    errors > 0,
                    "{name} no longer hits the ext4-view limit ({why}): remove it from EXT4_VIEW_LIMITS"
                ),
                None => assert_eq!(
                    errors, 0,
                    "{name}: a clean image must walk and read without errors"
                ),
            }
            clean_files += files;
        }
        n += 1;
    }
    assert_eq!(n, 218);
    assert!(clean_files > 0);
}
