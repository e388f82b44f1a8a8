//! Tar exports and compressed containers, made by the real tools: GNU tar
//! in each sparse format it writes (old GNU, PAX 0.0, 0.1, 1.0), plain and
//! under gzip or zstd, and qemu-img's qcow2 inside gzip, zstd, tar and
//! tar.gz. Each must read as exactly the raw disk it was made from, keep
//! its holes (the allocation map covers every non-zero byte and little
//! else), and give the same findings. Hostile archives (maps past the real
//! size, out of order, overlapping, with huge counts, truncated) give
//! clear errors.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use snapaudit::Error;
use snapaudit::image::Image;
use snapaudit::image::tarball::{self, Layout, NullSink};
use snapaudit_tests::archives::{
    compress, gnu_tar, qemu_img_convert, require_tool, sample_raw, synthetic_sparse_raw,
};
use snapaudit_tests::fixtures::{run_ok, tool};

/// GNU tar's sparse formats: the arguments, and how the member is stored.
const SPARSE_FORMATS: &[(&[&str], Layout)] = &[
    (&["-S", "--format=gnu"], Layout::GnuOld),
    (
        &["-S", "--format=posix", "--sparse-version=0.0"],
        Layout::Pax00,
    ),
    (
        &["-S", "--format=posix", "--sparse-version=0.1"],
        Layout::Pax01,
    ),
    (
        &["-S", "--format=posix", "--sparse-version=1.0"],
        Layout::Pax10,
    ),
];

type Key = (String, String, Option<String>, Option<u64>);

/// The findings of `check` as (rule, severity, path, line).
fn findings(image: &Image) -> BTreeSet<Key> {
    snapaudit_tests::containers::findings(image)
}

/// The raw disk `raw` as the expansion of `packed` must read.
struct Expect {
    raw: Vec<u8>,
    findings: Option<BTreeSet<Key>>,
}

impl Expect {
    fn of(raw_path: &Path, with_findings: bool) -> Expect {
        let raw = std::fs::read(raw_path).unwrap();
        let findings = with_findings.then(|| findings(&Image::open(raw_path).unwrap()));
        Expect { raw, findings }
    }

    /// `packed` opens as the raw disk, sparse, with the same findings, and
    /// reports `format`.
    fn check(&self, packed: &Path, format: &str) {
        let label = packed.display();
        let image = Image::open(packed).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(image.format_name(), format, "{label}");
        assert_eq!(image.size_bytes(), self.raw.len() as u64, "{label}: size");
        assert!(image.bytes() == &self.raw[..], "{label}: bytes differ");

        let ranges = image
            .data_ranges()
            .unwrap_or_else(|| panic!("{label}: no allocation map"));
        let mut at = 0u64;
        for r in ranges {
            assert!(
                r.start >= at && r.end > r.start,
                "{label}: ranges {ranges:?}"
            );
            let gap = &self.raw[at as usize..r.start as usize];
            assert!(
                gap.iter().all(|&b| b == 0),
                "{label}: data in [{at}, {}) outside the allocation map",
                r.start
            );
            at = r.end;
        }
        assert!(
            self.raw[at as usize..].iter().all(|&b| b == 0),
            "{label}: data after the last allocated range"
        );
        let allocated: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        assert!(
            allocated * 8 < image.size_bytes(),
            "{label}: expansion not sparse: {allocated} of {} bytes allocated",
            image.size_bytes()
        );
        if let Some(want) = &self.findings {
            assert_eq!(&findings(&image), want, "{label}: findings");
        }
    }
}

/// The archive's member as the walker sees it.
fn member(archive: &Path) -> tarball::Member {
    let mut file = std::fs::File::open(archive).unwrap();
    tarball::extract_single(&mut file, &mut NullSink, archive).unwrap()
}

/// Every sparse format, uncompressed, gzipped and zstd-compressed.
fn every_sparse_tar(dir: &Path, raw: &Path, expect: &Expect, format_prefix: &str) {
    let name = raw.file_name().unwrap().to_str().unwrap();
    for (i, (args, layout)) in SPARSE_FORMATS.iter().enumerate() {
        let archive = dir.join(format!("{name}.{i}.tar"));
        gnu_tar(args, raw.parent().unwrap(), name, &archive);
        let m = member(&archive);
        assert_eq!(m.layout, *layout, "{args:?}");
        assert_eq!(m.name, name, "{args:?}: the real name");
        assert_eq!(m.size_bytes, expect.raw.len() as u64);
        expect.check(&archive, &format!("{format_prefix}tar"));
        expect.check(
            &compress("gzip", &archive),
            &format!("{format_prefix}tar.gz"),
        );
        expect.check(
            &compress("zstd", &archive),
            &format!("{format_prefix}tar.zst"),
        );
    }
}

#[test]
fn sparse_tars_of_the_sample_disk_read_as_the_raw_disk() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    let expect = Expect::of(&raw, true);
    every_sparse_tar(dir.path(), &raw, &expect, "");
}

