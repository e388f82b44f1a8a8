//! Smoke test of the fixture factory: builds every fixture with
//! `testdata/build-fixtures.sh` and checks it with the system tools (not
//! with snapaudit), so the fixtures are known to hold what
//! `testdata/FIXTURES.md` says before anyone asserts snapaudit's output on
//! them.
//!
//! - the partition table: `sfdisk --json` (or `fdisk -b 4096` / `sgdisk`
//!   where util-linux reads the table differently) equals the build's
//!   record (`meta/NAME.env`);
//! - every filesystem meant to be clean passes `e2fsck -fn`;
//! - `blkid -p` finds the intended type, UUID and label in every partition;
//! - the planted problems are really there (flags, free space, deleted and
//!   fragmented secrets, patched GPT headers), checked on raw bytes.
//!
//! Secrets are never printed: assertions name offsets and lengths only.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use snapaudit_tests::fixtures::{self, Meta, PartMeta, tool};
use std::collections::BTreeSet;
use std::path::Path;

fn run(command: &mut std::process::Command) -> std::process::Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn stdout_of(command: &mut std::process::Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `IMAGE?offset=N`: the e2fsprogs syntax for a filesystem inside a file.
fn dev(image: &Path, offset: u64) -> String {
    format!("{}?offset={offset}", image.display())
}

fn read_at(image: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(image).expect("open fixture image");
    file.seek(SeekFrom::Start(offset)).expect("seek");
    let mut buf = vec![0; len];
    file.read_exact(&mut buf).expect("read fixture bytes");
    buf
}

fn root_partition(meta: &Meta) -> PartMeta {
    let index: u32 = meta.str("root.partition").parse().expect("root index");
    meta.partitions()
        .into_iter()
        .find(|p| p.index == index)
        .expect("root partition recorded")
}

/// A `dumpe2fs -h` field as a number ("Free blocks", "Block count", ...).
fn sb_field(image: &Path, offset: u64, field: &str) -> u64 {
    let text = stdout_of(tool("dumpe2fs").arg("-h").arg(dev(image, offset)));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("dumpe2fs has no {field:?}"))
        .parse()
        .expect("dumpe2fs field is a number")
}

fn inode_flags(image: &Path, offset: u64, path: &str) -> u32 {
    let text = stdout_of(
        tool("debugfs")
            .arg("-R")
            .arg(format!("stat {path}"))
            .arg(dev(image, offset)),
    );
    let hex = text
        .split("Flags: 0x")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("debugfs stat {path}: no Flags"));
    u32::from_str_radix(hex, 16).expect("flags are hex")
}

#[test]
fn every_listed_fixture_exists_with_its_record() {
    let names = fixtures::names();
    assert!(names.len() > 80, "only {} fixtures listed", names.len());
    for name in &names {
        let image = fixtures::image(name);
        let meta = fixtures::meta(name);
        assert_eq!(meta.str("name"), name);
        assert_eq!(
            meta.u64("image_size_bytes"),
            std::fs::metadata(&image).expect("stat image").len(),
            "{name}: recorded size"
        );
        if meta.get("root.partition").is_some() {
            let tree = fixtures::tree(name);
            assert!(tree.join("etc").is_dir(), "{name}: tree has no /etc");
        }
    }
}

/// FIXTURES.md's machine-readable twin must name exactly the fixtures the
/// script builds, so assertions written from it cannot drift.
#[test]
fn fixtures_tsv_lists_every_fixture() {
    let tsv_path = snapaudit_tests::workspace_root()
        .join("testdata")
        .join("fixtures.tsv");
    let tsv = std::fs::read_to_string(&tsv_path).expect("read testdata/fixtures.tsv");
    let documented: BTreeSet<&str> = tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("name\t") && !l.is_empty())
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.starts_with("sample/"))
        .collect();
    let names = fixtures::names();
    let built: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let undocumented: Vec<_> = built.difference(&documented).collect();
    let unbuilt: Vec<_> = documented.difference(&built).collect();
    assert!(
        undocumented.is_empty() && unbuilt.is_empty(),
        "not in fixtures.tsv: {undocumented:?}; in fixtures.tsv but not built: {unbuilt:?}"
    );
}

