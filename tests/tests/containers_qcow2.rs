//! qcow2 images, as `qemu-img` writes them, read as the raw disk they hold:
//! every variant (compat 0.10 and 1.1, deflate and zstd compression,
//! extended L2, small and large clusters, backing chains) must give the
//! same bytes as the source, the same allocation map as `qemu-img map`, and
//! the same findings as the raw image.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use snapaudit::Error;
use snapaudit::image::{Image, OpenOptions, ReadStrategy};
use snapaudit_tests::containers::{
    assert_same_disk, convert, findings, our_data_ranges, qemu_data_ranges, qemu_img, qemu_io,
    sample_raw, synthetic_raw,
};
use snapaudit_tests::fixtures;

/// `qemu-img convert -O qcow2` options of every variant.
const VARIANTS: &[(&str, &[&str])] = &[
    ("v3", &[]),
    ("compat-0.10", &["-o", "compat=0.10"]),
    ("deflate", &["-c"]),
    ("zstd", &["-c", "-o", "compression_type=zstd"]),
    ("extended-l2", &["-o", "extended_l2=on"]),
    ("cluster-512", &["-o", "cluster_size=512"]),
    ("cluster-2m", &["-o", "cluster_size=2M"]),
    ("preallocated", &["-o", "preallocation=metadata"]),
];

fn each_variant(raw: &Path, dir: &Path, mut f: impl FnMut(&str, &Path)) {
    for (name, opts) in VARIANTS {
        let out = dir.join(format!("{name}.qcow2"));
        convert(raw, &out, "qcow2", opts);
        f(name, &out);
    }
}

#[test]
fn every_qcow2_variant_reads_as_its_raw_source() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("synthetic.raw");
    synthetic_raw(&raw, 24 << 20);
    each_variant(&raw, dir.path(), |name, qcow| {
        let image = Image::open(qcow).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(image.format_name(), "qcow2", "{name}");
        assert_eq!(image.size_bytes(), 24 << 20, "{name}");
        assert_same_disk(&image, &raw, name);
        assert_eq!(
            our_data_ranges(&image),
            qemu_data_ranges(qcow, Some("qcow2")),
            "{name}: allocation map differs from qemu-img map"
        );
        // Assembled in memory instead of mapped: the same bytes.
        let read = Image::open_with(
            qcow,
            OpenOptions {
                strategy: ReadStrategy::Read,
                ..Default::default()
            },
        )
        .unwrap();
        assert_same_disk(&read, &raw, &format!("{name} (read)"));
    });
}

#[test]
fn qcow2_of_the_sample_disk_has_the_raw_findings() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    let want = findings(&Image::open(&raw).unwrap());
    assert!(!want.is_empty(), "the sample disk has findings to compare");
    each_variant(&raw, dir.path(), |name, qcow| {
        let image = Image::open(qcow).unwrap();
        assert_same_disk(&image, &raw, name);
        assert_eq!(
            findings(&image),
            want,
            "{name}: findings differ from the raw disk's"
        );
    });
}

#[test]
fn qcow2_of_system_fixtures_have_the_raw_findings() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "sys-clean-gpt-esp",
        "sys-fstab-data-uuid",
        "sys-gpt-4k",
        "sys-whole-disk",
        "sys-mbr-logical",
    ] {
        let raw = fixtures::image(name);
        let want = findings(&Image::open(&raw).unwrap());
        for (variant, opts) in [("plain", &[][..]), ("deflate", &["-c"][..])] {
            let out = dir.path().join(format!("{name}-{variant}.qcow2"));
            convert(&raw, &out, "qcow2", opts);
            let image = Image::open(&out).unwrap();
            assert_eq!(findings(&image), want, "{name} ({variant})");
        }
    }
}