#[test]
fn sparse_tars_of_a_scattered_disk_keep_every_run_and_hole() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let raw = src.join("disk.raw");
    // 300 runs: far more than the old GNU header's 4 entries, so the map
    // goes on over extension blocks.
    synthetic_sparse_raw(&raw, (64 << 20) + 1234, 300, 7);
    let expect = Expect::of(&raw, true);
    every_sparse_tar(dir.path(), &raw, &expect, "");

    let gnu = dir.path().join("disk.raw.0.tar");
    let header = std::fs::read(&gnu).unwrap();
    assert_eq!(
        header[156], b'S',
        "GNU tar wrote an old-style sparse member"
    );
    assert_eq!(header[482], 1, "the map goes on in extension blocks");
}

#[test]
fn a_plain_tar_of_a_raw_disk_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    let expect = Expect::of(&raw, true);
    let archive = dir.path().join("plain.tar");
    gnu_tar(&["--format=gnu"], dir.path(), "system-disk.raw", &archive);
    assert_eq!(member(&archive).layout, Layout::Plain);
    expect.check(&archive, "tar");
}

#[test]
fn qcow2_inside_gzip_zstd_tar_and_tar_gz_reads_as_the_raw_disk() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    let expect = Expect::of(&raw, true);
    let qcow2 = dir.path().join("disk.qcow2");
    qemu_img_convert(&raw, "qcow2", &qcow2);

    expect.check(&qcow2, "qcow2");
    expect.check(&compress("gzip", &qcow2), "qcow2.gz");
    expect.check(&compress("zstd", &qcow2), "qcow2.zst");
    let tar = dir.path().join("disk.qcow2.tar");
    gnu_tar(&["--format=gnu"], dir.path(), "disk.qcow2", &tar);
    expect.check(&tar, "qcow2.tar");
    expect.check(&compress("gzip", &tar), "qcow2.tar.gz");
    let sparse_tar = dir.path().join("disk.qcow2.sparse.tar");
    gnu_tar(
        &["-S", "--format=posix", "--sparse-version=1.0"],
        dir.path(),
        "disk.qcow2",
        &sparse_tar,
    );
    expect.check(&sparse_tar, "qcow2.tar");
}

#[test]
fn a_compressed_overlay_finds_its_backing_file_next_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    let expect = Expect::of(&raw, false);
    let base = dir.path().join("base.qcow2");
    qemu_img_convert(&raw, "qcow2", &base);
    require_tool("qemu-img", "qemu-utils");
    run_ok(
        tool("qemu-img")
            .current_dir(dir.path())
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg("base.qcow2")
            .arg("overlay.qcow2"),
    );
    let gz = compress("gzip", &dir.path().join("overlay.qcow2"));
    // Opened from another directory: the relative backing name resolves
    // against the input's directory, not the process's nor the expansion's.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("overlay.qcow2.gz");
    std::fs::rename(&gz, &moved).unwrap();
    std::fs::copy(&base, elsewhere.path().join("base.qcow2")).unwrap();
    let image = Image::open(&moved).unwrap();
    assert_eq!(image.format_name(), "qcow2.gz");
    assert!(image.bytes() == &expect.raw[..]);
    assert_eq!(
        image.backing_chain(),
        &[elsewhere.path().join("base.qcow2")]
    );
}

#[test]
fn a_sparse_tar_of_two_disks_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    synthetic_sparse_raw(&src.join("a.raw"), 8 << 20, 5, 1);
    synthetic_sparse_raw(&src.join("b.raw"), 8 << 20, 5, 2);
    for (args, _) in SPARSE_FORMATS {
        let archive = dir.path().join("two.tar");
        require_tool("tar", "tar");
        run_ok(
            tool("tar")
                .args(*args)
                .arg("-cf")
                .arg(&archive)
                .arg("-C")
                .arg(&src)
                .args(["a.raw", "b.raw"]),
        );
        let err = Image::open(&archive).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Unsupported { .. }), "{args:?}: {text}");
        assert!(
            text.contains("(a.raw, b.raw)"),
            "{args:?}: real names: {text}"
        );
    }
}

// ---- Hostile archives, made by editing GNU tar's own output ----

/// A small sparse file: "HELLO" at 4096, "WORLD" at 5 MiB + 100, and a hole
/// to 10 MiB + 300. GNU tar maps it as (4096, 4096), (5242880, 4096),
/// (10486060, 0).
fn small_sparse_archive(dir: &Path, args: &[&str]) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let raw = src.join("d.raw");
    let file = std::fs::File::create(&raw).unwrap();
    file.set_len((10 << 20) + 300).unwrap();
    file.write_all_at(b"HELLO", 4096).unwrap();
    file.write_all_at(b"WORLD", (5 << 20) + 100).unwrap();
    drop(file);
    let out = dir.join("small.tar");
    gnu_tar(args, &src, "d.raw", &out);
    let bytes = std::fs::read(&out).unwrap();
    // The unedited archive reads.
    let image = Image::open(&out).unwrap();
    assert_eq!(&image.bytes()[4096..4101], b"HELLO");
    bytes
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not in the archive", String::from_utf8_lossy(needle)))
}

/// Replace `from` by `to` (same length) at its first occurrence.
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = find(bytes, from);
    bytes[at..at + to.len()].copy_from_slice(to);
}