/// (index, start_bytes, size_bytes, type) as a partitioning tool reports it.
type ToolPartition = (u32, u64, u64, String);

fn sfdisk_partitions(image: &Path) -> (String, Vec<ToolPartition>) {
    let text = stdout_of(tool("sfdisk").arg("--json").arg(image));
    let json: serde_json::Value = serde_json::from_str(&text).expect("sfdisk --json output");
    let table = &json["partitiontable"];
    let sector = table["sectorsize"].as_u64().unwrap_or(512);
    let image_name = image.display().to_string();
    let partitions = table["partitions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let node = p["node"].as_str().expect("node");
            let index = node
                .strip_prefix(&image_name)
                .and_then(|n| n.trim_start_matches('p').parse().ok())
                .unwrap_or_else(|| panic!("cannot get the index of {node}"));
            let start = p["start"].as_u64().expect("start") * sector;
            let size = p["size"].as_u64().expect("size") * sector;
            let ptype = p["type"].as_str().expect("type").to_ascii_uppercase();
            (index, start, size, ptype)
        })
        .collect();
    let label = table["label"].as_str().expect("label").to_owned();
    (label, partitions)
}

/// `fdisk -b 4096 -l`: sfdisk 2.38 cannot be told the sector size.
fn fdisk_4k_partitions(image: &Path) -> Vec<ToolPartition> {
    let text = stdout_of(
        tool("fdisk")
            .args(["-b", "4096", "-l", "-o", "Device,Start,Sectors,Type-UUID"])
            .arg(image),
    );
    let image_name = image.display().to_string();
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&image_name)?;
            let mut cols = rest.split_whitespace();
            let index = cols.next()?.parse().ok()?;
            let start: u64 = cols.next()?.parse().ok()?;
            let sectors: u64 = cols.next()?.parse().ok()?;
            let ptype = cols.next()?.to_owned();
            Some((index, start * 4096, sectors * 4096, ptype))
        })
        .collect()
}

/// `sgdisk -p`: reads a GPT whose backup header is gone.
fn sgdisk_partitions(image: &Path) -> Vec<(u32, u64, u64)> {
    let text = stdout_of(tool("sgdisk").arg("-p").arg(image));
    text.lines()
        .skip_while(|l| !l.starts_with("Number"))
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let index = cols.next()?.parse().ok()?;
            let first: u64 = cols.next()?.parse().ok()?;
            let last: u64 = cols.next()?.parse().ok()?;
            Some((index, first * 512, (last - first + 1) * 512))
        })
        .collect()
}

fn recorded(meta: &Meta) -> Vec<ToolPartition> {
    meta.partitions()
        .into_iter()
        .filter(|p| p.index > 0)
        .map(|p| {
            (
                p.index,
                p.start_bytes,
                p.size_bytes,
                p.type_id.to_ascii_uppercase(),
            )
        })
        .collect()
}

#[test]
fn partition_tools_agree_with_the_build() {
    for name in fixtures::names() {
        let meta = fixtures::meta(&name);
        if meta.table() == "none" {
            continue;
        }
        let image = fixtures::image(&name);
        match meta.get("sfdisk").unwrap_or("ok") {
            "ok" => {
                let (label, partitions) = sfdisk_partitions(&image);
                let want_label = if meta.table() == "mbr" { "dos" } else { "gpt" };
                assert_eq!(label, want_label, "{name}: table type");
                assert_eq!(partitions, recorded(&meta), "{name}: sfdisk --json");
            }
            "skip" => {
                assert_eq!(meta.u64("sector_size"), 4096, "{name}: why skip sfdisk");
                assert_eq!(
                    fdisk_4k_partitions(&image),
                    recorded(&meta),
                    "{name}: fdisk -b 4096"
                );
            }
            "pmbr" => {
                // util-linux sees only the protective MBR.
                let (label, partitions) = sfdisk_partitions(&image);
                assert_eq!(label, "dos", "{name}");
                assert_eq!(partitions.len(), 1, "{name}");
                assert_eq!(partitions[0].3, "EE", "{name}");
            }
            "other" => {
                // Hostile: sfdisk only has to finish (it caps the EBR loop).
                let _ = run(tool("sfdisk").arg("--json").arg(&image));
            }
            other => panic!("{name}: unknown sfdisk expectation {other:?}"),
        }
        if meta.get("sgdisk") == Some("ok") {
            let want: Vec<_> = recorded(&meta)
                .into_iter()
                .map(|(i, s, z, _)| (i, s, z))
                .collect();
            assert_eq!(sgdisk_partitions(&image), want, "{name}: sgdisk -p");
        }
    }
}

