//! VHD and VHDX containers against qemu-img as the oracle: images written by
//! `qemu-img convert` from the sample disk and from a synthetic disk read as
//! their raw source, with qemu's virtual size and allocation map and the
//! same `snapaudit check` findings; a differencing VHD built here from the
//! specification reads through to its parent; damaged images fail with
//! clear errors.

// Test code unwraps: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use snapaudit::Error;
use snapaudit::image::Image;
use snapaudit_tests::fixtures::{self, run_ok};

// --- qemu-img ---------------------------------------------------------------

fn qemu_img() -> Command {
    static FOUND: OnceLock<()> = OnceLock::new();
    FOUND.get_or_init(|| {
        let ok = fixtures::tool("qemu-img")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "qemu-img not found: apt-get install -y qemu-utils");
    });
    fixtures::tool("qemu-img")
}

fn convert(src: &Path, dst: &Path, format: &str, options: &[&str]) {
    run_ok(
        qemu_img()
            .args(["convert", "-f", "raw", "-O", format])
            .args(options)
            .arg(src)
            .arg(dst),
    );
}

/// `qemu-img ARGS -f FORMAT PATH` as JSON. The format is named: qemu
/// probes only byte 0 for the VHD cookie, so it takes a fixed VHD (footer
/// at the end only) for a raw disk.
fn qemu_json(args: &[&str], format: &str, path: &Path) -> serde_json::Value {
    let out = run_ok(qemu_img().args(args).args(["-f", format]).arg(path));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn qemu_virtual_size(format: &str, path: &Path) -> u64 {
    qemu_json(&["info", "--output=json"], format, path)["virtual-size"]
        .as_u64()
        .unwrap()
}

/// The `"data": true` ranges of `qemu-img map`, coalesced; with
/// `nonzero`, only those not also `"zero": true` (ranges qemu found to be
/// holes of the host file).
fn qemu_data_ranges(format: &str, path: &Path, nonzero: bool) -> Vec<Range<u64>> {
    let map = qemu_json(&["map", "--output=json"], format, path);
    let mut out = Vec::new();
    for e in map.as_array().unwrap() {
        if e["data"] == true && !(nonzero && e["zero"] == true) {
            let start = e["start"].as_u64().unwrap();
            push(&mut out, start..start + e["length"].as_u64().unwrap());
        }
    }
    out
}

fn push(out: &mut Vec<Range<u64>>, r: Range<u64>) {
    match out.last_mut() {
        Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
        _ => out.push(r),
    }
}

/// `ranges` widened to whole blocks of `block` bytes, coalesced.
fn to_blocks(ranges: &[Range<u64>], block: u64, size: u64) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for r in ranges {
        let start = r.start / block * block;
        push(&mut out, start..r.end.next_multiple_of(block).min(size));
    }
    out
}

// --- sources -----------------------------------------------------------------

/// splitmix64: a fixed, reproducible stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A sparse raw disk of `size` bytes with random bytes written at random
/// places (unaligned starts and lengths), from `seed`.
fn synthetic_raw(path: &Path, size: u64, seed: u64) {
    let f = File::create(path).unwrap();
    f.set_len(size).unwrap();
    let mut rng = Rng(seed);
    for _ in 0..48 {
        let len = 1 + rng.below(96 << 10);
        let at = rng.below(size - len);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        f.write_all_at(&bytes, at).unwrap();
    }
    // The last sector too: the end of the disk must survive any rounding.
    f.write_all_at(b"last sector", size - 512).unwrap();
}

fn sample_raw(dir: &Path) -> PathBuf {
    let path = dir.join("sample.raw");
    let mut out = File::create(&path).unwrap();
    let input = File::open(fixtures::sample_zst()).unwrap();
    let mut decoder = zstd::stream::read::Decoder::new(input).unwrap();
    std::io::copy(&mut decoder, &mut out).unwrap();
    path
}

// --- snapaudit check ---------------------------------------------------------

type Finding = (String, String, Option<String>, Option<u64>);

