//! Issue 2's acceptance: snapaudit reads every partitioned fixture exactly
//! as `sfdisk --json` does and probes every partition as `blkid -p` does.
//! The reference tools run on the same files in the test. (The CLI's
//! `ls`/`cat` against the fixture trees: crates/snapaudit-cli/tests/.)

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use snapaudit::image::Image;
use snapaudit::partition::{PartitionTable, TableKind};
use snapaudit_tests::fixtures;

fn sfdisk_json(path: &Path) -> Option<serde_json::Value> {
    let out = fixtures::tool("sfdisk")
        .arg("--json")
        .arg(path)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// `blkid -p -o export` of a byte range of `path`.
fn blkid(path: &Path, offset: u64, size: u64) -> BTreeMap<String, String> {
    let out = fixtures::tool("blkid")
        .args([
            "-p",
            "-o",
            "export",
            "-O",
            &offset.to_string(),
            "-S",
            &size.to_string(),
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn partitions_equal_sfdisk_and_probes_equal_blkid() {
    let mut tables = 0;
    let mut probes = 0;
    for name in fixtures::names() {
        let path = fixtures::image(&name);
        let Ok(image) = Image::open(&path) else {
            continue;
        };
        let Ok(table) = PartitionTable::read(&image) else {
            continue;
        };
        // sfdisk assumes 512-byte sectors on files and reads the 4K-sector
        // fixture as a protective MBR only; its layout is checked from the
        // fixture's own metadata in fixtures_build.rs.
        if table.sector_bytes != 512 || !table.problems.is_empty() {
            continue;
        }
        let Some(json) = sfdisk_json(&path) else {
            assert_eq!(
                table.kind,
                TableKind::None,
                "{name}: sfdisk sees no table but snapaudit does"
            );
            continue;
        };
        let pt = &json["partitiontable"];
        let label = pt["label"].as_str().unwrap();
        assert_eq!(
            label,
            if table.kind == TableKind::Gpt {
                "gpt"
            } else {
                "dos"
            },
            "{name}"
        );
        let theirs = pt["partitions"].as_array().unwrap();
        assert_eq!(
            theirs.len(),
            table.partitions.len(),
            "{name}: partition count"
        );
        for (p, s) in table.partitions.iter().zip(theirs) {
            let sector = pt["sectorsize"].as_u64().unwrap_or(512);
            assert_eq!(
                p.start_bytes,
                s["start"].as_u64().unwrap() * sector,
                "{name} p{}",
                p.index
            );
            assert_eq!(
                p.size_bytes,
                s["size"].as_u64().unwrap() * sector,
                "{name} p{}",
                p.index
            );
            let ty = s["type"].as_str().unwrap();
            let ours = p.partition_type.code();
            if table.kind == TableKind::Gpt {
                assert!(
                    ty.eq_ignore_ascii_case(&ours),
                    "{name} p{}: {ty} vs {ours}",
                    p.index
                );
                assert!(
                    s["uuid"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case(p.partuuid.as_deref().unwrap()),
                    "{name}"
                );
            } else {
                assert_eq!(format!("0x{ty:0>2}"), ours, "{name} p{}", p.index);
            }
            if p.partition_type.is_container() {
                continue;
            }
            let want = blkid(&path, p.start_bytes, p.size_bytes);
            let got = p.fs.as_ref();
            assert_eq!(
                got.map(|f| f.kind.as_str()),
                want.get("TYPE").map(String::as_str),
                "{name} p{}",
                p.index
            );
            if let Some(f) = got {
                assert_eq!(f.uuid.as_ref(), want.get("UUID"), "{name} p{}", p.index);
                assert_eq!(f.label.as_ref(), want.get("LABEL"), "{name} p{}", p.index);
                probes += 1;
            }
        }
        tables += 1;
    }
    assert!(tables >= 40, "only {tables} fixtures compared");
    assert!(probes >= 40, "only {probes} filesystems compared");
}