/// Recompute the checksum of the header block at `at`.
fn fix_checksum(bytes: &mut [u8], at: usize) {
    let block = &mut bytes[at..at + 512];
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Opening `bytes` as an archive fails with a Corrupt error saying `what`.
fn assert_corrupt(dir: &Path, name: &str, bytes: &[u8], what: &str) {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = Image::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Corrupt { .. }), "{name}: {text}");
    assert!(text.contains(what), "{name}: {text:?} lacks {what:?}");
}

const POSIX_01: &[&str] = &["-S", "--format=posix", "--sparse-version=0.1"];
const POSIX_00: &[&str] = &["-S", "--format=posix", "--sparse-version=0.0"];
const POSIX_10: &[&str] = &["-S", "--format=posix", "--sparse-version=1.0"];
const GNU: &[&str] = &["-S", "--format=gnu"];

#[test]
fn a_sparse_map_past_the_real_size_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut pax01 = small_sparse_archive(dir.path(), POSIX_01);
    patch(
        &mut pax01,
        b"GNU.sparse.size=10486060",
        b"GNU.sparse.size=00008192",
    );
    assert_corrupt(dir.path(), "past01.tar", &pax01, "past the real size");

    let mut gnu = small_sparse_archive(dir.path(), GNU);
    // realsize[12] at 483: 4096 instead of 10486060.
    gnu[483..495].copy_from_slice(b"00000010000\0");
    fix_checksum(&mut gnu, 0);
    assert_corrupt(dir.path(), "past-gnu.tar", &gnu, "past the real size");

    // A base-256 real size of 2^60 bytes.
    let mut huge = small_sparse_archive(dir.path(), GNU);
    huge[483..495].copy_from_slice(&[0x80, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    fix_checksum(&mut huge, 0);
    assert_corrupt(dir.path(), "huge-gnu.tar", &huge, "limit");
}

#[test]
fn sparse_runs_out_of_order_or_overlapping_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut pax01 = small_sparse_archive(dir.path(), POSIX_01);
    patch(
        &mut pax01,
        b"4096,4096,5242880,4096",
        b"5242880,4096,4096,4096",
    );
    assert_corrupt(dir.path(), "desc01.tar", &pax01, "ascend without overlap");

    let mut pax00 = small_sparse_archive(dir.path(), POSIX_00);
    patch(
        &mut pax00,
        b"GNU.sparse.offset=5242880",
        b"GNU.sparse.offset=0006000",
    );
    assert_corrupt(
        dir.path(),
        "overlap00.tar",
        &pax00,
        "ascend without overlap",
    );

    // Old GNU: swap the header's first two entries (the checksum holds).
    let mut gnu = small_sparse_archive(dir.path(), GNU);
    let (first, second) = (gnu[386..410].to_vec(), gnu[410..434].to_vec());
    gnu[386..410].copy_from_slice(&second);
    gnu[410..434].copy_from_slice(&first);
    assert_corrupt(dir.path(), "desc-gnu.tar", &gnu, "ascend without overlap");
}

#[test]
fn a_pax_1_0_map_with_a_huge_count_or_too_many_lines_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let pax10 = small_sparse_archive(dir.path(), POSIX_10);
    // The member's data (the map, then the runs) after the PAX header and
    // the member's header.
    let data_at = find(&pax10, b"3\n4096\n4096\n5242880\n");
    assert_eq!(data_at % 512, 0);
    let stored_bytes = 512 + 8192;

    let mut huge = pax10.clone();
    huge[data_at..data_at + 512].fill(0);
    huge[data_at..data_at + 8].copy_from_slice(b"2000000\n");
    assert_corrupt(dir.path(), "huge10.tar", &huge, "runs listed");

    // 100000 runs claimed; the lines go on through all the member's data.
    let mut long = pax10.clone();
    let mut lines = b"100000\n".to_vec();
    while lines.len() < stored_bytes {
        lines.extend_from_slice(b"0\n");
    }
    long[data_at..data_at + stored_bytes].copy_from_slice(&lines[..stored_bytes]);
    assert_corrupt(dir.path(), "long10.tar", &long, "runs past the member's");
}

#[test]
fn truncated_archives_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let gnu = small_sparse_archive(dir.path(), GNU);
    assert_corrupt(dir.path(), "cut-header.tar", &gnu[..300], "truncated");
    assert_corrupt(dir.path(), "cut-data.tar", &gnu[..2000], "truncated");
    let pax10 = small_sparse_archive(dir.path(), POSIX_10);
    let data_at = find(&pax10, b"3\n4096\n");
    assert_corrupt(
        dir.path(),
        "cut-map.tar",
        &pax10[..data_at + 20],
        "truncated",
    );
    assert_corrupt(
        dir.path(),
        "cut-run.tar",
        &pax10[..data_at + 1024],
        "truncated",
    );

    // A truncated gzip stream: an error (the decoder's or ours), no panic.
    let path = dir.path().join("whole.tar");
    std::fs::write(&path, &gnu).unwrap();
    let gz = std::fs::read(compress("gzip", &path)).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    assert!(Image::open(&cut).is_err());
}