fn check_findings(path: &Path) -> BTreeSet<Finding> {
    let out = Command::new(snapaudit_tests::snapaudit_bin())
        .args(["check", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "snapaudit check {}: no JSON report ({e}): {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["location"]["path"].as_str().map(str::to_owned),
                f["location"]["line"].as_u64(),
            )
        })
        .collect()
}

// --- the variants ------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    VhdFixed,
    VhdDynamic,
    Vhdx,
}

struct Variant {
    label: &'static str,
    format: &'static str,
    options: &'static [&'static str],
    kind: Kind,
    format_name: &'static str,
}

const VARIANTS: &[Variant] = &[
    Variant {
        label: "vpc-dynamic-chs",
        format: "vpc",
        options: &[],
        kind: Kind::VhdDynamic,
        format_name: "vhd-dynamic",
    },
    Variant {
        label: "vpc-dynamic-force-size",
        format: "vpc",
        options: &["-o", "force_size=on"],
        kind: Kind::VhdDynamic,
        format_name: "vhd-dynamic",
    },
    Variant {
        label: "vpc-fixed-chs",
        format: "vpc",
        options: &["-o", "subformat=fixed"],
        kind: Kind::VhdFixed,
        format_name: "vhd-fixed",
    },
    Variant {
        label: "vpc-fixed-force-size",
        format: "vpc",
        options: &["-o", "subformat=fixed,force_size=on"],
        kind: Kind::VhdFixed,
        format_name: "vhd-fixed",
    },
    Variant {
        label: "vhdx-dynamic",
        format: "vhdx",
        options: &[],
        kind: Kind::Vhdx,
        format_name: "vhdx",
    },
    Variant {
        label: "vhdx-dynamic-1m-blocks",
        format: "vhdx",
        options: &["-o", "block_size=1M"],
        kind: Kind::Vhdx,
        format_name: "vhdx",
    },
    Variant {
        label: "vhdx-fixed",
        format: "vhdx",
        options: &["-o", "subformat=fixed"],
        kind: Kind::Vhdx,
        format_name: "vhdx",
    },
];

/// The first offset where `a` and `b` differ. Compares 64 KiB at a time
/// with `==` (memcmp): byte loops are slow in an unoptimised test build.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    const CHUNK: usize = 64 << 10;
    a.chunks(CHUNK)
        .zip(b.chunks(CHUNK))
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .and_then(|(i, (x, y))| {
            x.iter()
                .zip(y.iter())
                .position(|(p, q)| p != q)
                .map(|p| i * CHUNK + p)
        })
}

fn first_nonzero(b: &[u8]) -> Option<usize> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    b.chunks(ZEROS.len())
        .position(|c| c != &ZEROS[..c.len()])
        .and_then(|i| {
            let start = i * ZEROS.len();
            b[start..].iter().position(|&x| x != 0).map(|p| start + p)
        })
}

/// The first non-zero byte of `bytes` outside `ranges`.
fn nonzero_outside(bytes: &[u8], ranges: &[Range<u64>]) -> Option<u64> {
    let mut gaps = Vec::new();
    let mut at = 0u64;
    for r in ranges {
        gaps.push(at..r.start);
        at = r.end;
    }
    gaps.push(at..bytes.len() as u64);
    gaps.into_iter().find_map(|g| {
        first_nonzero(&bytes[g.start as usize..g.end as usize]).map(|p| g.start + p as u64)
    })
}