/// A three-layer chain: base (raw), mid and top (qcow2) with writes in each
/// upper layer, compared with `qemu-img convert` of the top, which resolves
/// the chain the way qemu does.
#[test]
fn qcow2_backing_chains_resolve_as_qemu_resolves_them() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.raw");
    synthetic_raw(&base, 8 << 20);
    let mid = dir.path().join("mid.qcow2");
    let top = dir.path().join("top.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "base.raw",
        "-F",
        "raw",
        &s(&mid),
    ]);
    qemu_io(&[
        "-f",
        "qcow2",
        "-c",
        "write -P 0xab 1M 192k",
        "-c",
        "write -z 3M 64k",
        &s(&mid),
    ]);
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-o",
        "extended_l2=on",
        "-b",
        "mid.qcow2",
        "-F",
        "qcow2",
        &s(&top),
    ]);
    qemu_io(&[
        "-f",
        "qcow2",
        "-c",
        "write -P 0xcd 1100k 4k",
        "-c",
        "write -P 0x11 7M 100k",
        &s(&top),
    ]);
    let expected = dir.path().join("expected.raw");
    convert(&top, &expected, "raw", &[]);

    let image = Image::open(&top).unwrap();
    assert_same_disk(&image, &expected, "top of the chain");
    assert_eq!(image.backing_chain().len(), 2);
    assert_eq!(
        our_data_ranges(&image),
        qemu_data_ranges(&top, Some("qcow2"))
    );

    // Moved away from its directory: found with --backing-dir, and named
    // when missing.
    let moved = tempfile::tempdir().unwrap();
    let moved_top = moved.path().join("top.qcow2");
    std::fs::copy(&top, &moved_top).unwrap();
    let err = Image::open(&moved_top).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("mid.qcow2") && msg.contains("missing"),
        "{msg}"
    );
    let image = Image::open_with(
        &moved_top,
        OpenOptions {
            backing_dir: Some(dir.path()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_same_disk(&image, &expected, "top found through --backing-dir");
}

#[test]
fn a_backing_loop_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.qcow2");
    let b = dir.path().join("b.qcow2");
    qemu_img(&["create", "-f", "qcow2", &s(&a), "1M"]);
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "a.qcow2",
        "-F",
        "qcow2",
        &s(&b),
    ]);
    // Point a back at b; qemu-img refuses to make a loop, so rebase unsafely.
    qemu_img(&[
        "rebase",
        "-u",
        "-f",
        "qcow2",
        "-b",
        "b.qcow2",
        "-F",
        "qcow2",
        &s(&a),
    ]);
    let err = Image::open(&b).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("loop"), "{err}");
}

#[test]
fn internal_snapshots_are_listed_and_the_active_state_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("snap.qcow2");
    qemu_img(&["create", "-f", "qcow2", &s(&img), "4M"]);
    qemu_io(&["-f", "qcow2", "-c", "write -P 0x01 0 64k", &s(&img)]);
    qemu_img(&["snapshot", "-c", "before-upgrade", &s(&img)]);
    qemu_io(&["-f", "qcow2", "-c", "write -P 0x02 0 64k", &s(&img)]);
    let image = Image::open(&img).unwrap();
    assert_eq!(image.snapshots(), ["before-upgrade".to_string()]);
    assert!(
        image.bytes()[..65536].iter().all(|&b| b == 2),
        "active state"
    );
}

#[test]
fn encrypted_qcow2_is_unsupported_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("enc.qcow2");
    qemu_img(&[
        "create",
        "--object",
        "secret,id=sec0,data=123456",
        "-f",
        "qcow2",
        "-o",
        "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10",
        &s(&img),
        "4M",
    ]);
    let err = Image::open(&img).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("encrypt"), "{err}");
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

// --- hostile images: each a clear error with an offset, no panic, no
// allocation in proportion to what the header claims ---

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

