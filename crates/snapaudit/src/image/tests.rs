// Views of one range are written as one-element arrays on purpose: derive()
// takes a list of ranges.
#![allow(clippy::single_range_in_vec_init)]

use super::*;
use std::io::Write;

fn disk_bytes() -> Vec<u8> {
    // 3 MiB with data at the start, a long zero run, and data at the end, so
    // that expansion must produce holes and still keep the exact size.
    let mut v = vec![0u8; 3 << 20];
    for (i, b) in v.iter_mut().take(4096).enumerate() {
        *b = (i % 251) as u8 + 1;
    }
    let n = v.len();
    v[n - 3..].copy_from_slice(b"END");
    v
}

fn write_tmp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn tar_of(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(payload.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, payload).unwrap();
    b.into_inner().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn raw_image_maps_and_reads_identically() {
    let dir = tempfile::tempdir().unwrap();
    let disk = disk_bytes();
    let p = write_tmp(&dir, "disk.raw", &disk);
    let mapped = Image::open(&p).unwrap();
    let read = Image::open_with(
        &p,
        OpenOptions {
            strategy: ReadStrategy::Read,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(mapped.bytes(), &disk[..]);
    assert_eq!(read.bytes(), &disk[..]);
    assert_eq!(mapped.compression(), Compression::None);
}

#[test]
fn every_compression_expands_to_the_same_disk() {
    let dir = tempfile::tempdir().unwrap();
    let disk = disk_bytes();
    let cases: Vec<(&str, Vec<u8>, Compression)> = vec![
        ("d.raw.gz", gz(&disk), Compression::Gzip),
        (
            "d.raw.zst",
            zstd::encode_all(&disk[..], 3).unwrap(),
            Compression::Zstd,
        ),
        (
            "d.raw.xz",
            {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(&disk).unwrap();
                e.finish().unwrap()
            },
            Compression::Xz,
        ),
        ("d.tar", tar_of("disk.raw", &disk), Compression::Tar),
        (
            "d.raw.tar.gz",
            gz(&tar_of("disk.raw", &disk)),
            Compression::TarGzip,
        ),
    ];
    for (name, bytes, kind) in cases {
        let p = write_tmp(&dir, name, &bytes);
        let seen = std::sync::atomic::AtomicU64::new(0);
        let progress = |n: u64, _total: Option<u64>| {
            seen.store(n, std::sync::atomic::Ordering::Relaxed);
        };
        let img = Image::open_with(
            &p,
            OpenOptions {
                progress: Some(&progress),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(img.compression(), kind, "{name}");
        assert_eq!(img.size_bytes(), disk.len() as u64, "{name}");
        assert!(img.bytes() == &disk[..], "{name}: expanded bytes differ");
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::Relaxed),
            bytes.len() as u64,
            "{name}: progress must reach the input size"
        );
    }
}

#[test]
fn tar_with_two_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tar_of("a.raw", &[1u8; 1024]);
    // Drop the two zero end-of-archive blocks and append another member.
    t.truncate(t.len() - 1024);
    t.extend(tar_of("b.raw", &[2u8; 1024]));
    let p = write_tmp(&dir, "two.tar", &t);
    let err = Image::open(&p).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("more than one file"), "{err}");
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Image::open(dir.path().join("nope.raw")).unwrap_err();
    assert!(
        matches!(&missing, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{missing}"
    );
    let is_dir = Image::open(dir.path()).unwrap_err();
    assert!(is_dir.to_string().contains("is a directory"), "{is_dir}");
    let empty = Image::open(write_tmp(&dir, "empty.raw", b"")).unwrap_err();
    assert!(empty.to_string().contains("empty file"), "{empty}");
    let short = Image::open(write_tmp(&dir, "short.raw", &[7u8; 100])).unwrap_err();
    assert!(
        short
            .to_string()
            .contains("shorter than one 512-byte sector"),
        "{short}"
    );
    let bad_gz = Image::open(write_tmp(&dir, "bad.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3])).unwrap_err();
    assert!(
        bad_gz.to_string().contains("expanding gz input"),
        "{bad_gz}"
    );
}

#[test]
fn range_checks_bounds() {
    let img = Image::from_bytes("mem", vec![0u8; 1024]);
    assert_eq!(img.range(1000, 24, "x").unwrap().len(), 24);
    assert!(img.range(1000, 25, "x").is_err());
    assert!(img.range(u64::MAX, 2, "x").is_err());
}

/// Bytes that differ at every position, so that a wrong offset shows.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// What `derive` must give, computed naively from the parent's bytes.
fn expected_view(parent: &[u8], ranges: &[Range<u64>], patches: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut v: Vec<u8> = ranges
        .iter()
        .flat_map(|r| parent[r.start as usize..r.end as usize].iter().copied())
        .collect();
    for (at, b) in patches {
        v[*at as usize..*at as usize + b.len()].copy_from_slice(b);
    }
    v
}

#[test]
fn derived_views_equal_their_ranges_with_patches_over_them() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = pattern(1 << 20, 7);
    let path = write_tmp(&dir, "disk.raw", &bytes);
    // Unaligned and aligned ranges, out of order, and patches that straddle
    // page and range boundaries.
    let ranges = [
        65536..131072,
        4096..8192,
        300_001..300_777,
        900_000..1_048_576,
    ];
    let patches = vec![
        (0u64, vec![0xAA; 10]),
        (4090, vec![0xBB; 20]),
        (65536 + 4096 - 3, vec![0xCC; 700]),
        ((65536 + 4096 + 776 + 10), pattern(9000, 3)),
    ];
    for strategy in [ReadStrategy::Mmap, ReadStrategy::Read] {
        let image = Image::open_with(
            &path,
            OpenOptions {
                strategy,
                ..Default::default()
            },
        )
        .unwrap();
        let view = image.derive(&ranges, patches.clone()).unwrap();
        same(
            view.bytes(),
            &expected_view(&bytes, &ranges, &patches),
            strategy,
        );
        // A view of a view maps through both, keeping the first view's
        // patches under the second's.
        let second = vec![(4000u64, vec![0xDD; 3000])];
        let inner = view
            .derive(&[100..5000, 60000..70000], second.clone())
            .unwrap();
        let want = expected_view(view.bytes(), &[100..5000, 60000..70000], &second);
        same(inner.bytes(), &want, strategy);
        let data = view.data_ranges().expect("a derived view knows its map");
        let total: u64 = data.iter().map(|r| r.end - r.start).sum();
        assert_eq!(total, view.size_bytes(), "the whole view is backed by data");
    }
    // An in-memory image derives by copying.
    let mem = Image::from_bytes("mem", bytes.clone());
    let view = mem.derive(&ranges, patches.clone()).unwrap();
    same(
        view.bytes(),
        &expected_view(&bytes, &ranges, &patches),
        ReadStrategy::Read,
    );
}

/// Equal bytes, or a failure naming the first difference (not a dump).
fn same(got: &[u8], want: &[u8], strategy: ReadStrategy) {
    assert_eq!(got.len(), want.len(), "{strategy:?}: length");
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{strategy:?}: first difference at byte {i}: {} != {}",
            got[i], want[i]
        );
    }
}

#[test]
fn derive_refuses_ranges_and_patches_outside_the_view() {
    let image = Image::from_bytes("mem", vec![1u8; 8192]);
    assert!(
        image
            .derive(std::slice::from_ref(&(0..9000)), vec![])
            .is_err()
    );
    assert!(
        image
            .derive(std::slice::from_ref(&(0..4096)), vec![(4000, vec![0; 200])])
            .is_err()
    );
    assert!(
        image
            .derive(
                std::slice::from_ref(&(0..4096)),
                vec![(0, vec![0; 20]), (10, vec![0; 20])]
            )
            .is_err(),
        "overlapping patches"
    );
}