/// Every variant of `raw` reads as `raw`, maps as qemu maps it, and audits
/// as `raw` audits.
fn assert_variants_match(raw: &Path, dir: &Path) {
    let source = std::fs::read(raw).unwrap();
    let raw_findings = check_findings(raw);
    for v in VARIANTS {
        let path = dir.join(format!("{}.{}", v.label, v.format));
        convert(raw, &path, v.format, v.options);
        let what = format!("{} of {}", v.label, raw.display());
        let image = Image::open(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(image.format_name(), v.format_name, "{what}");

        // (1) The disk is the source, and zeros past it.
        let bytes = image.bytes();
        assert_eq!(
            image.size_bytes(),
            qemu_virtual_size(v.format, &path),
            "{what}"
        );
        assert!(
            bytes.len() >= source.len(),
            "{what}: disk shorter than its source"
        );
        if let Some(at) = first_difference(&bytes[..source.len()], &source) {
            panic!("{what}: differs from its source at byte {at}");
        }
        if let Some(at) = first_nonzero(&bytes[source.len()..]) {
            panic!(
                "{what}: non-zero byte {} past the source",
                source.len() + at
            );
        }

        // (2) The allocation map.
        let ours = image.data_ranges().expect("a container has a map").to_vec();
        if let Some(at) = nonzero_outside(bytes, &ours) {
            panic!("{what}: byte {at} is not zero but outside the allocation map {ours:?}");
        }
        let qemu = qemu_data_ranges(v.format, &path, false);
        let info = qemu_json(&["info", "--output=json"], v.format, &path);
        match v.kind {
            // qemu asks the host file about a fixed VHD's holes and marks
            // them zero: without them, the same map.
            Kind::VhdFixed => assert_eq!(
                ours,
                qemu_data_ranges(v.format, &path, true),
                "{what}: allocation map"
            ),
            // qemu reports a dynamic VHD's allocated blocks whole; ours
            // leaves out the holes the host file has inside them, so it
            // must name the same blocks.
            Kind::VhdDynamic => {
                let block = info["cluster-size"].as_u64().unwrap();
                assert_eq!(
                    to_blocks(&ours, block, image.size_bytes()),
                    qemu,
                    "{what}: allocated blocks"
                );
            }
            // qemu's VHDX driver has no block status: it maps the whole
            // disk as data. What the BAT maps must then be the blocks that
            // hold the source's data (what qemu-img convert writes), and a
            // part of qemu's map.
            Kind::Vhdx => {
                assert_eq!(qemu, vec![0..image.size_bytes()], "{what}: qemu's map");
                let block = info["cluster-size"].as_u64().unwrap();
                let mut written = Vec::new();
                for (i, chunk) in source.chunks(block as usize).enumerate() {
                    if first_nonzero(chunk).is_some() {
                        let start = i as u64 * block;
                        push(&mut written, start..start + chunk.len() as u64);
                    }
                }
                assert_eq!(
                    to_blocks(&ours, block, image.size_bytes()),
                    to_blocks(&written, block, image.size_bytes()),
                    "{what}: allocated blocks"
                );
            }
        }

        // (3) The same findings; a disk grown to its CHS geometry may lose
        // only a backup GPT's place at the end.
        let findings = check_findings(&path);
        let grown = image.size_bytes() > source.len() as u64;
        let extra: Vec<_> = findings.difference(&raw_findings).collect();
        let missing: Vec<_> = raw_findings.difference(&findings).collect();
        assert!(missing.is_empty(), "{what}: findings missing: {missing:?}");
        assert!(
            extra
                .iter()
                .all(|f| grown && f.0 == "disk.partition-table" && f.1 == "warning"),
            "{what}: extra findings: {extra:?}"
        );
    }
}

#[test]
fn sample_disk_in_every_vhd_and_vhdx_variant_reads_as_the_raw_disk() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    assert_variants_match(&raw, dir.path());
}

#[test]
fn synthetic_disk_in_every_vhd_and_vhdx_variant_reads_as_the_raw_disk() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("synthetic.raw");
    // 40 MiB and 3 sectors: no CHS geometry holds it exactly.
    let size = (40 << 20) + 3 * 512;
    synthetic_raw(&raw, size, 0x5eed_f7ad);
    assert_variants_match(&raw, dir.path());
    // qemu's CHS rounding did grow the plain VHD: the zeros past the source
    // were checked, not skipped.
    let chs = dir.path().join("vpc-dynamic-chs.vpc");
    assert!(qemu_virtual_size("vpc", &chs) > size);
}

// --- byte patching -------------------------------------------------------------

fn read_at(path: &Path, at: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    File::open(path).unwrap().read_exact_at(&mut b, at).unwrap();
    b
}