#[test]
fn e2fsck_passes_on_every_clean_filesystem() {
    let mut checked = 0;
    for name in fixtures::names() {
        let image = fixtures::image(&name);
        for part in fixtures::meta(&name).partitions() {
            if !part.fsck_clean {
                continue;
            }
            let output = run(tool("e2fsck").arg("-fn").arg(dev(&image, part.start_bytes)));
            assert!(
                output.status.success(),
                "{name} p{}: e2fsck -fn exit {}\n{}",
                part.index,
                output.status,
                String::from_utf8_lossy(&output.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} filesystems checked");
}

#[test]
fn blkid_finds_the_intended_uuid_and_label() {
    let mut checked = 0;
    for name in fixtures::names() {
        let meta = fixtures::meta(&name);
        let image = fixtures::image(&name);
        let image_size = meta.u64("image_size_bytes");
        for part in meta.partitions() {
            if part.fs.is_empty() {
                continue;
            }
            // Hostile tables claim more than the image holds; blkid refuses
            // a probe window past the end of the file.
            let size = part
                .size_bytes
                .min(image_size.saturating_sub(part.start_bytes));
            let text = stdout_of(
                tool("blkid")
                    .args(["-p", "-o", "export", "-O"])
                    .arg(part.start_bytes.to_string())
                    .arg("-S")
                    .arg(size.to_string())
                    .arg(&image),
            );
            let field = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{key}=")))
                    .unwrap_or("")
                    .to_owned()
            };
            let what = format!("{name} p{}", part.index);
            assert_eq!(field("TYPE"), part.fs, "{what}: TYPE");
            assert_eq!(field("UUID"), part.uuid, "{what}: UUID");
            assert_eq!(field("LABEL"), part.label, "{what}: LABEL");
            checked += 1;
        }
    }
    assert!(checked > 90, "only {checked} filesystems probed");
}

#[test]
fn inode_flags_are_planted() {
    for name in [
        "sys-shadow-immutable",
        "sys-passwd-append",
        "sys-ext3-shadow-immutable",
    ] {
        let meta = fixtures::meta(name);
        let image = fixtures::image(name);
        let root = root_partition(&meta);
        let want = u32::from_str_radix(meta.str("flagged.flags").trim_start_matches("0x"), 16)
            .expect("hex flags");
        let flags = inode_flags(&image, root.start_bytes, meta.str("flagged.path"));
        assert_eq!(flags & want, want, "{name}: flags {flags:#x}");
    }
    // Encrypted and casefolded directories carry their flag.
    let meta = fixtures::meta("hostile-encrypted-dir");
    let image = fixtures::image("hostile-encrypted-dir");
    let flags = inode_flags(
        &image,
        root_partition(&meta).start_bytes,
        "/home/user/private",
    );
    assert_ne!(flags & 0x800, 0, "encrypt flag {flags:#x}");
    let meta = fixtures::meta("fs-casefold");
    let image = fixtures::image("fs-casefold");
    let flags = inode_flags(&image, root_partition(&meta).start_bytes, "/srv/share");
    assert_ne!(flags & 0x4000_0000, 0, "casefold flag {flags:#x}");
}

#[test]
fn free_space_fixtures_sit_in_their_bands() {
    let check = |name: &str| {
        let meta = fixtures::meta(name);
        let image = fixtures::image(name);
        let off = root_partition(&meta).start_bytes;
        (
            sb_field(&image, off, "Free blocks"),
            sb_field(&image, off, "Block count"),
            sb_field(&image, off, "Free inodes"),
            sb_field(&image, off, "Inode count"),
        )
    };
    // Error band: below 1 % free.
    let (free, count, _, _) = check("sys-nearly-full");
    assert!(free * 100 < count, "sys-nearly-full: {free}/{count} free");
    // Warning band: at least max(1 %, 64 MiB), below 10 %.
    let (free, count, _, _) = check("sys-free-space-low");
    assert!(
        free * 4096 >= 64 << 20 && free * 100 >= count && free * 10 < count,
        "sys-free-space-low: {free}/{count} free"
    );
    // The clean baseline: 64 MiB and 10 % free even without reserved blocks.
    let (free, count, _, _) = check("sys-clean-mbr");
    let reserved = count / 20;
    assert!((free - reserved) * 4096 >= 64 << 20 && (free - reserved) * 10 >= count);
    // Inodes: below 1 % free.
    let (_, _, free_inodes, inodes) = check("sys-inodes-full");
    assert!(
        free_inodes * 100 < inodes,
        "{free_inodes}/{inodes} inodes free"
    );
}

#[test]
fn journal_fixture_needs_recovery() {
    let meta = fixtures::meta("sys-journal-needs-recovery");
    let image = fixtures::image("sys-journal-needs-recovery");
    let off = root_partition(&meta).start_bytes;
    let header = stdout_of(tool("dumpe2fs").arg("-h").arg(dev(&image, off)));
    assert!(header.contains("needs_recovery"), "feature flag");
    assert!(
        header.contains("Filesystem state:         not clean"),
        "state"
    );
    // The block in place says "debian"; the journal's copy says "replay".
    let block = meta.u64("journal.block");
    assert_eq!(read_at(&image, off + block * 4096, 7), b"debian\n");
}

fn pem_rsa_header() -> String {
    // Assembled from parts: this file holds no complete key header.
    format!("-----BEGIN {} PRIVATE KEY-----", "RSA")
}

#[test]
fn deleted_key_is_still_in_free_blocks() {
    let meta = fixtures::meta("dirty-deleted-key");
    let image = fixtures::image("dirty-deleted-key");
    let offset = meta.u64("deleted.offset_bytes");
    let marker = pem_rsa_header();
    let bytes = read_at(&image, offset, marker.len());
    assert!(bytes == marker.as_bytes(), "no key header at {offset}");
    // ... and no file holds it any more.
    let listing = stdout_of(
        tool("debugfs")
            .arg("-R")
            .arg("ls -p /home/user")
            .arg(dev(&image, root_partition(&meta).start_bytes)),
    );
    assert!(
        !listing.contains("/old_id_rsa/"),
        "the key file still exists"
    );
}

#[test]
fn fragmented_secret_straddles_an_extent_boundary() {
    let meta = fixtures::meta("dirty-fragmented");
    let image = fixtures::image("dirty-fragmented");
    let before =
        (meta.u64("frag.boundary_file_offset") - meta.u64("frag.secret_file_offset")) as usize;
    let len = meta.u64("frag.secret_len") as usize;
    assert!(before > 0 && before < len);
    assert!(
        meta.u64("frag.block1") > meta.u64("frag.block0") + 1,
        "not fragmented"
    );
    let mut token = read_at(
        &image,
        meta.u64("frag.block0_offset_bytes") + meta.u64("frag.secret_file_offset"),
        before,
    );
    token.extend(read_at(
        &image,
        meta.u64("frag.block1_offset_bytes"),
        len - before,
    ));
    assert!(
        token.starts_with(b"ghp_"),
        "token prefix not at the recorded offset"
    );
    assert!(
        token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_'),
        "stitched token ({len} bytes) is not one token"
    );
    // The tree holds the same file.
    let tree_file = fixtures::tree("dirty-fragmented").join("home/user/notes/fragmented.txt");
    let text = std::fs::read(tree_file).expect("read tree copy");
    let start = meta.u64("frag.secret_file_offset") as usize;
    assert!(
        text.get(start..start + len) == Some(token.as_slice()),
        "tree differs"
    );
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The hostile GPTs are hostile only where intended: both headers carry the
/// patched field and a valid header CRC.
#[test]
fn hostile_gpt_headers_are_patched_consistently() {
    for (name, field_offset, want) in [
        ("hostile-gpt-array-past-end", 72usize, 0x1_0000_0000u64),
        ("hostile-gpt-entries-2e32", 80, 0xffff_ffff),
        ("hostile-gpt-entry-size", 84, 0xffff_ffff),
    ] {
        let image = fixtures::image(name);
        let primary = read_at(&image, 512, 512);
        let backup_lba = le_u64(&primary, 32);
        let backup = read_at(&image, backup_lba * 512, 512);
        for (which, header) in [("primary", &primary), ("backup", &backup)] {
            assert_eq!(&header[..8], b"EFI PART", "{name} {which}");
            let value = if field_offset == 72 {
                le_u64(header, field_offset)
            } else {
                u64::from(le_u32(header, field_offset))
            };
            assert_eq!(value, want, "{name} {which}: patched field");
            let size = le_u32(header, 12) as usize;
            let mut copy = header[..size].to_vec();
            copy[16..20].fill(0);
            assert_eq!(
                crc32(&copy),
                le_u32(header, 16),
                "{name} {which}: header CRC"
            );
        }
    }
}

#[test]
fn ebr_chains_loop() {
    for name in ["hostile-mbr-ebr-loop", "hostile-mbr-ebr-self"] {
        let meta = fixtures::meta(name);
        let image = fixtures::image(name);
        let chain: Vec<u64> = meta
            .str("ebr.ebr_chain_lba")
            .split(',')
            .map(|s| s.parse().expect("lba"))
            .collect();
        let from = meta.u64("ebr.link_from");
        let to = meta.u64("ebr.link_to");
        let ebr = read_at(&image, from * 512, 512);
        let ext_start = chain[0];
        assert_eq!(ebr[446 + 16 + 4], 0x05, "{name}: link type");
        assert_eq!(
            u64::from(le_u32(&ebr, 446 + 16 + 8)) + ext_start,
            to,
            "{name}"
        );
        assert!(
            chain.contains(&to),
            "{name}: link points back into the chain"
        );
    }
}

#[test]
fn big_directory_is_indexed_and_complete() {
    let meta = fixtures::meta("hostile-bigdir");
    let image = fixtures::image("hostile-bigdir");
    let off = root_partition(&meta).start_bytes;
    let listing = stdout_of(
        tool("debugfs")
            .arg("-R")
            .arg("ls -p /var/cache/many")
            .arg(dev(&image, off)),
    );
    let entries = listing.lines().filter(|l| l.starts_with('/')).count();
    assert_eq!(entries, 10_000 + 2, "entries including . and ..");
    assert!(
        inode_flags(&image, off, "/var/cache/many") & 0x1000 != 0,
        "htree index flag"
    );
    let tree_entries = std::fs::read_dir(fixtures::tree("hostile-bigdir").join("var/cache/many"))
        .expect("read tree dir")
        .count();
    assert_eq!(tree_entries, 10_000);
}

#[test]
fn sample_disk_is_small_and_consistent() {
    let zst = fixtures::sample_zst();
    let size = std::fs::metadata(&zst)
        .expect("sample .zst committed")
        .len();
    assert!(size < 1 << 20, "sample is {size} bytes compressed");
    let raw = snapaudit_tests::unzstd_to_temp(&zst);
    let (label, partitions) = sfdisk_partitions(raw.path());
    assert_eq!(label, "dos");
    assert_eq!(partitions.len(), 1);
    let (_, start, _, ptype) = &partitions[0];
    assert_eq!((*start, ptype.as_str()), (1 << 20, "83"));
    let output = run(tool("e2fsck").arg("-fn").arg(dev(raw.path(), *start)));
    assert!(output.status.success(), "e2fsck -fn on the sample");
    let fstab = stdout_of(
        tool("debugfs")
            .arg("-R")
            .arg("cat /etc/fstab")
            .arg(dev(raw.path(), *start)),
    );
    assert_eq!(
        fstab.lines().count(),
        12,
        "fstab: 11 lines + the data-disk line"
    );
    // The deleted key sits where FIXTURES.md says.
    let marker = pem_rsa_header();
    let offset = 7_348_224;
    assert!(
        read_at(raw.path(), offset, marker.len()) == marker.as_bytes(),
        "sample: no deleted key at byte {offset} (update FIXTURES.md and fixtures.tsv)"
    );
}