/// A small qcow2 (64 KiB clusters) of a synthetic disk, and where its
/// first L2 table is.
fn small_qcow2(dir: &Path, opts: &[&str]) -> (Vec<u8>, usize) {
    let raw = dir.join("small.raw");
    synthetic_raw(&raw, 4 << 20);
    let q = dir.join("small.qcow2");
    convert(&raw, &q, "qcow2", opts);
    let bytes = std::fs::read(&q).unwrap();
    let l1 = be64(&bytes, 40) as usize;
    let l2 = (be64(&bytes, l1) & 0x00ff_ffff_ffff_fe00) as usize;
    (bytes, l2)
}

fn open_bytes(dir: &Path, name: &str, bytes: &[u8]) -> snapaudit::Result<Image> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    Image::open(&p)
}

fn corrupt_with_offset(result: snapaudit::Result<Image>, what: &str, needle: &str) {
    match result {
        Err(e @ Error::Corrupt { .. }) => {
            assert!(e.offset().is_some(), "{what}: {e}");
            assert!(e.to_string().contains(needle), "{what}: {e}");
        }
        Err(e) => panic!("{what}: expected a Corrupt error, got {e}"),
        Ok(_) => panic!("{what}: a hostile image opened"),
    }
}

#[test]
fn hostile_qcow2_images_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (good, l2) = small_qcow2(d, &[]);
    assert!(open_bytes(d, "good.qcow2", &good).is_ok());

    corrupt_with_offset(
        open_bytes(d, "truncated.qcow2", &good[..l2 + 4096]),
        "truncated",
        "past the end",
    );

    let mut b = good.clone();
    let l1 = be64(&b, 40) as usize;
    put64(&mut b, l1, 1 << 40);
    corrupt_with_offset(
        open_bytes(d, "l1.qcow2", &b),
        "L1 past the file",
        "past the end",
    );

    // First allocated L2 entry pointed past the end of the file.
    let first = (0..8192)
        .map(|j| l2 + j * 8)
        .find(|&at| be64(&good, at) != 0)
        .unwrap();
    let mut b = good.clone();
    put64(&mut b, first, 0x8000_0000_0000_0000 | (1 << 41));
    corrupt_with_offset(
        open_bytes(d, "l2.qcow2", &b),
        "L2 past the file",
        "past the end",
    );

    // Two guest clusters on one host cluster.
    let second = (first + 8..l2 + 65536)
        .step_by(8)
        .find(|&at| be64(&good, at) != 0)
        .unwrap();
    let mut b = good.clone();
    let v = be64(&b, first);
    put64(&mut b, second, v);
    corrupt_with_offset(open_bytes(d, "overlap.qcow2", &b), "overlap", "overlaps");

    let mut b = good.clone();
    b[20..24].copy_from_slice(&30u32.to_be_bytes());
    corrupt_with_offset(
        open_bytes(d, "cluster.qcow2", &b),
        "cluster_bits 30",
        "cluster_bits",
    );

    // A virtual size of 2^60 with an L1 table claiming to cover it.
    let mut b = good.clone();
    put64(&mut b, 24, 1 << 60);
    b[36..40].copy_from_slice(&u32::MAX.to_be_bytes());
    corrupt_with_offset(open_bytes(d, "huge.qcow2", &b), "2^60 bytes", "claims");

    let mut b = good.clone();
    let incompat = be64(&b, 72) | 1 << 40;
    put64(&mut b, 72, incompat);
    let err = open_bytes(d, "feature.qcow2", &b).expect_err("unknown feature refused");
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

#[test]
fn a_corrupt_compressed_cluster_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (good, l2) = small_qcow2(d, &["-c"]);
    let entry = (0..8192)
        .map(|j| be64(&good, l2 + j * 8))
        .find(|&e| e & (1 << 62) != 0)
        .expect("a compressed cluster");
    // cluster_bits 16: the host offset is in the low 54 bits.
    let host = (entry & ((1 << 54) - 1)) as usize;
    let mut b = good.clone();
    for byte in &mut b[host..host + 64] {
        *byte ^= 0x5a;
    }
    corrupt_with_offset(
        open_bytes(d, "bad.qcow2", &b),
        "corrupt deflate",
        "compressed cluster",
    );
}