fn write_at(path: &Path, at: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// The VHD checksum (spec "Hard Disk Footer Format"): the one's complement
/// of the byte sum, the field counted as zero.
fn vhd_checksum(b: &mut [u8], field: usize) {
    b[field..field + 4].fill(0);
    let sum = b.iter().fold(0u32, |s, &x| s.wrapping_add(u32::from(x)));
    b[field..field + 4].copy_from_slice(&(!sum).to_be_bytes());
}

/// Edit both copies of a dynamic VHD's footer (byte 0 and the last sector),
/// checksum kept valid.
fn patch_vhd_footer(path: &Path, edit: impl Fn(&mut [u8])) {
    let size = std::fs::metadata(path).unwrap().len();
    for at in [0, size - 512] {
        let mut footer = read_at(path, at, 512);
        if &footer[..8] != b"conectix" {
            continue;
        }
        edit(&mut footer);
        vhd_checksum(&mut footer, 64);
        write_at(path, at, &footer);
    }
}

/// Edit a dynamic VHD's dynamic disk header, checksum kept valid.
fn patch_dyn_header(path: &Path, edit: impl Fn(&mut [u8])) {
    let at = be64(&read_at(path, 0, 512), 16);
    let mut header = read_at(path, at, 1024);
    edit(&mut header);
    vhd_checksum(&mut header, 36);
    write_at(path, at, &header);
}

/// (dynamic header offset, BAT offset) of a dynamic VHD.
fn vhd_tables(path: &Path) -> (u64, u64) {
    let header_at = be64(&read_at(path, 0, 512), 16);
    (header_at, be64(&read_at(path, header_at, 1024), 16))
}

fn open_err(path: &Path) -> Error {
    match Image::open(path) {
        Ok(image) => panic!(
            "{} opened ({} bytes, {}) but is damaged",
            path.display(),
            image.size_bytes(),
            image.format_name()
        ),
        Err(e) => e,
    }
}

fn assert_corrupt(path: &Path, offset: u64, words: &str) {
    let e = open_err(path);
    assert_eq!(e.offset(), Some(offset), "{e}");
    assert!(e.to_string().contains(words), "{words:?} not in: {e}");
}

/// A small dynamic VHD and a fixed one of a synthetic disk.
fn small_vhds(dir: &Path) -> (PathBuf, PathBuf) {
    let raw = dir.join("small.raw");
    synthetic_raw(&raw, 6 << 20, 7);
    let dynamic = dir.join("small.vhd");
    convert(&raw, &dynamic, "vpc", &[]);
    let fixed = dir.join("small-fixed.vhd");
    convert(&raw, &fixed, "vpc", &["-o", "subformat=fixed"]);
    (dynamic, fixed)
}

fn copy(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    to
}

// --- the virtual size rule -------------------------------------------------------

#[test]
fn vhd_virtual_size_follows_qemu_for_every_creator_application() {
    let dir = tempfile::tempdir().unwrap();
    let (dynamic, fixed) = small_vhds(dir.path());
    for base in [&dynamic, &fixed] {
        for (n, creator) in [
            *b"vpc ", *b"qemu", *b"qem2", *b"win ", *b"d2v ", *b"wa\0\0", *b"tap\0",
        ]
        .iter()
        .enumerate()
        {
            let path = copy(base, dir.path(), &format!("creator-{n}.vhd"));
            // current_size a little smaller than CHS, so the rules differ.
            patch_vhd_footer(&path, |f| {
                f[28..32].copy_from_slice(creator);
                let chs = u64::from(u16::from_be_bytes([f[56], f[57]]))
                    * u64::from(f[58])
                    * u64::from(f[59]);
                f[48..56].copy_from_slice(&((chs - 8) * 512).to_be_bytes());
            });
            let image = Image::open(&path).unwrap();
            assert_eq!(
                image.size_bytes(),
                qemu_virtual_size("vpc", &path),
                "creator {:?}",
                String::from_utf8_lossy(creator)
            );
        }
    }
}

// --- differencing VHD -------------------------------------------------------------

/// A differencing VHD over `parent` (a dynamic VHD written by qemu-img),
/// built from the specification: the footer and its copy, a dynamic disk
/// header with a W2ku locator that names nothing on this machine and a W2ru
/// one that names the parent relatively, the BAT, and the `allocated`
/// blocks, each a sector bitmap from `bitmap(block)` and data bytes
/// `0xC0 + block`.
fn build_differencing(
    parent: &Path,
    child: &Path,
    block_size: u64,
    allocated: &[u64],
    bitmap: impl Fn(u64) -> Vec<u8>,
) {
    let parent_footer = read_at(parent, 0, 512);
    let mut footer = parent_footer.clone();
    let virtual_size = qemu_virtual_size("vpc", parent);
    footer[60..64].copy_from_slice(&4u32.to_be_bytes()); // Differencing
    footer[16..24].copy_from_slice(&512u64.to_be_bytes()); // Data offset
    footer[68..84].copy_from_slice(b"child-unique-id!");
    vhd_checksum(&mut footer, 64);

    let entries = virtual_size.div_ceil(block_size);
    let relative: Vec<u8> = ".\\parent.vhd"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let absolute: Vec<u8> = "C:\\nowhere\\parent.vhd"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let locators_at = 1536u64;
    let bat_at = 2560u64;
    let mut header = vec![0u8; 1024];
    header[..8].copy_from_slice(b"cxsparse");
    header[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
    header[16..24].copy_from_slice(&bat_at.to_be_bytes());
    header[24..28].copy_from_slice(&0x0001_0000u32.to_be_bytes());
    header[28..32].copy_from_slice(&(entries as u32).to_be_bytes());
    header[32..36].copy_from_slice(&(block_size as u32).to_be_bytes());
    header[40..56].copy_from_slice(&parent_footer[68..84]); // Parent unique id
    let name: Vec<u8> = "parent.vhd"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    header[64..64 + name.len()].copy_from_slice(&name);
    for (n, (code, data, at)) in [
        (b"W2ku", &absolute, locators_at),
        (b"W2ru", &relative, locators_at + 512),
    ]
    .into_iter()
    .enumerate()
    {
        let e = 576 + n * 24;
        header[e..e + 4].copy_from_slice(code);
        header[e + 4..e + 8].copy_from_slice(&512u32.to_be_bytes());
        header[e + 8..e + 12].copy_from_slice(&(data.len() as u32).to_be_bytes());
        header[e + 16..e + 24].copy_from_slice(&at.to_be_bytes());
    }
    vhd_checksum(&mut header, 36);

    let bitmap_bytes = (block_size / 512).div_ceil(8).next_multiple_of(512);
    let bat_bytes = (entries * 4).next_multiple_of(512);
    let mut bat = vec![0xFFu8; bat_bytes as usize];
    let mut at = bat_at + bat_bytes;
    let f = File::create(child).unwrap();
    for &block in allocated {
        bat[block as usize * 4..block as usize * 4 + 4]
            .copy_from_slice(&((at / 512) as u32).to_be_bytes());
        let mut map = bitmap(block);
        map.resize(bitmap_bytes as usize, 0);
        f.write_all_at(&map, at).unwrap();
        let data = vec![0xC0 + block as u8; block_size as usize];
        f.write_all_at(&data, at + bitmap_bytes).unwrap();
        at += bitmap_bytes + block_size;
    }
    f.write_all_at(&footer, 0).unwrap();
    f.write_all_at(&header, 512).unwrap();
    f.write_all_at(&absolute, locators_at).unwrap();
    f.write_all_at(&relative, locators_at + 512).unwrap();
    f.write_all_at(&bat, bat_at).unwrap();
    f.write_all_at(&footer, at).unwrap();
}

#[test]
fn differencing_vhd_reads_its_parent_where_its_bitmap_is_clear() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("parent.raw");
    synthetic_raw(&raw, 4 << 20, 11);
    let parent = dir.path().join("parent.vhd");
    convert(&raw, &parent, "vpc", &[]);
    let parent_disk = Image::open(&parent).unwrap().bytes().to_vec();

    let block_size = 64 << 10;
    let sectors = block_size / 512;
    // Block 1: every other sector; block 3: all; block 5: none (allocated,
    // but every sector still the parent's); block 6: the first and the last.
    let allocated = [1u64, 3, 5, 6];
    let present = |block: u64, s: u64| match block {
        1 => s.is_multiple_of(2),
        3 => true,
        6 => s == 0 || s == sectors - 1,
        _ => false,
    };
    let bitmap = |block: u64| {
        let mut b = vec![0u8; (sectors / 8) as usize];
        for s in 0..sectors {
            if present(block, s) {
                b[(s / 8) as usize] |= 0x80 >> (s % 8);
            }
        }
        b
    };
    let child = dir.path().join("child.vhd");
    build_differencing(&parent, &child, block_size, &allocated, bitmap);

    let image = Image::open(&child).unwrap();
    assert_eq!(image.format_name(), "vhd-differencing");
    assert_eq!(image.backing_chain(), &[parent.clone()][..]);
    assert_eq!(image.size_bytes(), parent_disk.len() as u64);
    let bytes = image.bytes();
    for (s, sector) in bytes.chunks(512).enumerate() {
        let s = s as u64;
        let block = s / sectors;
        let expected: Vec<u8> = if allocated.contains(&block) && present(block, s % sectors) {
            vec![0xC0 + block as u8; 512]
        } else {
            parent_disk[s as usize * 512..s as usize * 512 + 512].to_vec()
        };
        assert!(sector == expected, "sector {s} (block {block})");
    }
    // The parent's data shows through: the test is not vacuous.
    assert!(
        parent_disk[..block_size as usize * 8]
            .iter()
            .any(|&b| b != 0)
    );

    // Moved away from its parent, it names the parent and how to point at
    // it; with --backing-dir it opens again.
    let moved = tempfile::tempdir().unwrap();
    let alone = copy(&child, moved.path(), "child.vhd");
    let e = open_err(&alone);
    assert!(e.to_string().contains("parent.vhd"), "{e}");
    let options = snapaudit::image::OpenOptions {
        backing_dir: Some(dir.path()),
        ..Default::default()
    };
    let again = Image::open_with(&alone, options).unwrap();
    assert!(again.bytes() == bytes);
}

// --- hostile VHD ------------------------------------------------------------------

#[test]
fn damaged_vhds_fail_with_the_offset_of_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (dynamic, fixed) = small_vhds(d);
    let (header_at, bat_at) = vhd_tables(&dynamic);
    let dynamic_size = std::fs::metadata(&dynamic).unwrap().len();

    // Truncated: the blocks the BAT names are gone.
    let p = copy(&dynamic, d, "truncated.vhd");
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(dynamic_size / 2)
        .unwrap();
    let e = open_err(&p);
    assert!(e.to_string().contains("past the end"), "{e}");
    // A fixed VHD cut inside its footer has no footer left: like qemu's
    // probe, nothing tells it from a raw disk, and it reads as one.
    let p = copy(&fixed, d, "truncated-fixed.vhd");
    let fixed_size = std::fs::metadata(&fixed).unwrap().len();
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(fixed_size - 100)
        .unwrap();
    assert!(Image::open(&p).is_ok_and(|i| i.format_name() == "raw"));

    // A bad footer checksum, fixed and dynamic.
    let p = copy(&fixed, d, "bad-footer-fixed.vhd");
    let footer_at = fixed_size - 512;
    let mut footer = read_at(&p, footer_at, 512);
    footer[48 + 7] ^= 0x02;
    write_at(&p, footer_at, &footer);
    assert_corrupt(&p, footer_at + 64, "checksum");
    let p = copy(&dynamic, d, "bad-footer.vhd");
    write_at(&p, 40, &[0xAA]);
    assert_corrupt(&p, 64, "checksum");
    // A bad dynamic header checksum.
    let p = copy(&dynamic, d, "bad-header.vhd");
    write_at(&p, header_at + 100, &[0x55]);
    assert_corrupt(&p, header_at + 36, "checksum");

    // BAT entries past the file.
    let p = copy(&dynamic, d, "bat-past-end.vhd");
    write_at(&p, bat_at + 4, &0x00FF_FFFFu32.to_be_bytes());
    assert_corrupt(&p, bat_at + 4, "past the end");

    // Block size 0 and 512 MiB.
    for (n, size) in [0u32, 512 << 20, 3 << 20].into_iter().enumerate() {
        let p = copy(&dynamic, d, &format!("block-size-{n}.vhd"));
        patch_dyn_header(&p, |h| h[32..36].copy_from_slice(&size.to_be_bytes()));
        assert_corrupt(&p, header_at + 32, "block size");
    }

    // A virtual size of 2^60 (a creator whose current_size qemu believes).
    let p = copy(&dynamic, d, "huge.vhd");
    patch_vhd_footer(&p, |f| {
        f[28..32].copy_from_slice(b"win ");
        f[48..56].copy_from_slice(&(1u64 << 60).to_be_bytes());
    });
    assert_corrupt(&p, 48, "2040 GiB");

    // Two BAT entries naming the same block.
    let p = copy(&dynamic, d, "overlap.vhd");
    let bat = read_at(&p, bat_at, 12);
    let used: Vec<usize> = (0..3).filter(|&i| be32(&bat, i * 4) != u32::MAX).collect();
    assert!(
        used.len() >= 2,
        "the synthetic disk allocates blocks 0..3: {bat:?}"
    );
    write_at(
        &p,
        bat_at + used[1] as u64 * 4,
        &bat[used[0] * 4..used[0] * 4 + 4],
    );
    let e = open_err(&p);
    assert!(e.to_string().contains("overlaps"), "{e}");
    // A block over the BAT itself.
    let p = copy(&dynamic, d, "over-bat.vhd");
    write_at(&p, bat_at, &((bat_at / 512) as u32).to_be_bytes());
    assert_corrupt(&p, bat_at, "overlaps");

    // A BAT too small for the disk.
    let p = copy(&dynamic, d, "small-bat.vhd");
    patch_dyn_header(&p, |h| h[28..32].copy_from_slice(&1u32.to_be_bytes()));
    assert_corrupt(&p, header_at + 28, "cannot map");

    // Not a disk type we know.
    let p = copy(&dynamic, d, "type-9.vhd");
    patch_vhd_footer(&p, |f| f[60..64].copy_from_slice(&9u32.to_be_bytes()));
    assert!(matches!(open_err(&p), Error::Unsupported { .. }));
}

