//! util-linux's partition-table and probe images (peer corpus): snapaudit
//! must find the same partitions as libblkid's low-level probe, and the same
//! filesystem type/UUID/label as `blkid -p`. Images are opened through
//! snapaudit's own `.xz` expansion.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use snapaudit::image::Image;
use snapaudit::partition::{PartitionTable, TableKind};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/peer-corpus/partitions/util-linux")
}

/// `#N: start size 0xTYPE [name='…'] [uuid='…'] [type='…']` lines.
#[derive(Debug, PartialEq)]
struct Expected {
    index: u32,
    start_lba: u64,
    size_lba: u64,
    mbr_type: u8,
    name: Option<String>,
    uuid: Option<String>,
    gpt_type: Option<String>,
}

fn quoted(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("{key}='"))? + key.len() + 2;
    let len = line[start..].find('\'')?;
    Some(line[start..start + len].to_string())
}

fn expected(name: &str) -> (String, Vec<Expected>) {
    let text = std::fs::read_to_string(
        corpus()
            .join("expected")
            .join(format!("lowprobe-pt-{name}")),
    )
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let parts = lines
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Expected {
                index: f[0]
                    .trim_start_matches('#')
                    .trim_end_matches(':')
                    .parse()
                    .unwrap(),
                start_lba: f[1].parse().unwrap(),
                size_lba: f[2].parse().unwrap(),
                mbr_type: u8::from_str_radix(f[3].trim_start_matches("0x"), 16).unwrap(),
                name: quoted(l, "name"),
                uuid: quoted(l, "uuid"),
                gpt_type: quoted(l, " type")
                    .or_else(|| quoted(l, "type"))
                    .filter(|t| t.contains('-')),
            }
        })
        .collect();
    (header, parts)
}

fn table(name: &str) -> PartitionTable {
    let img = Image::open(corpus().join("images-pt").join(format!("{name}.img.xz"))).unwrap();
    PartitionTable::read(&img).unwrap()
}

#[test]
fn gpt_image_matches_libblkid() {
    let (header, want) = expected("gpt");
    let t = table("gpt");
    assert_eq!(t.kind, TableKind::Gpt);
    assert!(
        header.contains(&format!("id={}", t.disk_id.as_deref().unwrap())),
        "{header}"
    );
    assert_eq!(t.partitions.len(), want.len());
    for (p, w) in t.partitions.iter().zip(&want) {
        assert_eq!(p.index, w.index);
        assert_eq!(p.start_bytes, w.start_lba * 512, "#{}", w.index);
        assert_eq!(p.size_bytes, w.size_lba * 512, "#{}", w.index);
        assert_eq!(p.name, w.name, "#{}", w.index);
        assert_eq!(p.partuuid, w.uuid, "#{}", w.index);
        assert_eq!(
            Some(p.partition_type.code().to_lowercase()),
            w.gpt_type,
            "#{}",
            w.index
        );
    }
}

#[test]
fn dos_image_matches_libblkid_without_the_nested_bsd_label() {
    let (header, want) = expected("dos+bsd");
    let t = table("dos+bsd");
    assert_eq!(t.kind, TableKind::Mbr);
    assert!(
        header.contains(&format!("id={}", t.disk_id.as_deref().unwrap())),
        "{header}"
    );
    // #5 and #6 live in a BSD disklabel inside #2, not in an MBR chain.
    let want: Vec<&Expected> = want.iter().filter(|w| w.index <= 4).collect();
    assert_eq!(t.partitions.len(), want.len(), "{:?}", t.partitions);
    for (p, w) in t.partitions.iter().zip(want) {
        assert_eq!(
            (p.index, p.start_bytes, p.size_bytes),
            (w.index, w.start_lba * 512, w.size_lba * 512)
        );
        assert_eq!(p.partition_type.code(), format!("0x{:02x}", w.mbr_type));
        assert_eq!(p.partuuid, w.uuid);
    }
}

#[test]
fn other_label_formats_are_no_gpt_or_mbr() {
    for name in [
        "bsd",
        "sgi",
        "sun",
        "atari-primary",
        "atari-xgm",
        "dasd-cdl",
        "dasd-ldl",
    ] {
        let t = table(name);
        assert_eq!(t.kind, TableKind::None, "{name}");
        assert!(t.problems.is_empty(), "{name}: {:?}", t.problems);
    }
}

/// `KEY=value` lines of a `blkid -p -o udev` expectation.
fn blkid(path: &str) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(corpus().join(path))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn filesystem_probes_match_blkid() {
    for (img, exp) in [
        ("fs-ext/ext2.img.xz", "fs-ext/low-probe-ext2.expected"),
        ("fs-ext/ext3.img.xz", "fs-ext/low-probe-ext3.expected"),
        ("fs-ext/ext4.img.xz", "fs-ext/low-probe-ext4.expected"),
        ("fs-other/lvm2.img.xz", "fs-other/low-probe-lvm2.expected"),
        ("fs-other/luks1.img.xz", "fs-other/low-probe-luks1.expected"),
        ("fs-other/luks2.img.xz", "fs-other/low-probe-luks2.expected"),
        ("fs-other/swap1.img.xz", "fs-other/low-probe-swap1.expected"),
        (
            "fs-other/fat32_mkdosfs_label1.img.xz",
            "fs-other/low-probe-fat32_mkdosfs_label1.expected",
        ),
    ] {
        let want = blkid(exp);
        let image = Image::open(corpus().join(img)).unwrap();
        let t = PartitionTable::read(&image).unwrap();
        assert_eq!(
            t.kind,
            TableKind::None,
            "{img}: a bare filesystem has no table"
        );
        let fs = t.partitions[0]
            .fs
            .as_ref()
            .unwrap_or_else(|| panic!("{img}: nothing probed"));
        assert_eq!(
            Some(fs.kind.as_str()),
            want.get("ID_FS_TYPE").map(String::as_str),
            "{img}"
        );
        assert_eq!(fs.uuid.as_ref(), want.get("ID_FS_UUID"), "{img}");
        assert_eq!(fs.label.as_ref(), want.get("ID_FS_LABEL"), "{img}");
    }
}