// --- hostile VHDX -------------------------------------------------------------------

/// CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit: independent of
/// the crate the reader uses.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Edit a VHDX structure of `len` bytes at `at` whose CRC-32C is at byte 4.
fn patch_vhdx(path: &Path, at: u64, len: usize, edit: impl Fn(&mut [u8])) {
    let mut b = read_at(path, at, len);
    edit(&mut b);
    b[4..8].fill(0);
    let sum = crc32c(&b);
    b[4..8].copy_from_slice(&sum.to_le_bytes());
    write_at(path, at, &b);
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The file offset of the region whose GUID (as stored) starts with `tag`.
fn vhdx_region(path: &Path, tag: [u8; 4]) -> u64 {
    let t = read_at(path, 192 << 10, 64 << 10);
    (0..le32(&t, 8) as usize)
        .map(|n| 16 + n * 32)
        .find(|&e| t[e..e + 4] == tag)
        .map(|e| le64(&t, e + 16))
        .unwrap()
}

#[test]
fn damaged_vhdxs_fail_with_the_offset_of_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = d.join("small.raw");
    synthetic_raw(&raw, 40 << 20, 3);
    let good = d.join("small.vhdx");
    convert(&raw, &good, "vhdx", &["-o", "block_size=1M"]);
    let disk = Image::open(&good).unwrap().bytes().to_vec();

    // Region table 1 damaged: the backup reads; both damaged: corrupt.
    let p = copy(&good, d, "region1.vhdx");
    write_at(&p, (192 << 10) + 100, &[0x5A]);
    assert!(Image::open(&p).unwrap().bytes() == disk.as_slice());
    write_at(&p, (256 << 10) + 100, &[0x5A]);
    assert_corrupt(&p, (192 << 10) + 4, "CRC-32C");

    // Both headers damaged.
    let p = copy(&good, d, "headers.vhdx");
    write_at(&p, (64 << 10) + 200, &[1]);
    write_at(&p, (128 << 10) + 200, &[1]);
    assert_corrupt(&p, 64 << 10, "neither VHDX header");

    // A log to replay (LogGuid set, CRC valid): refused, with the remedy.
    let p = copy(&good, d, "log.vhdx");
    for at in [64u64 << 10, 128 << 10] {
        patch_vhdx(&p, at, 4096, |h| {
            h[48..64].copy_from_slice(b"not-a-clean-log!")
        });
    }
    let e = open_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("VHDX log is not empty"), "{e}");
    assert!(e.to_string().contains("qemu-img check -r all"), "{e}");

    // BAT entries past the file, and over the metadata.
    let bat_at = vhdx_region(&good, [0x66, 0x77, 0xC2, 0x2D]);
    let meta_at = vhdx_region(&good, [0x06, 0xA2, 0x7C, 0x8B]);
    let p = copy(&good, d, "bat-past-end.vhdx");
    write_at(&p, bat_at, &((1u64 << 40 << 20) | 6).to_le_bytes());
    assert_corrupt(&p, bat_at, "past the end");
    let p = copy(&good, d, "bat-over-metadata.vhdx");
    write_at(&p, bat_at, &(((meta_at >> 20) << 20) | 6).to_le_bytes());
    assert_corrupt(&p, bat_at, "overlaps");
    // Two blocks on one.
    let p = copy(&good, d, "bat-twice.vhdx");
    let first = read_at(&p, bat_at, 8);
    let present: Vec<u64> = (0..16u64)
        .filter(|i| le64(&read_at(&p, bat_at + i * 8, 8), 0) & 7 == 6)
        .collect();
    assert!(present.len() >= 2, "the synthetic disk allocates blocks");
    let a = read_at(&p, bat_at + present[0] * 8, 8);
    write_at(&p, bat_at + present[1] * 8, &a);
    let e = open_err(&p);
    assert!(e.to_string().contains("overlaps"), "{e} ({first:?})");
    // Partially present in a disk without a parent.
    let p = copy(&good, d, "partial.vhdx");
    write_at(&p, bat_at + present[0] * 8, &[(a[0] & !7) | 7]);
    assert_corrupt(&p, bat_at + present[0] * 8, "partially present");

    // Metadata: block size, virtual size 2^60, has-parent.
    let t = read_at(&good, meta_at, 64 << 10);
    let item = |tag: [u8; 4]| {
        (0..usize::from(u16::from_le_bytes([t[10], t[11]])))
            .map(|n| 32 + n * 32)
            .find(|&e| t[e..e + 4] == tag)
            .map(|e| meta_at + u64::from(le32(&t, e + 16)))
            .unwrap()
    };
    let file_parameters = item([0x37, 0x67, 0xA1, 0xCA]);
    let disk_size = item([0x24, 0x42, 0xA5, 0x2F]);
    for (n, size) in [0u32, 512 << 20, 3 << 20].into_iter().enumerate() {
        let p = copy(&good, d, &format!("block-{n}.vhdx"));
        write_at(&p, file_parameters, &size.to_le_bytes());
        assert_corrupt(&p, file_parameters, "block size");
    }
    let p = copy(&good, d, "huge.vhdx");
    write_at(&p, disk_size, &(1u64 << 60).to_le_bytes());
    assert_corrupt(&p, disk_size, "64 TiB");
    let p = copy(&good, d, "parent.vhdx");
    write_at(&p, file_parameters + 4, &2u32.to_le_bytes());
    let e = open_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("differencing VHDX"), "{e}");

    // Truncated: the regions run past the end.
    let p = copy(&good, d, "truncated.vhdx");
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(bat_at.min(meta_at) + 4096)
        .unwrap();
    let e = open_err(&p);
    assert!(e.to_string().contains("truncated"), "{e}");
}
