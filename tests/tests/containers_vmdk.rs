//! VMDK and VDI containers against qemu-img: every subformat qemu writes,
//! made from the sample disk and from a synthetic sparse disk, reads as the
//! raw source, has the allocation map `qemu-img map` reports, and audits
//! as the raw source does; hostile variants made from them fail with a
//! clear error, never a panic.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use snapaudit::Error;
use snapaudit::image::Image;
use snapaudit_tests::fixtures::{run_ok, tool};
use snapaudit_tests::qemu::{self, MapEntry, Rng};

/// One container variant `qemu-img convert` writes.
struct Variant {
    /// Directory and file name stem in the test's temp dir.
    name: &'static str,
    file: &'static str,
    args: &'static [&'static str],
    /// `Image::format_name()`.
    format: &'static str,
    /// Whether qemu-img map looks through to the host file's holes (flat
    /// extents, static VDI: qemu's BDRV_BLOCK_RECURSE), reporting them
    /// `"data": true, "zero": true`.
    recurses: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "monolithicSparse",
        file: "disk.vmdk",
        args: &["-O", "vmdk", "-o", "subformat=monolithicSparse"],
        format: "vmdk-sparse",
        recurses: false,
    },
    Variant {
        name: "streamOptimized",
        file: "disk.vmdk",
        args: &["-O", "vmdk", "-o", "subformat=streamOptimized"],
        format: "vmdk-stream",
        recurses: false,
    },
    Variant {
        name: "monolithicFlat",
        file: "disk.vmdk",
        args: &["-O", "vmdk", "-o", "subformat=monolithicFlat"],
        format: "vmdk-descriptor",
        recurses: true,
    },
    Variant {
        name: "twoGbMaxExtentSparse",
        file: "disk.vmdk",
        args: &["-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"],
        format: "vmdk-descriptor",
        recurses: false,
    },
    Variant {
        name: "twoGbMaxExtentFlat",
        file: "disk.vmdk",
        args: &["-O", "vmdk", "-o", "subformat=twoGbMaxExtentFlat"],
        format: "vmdk-descriptor",
        recurses: true,
    },
    Variant {
        name: "vdi-dynamic",
        file: "disk.vdi",
        args: &["-O", "vdi"],
        format: "vdi-dynamic",
        recurses: false,
    },
    Variant {
        name: "vdi-static",
        file: "disk.vdi",
        args: &["-O", "vdi", "-o", "static=on"],
        format: "vdi-static",
        recurses: true,
    },
];

fn variant(name: &str) -> &'static Variant {
    VARIANTS.iter().find(|v| v.name == name).unwrap()
}

/// The (rule, severity, path, line) of every finding.
fn finding_keys(image: &Image) -> BTreeSet<snapaudit_tests::containers::Key> {
    snapaudit_tests::containers::findings(image)
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

/// The 4 KiB blocks of `raw` holding a non-zero byte, as merged ranges.
fn nonzero_blocks(raw: &[u8]) -> Vec<Range<u64>> {
    qemu::coalesce(raw.chunks(4096).enumerate().filter_map(|(i, c)| {
        let start = i as u64 * 4096;
        c.iter()
            .any(|&b| b != 0)
            .then(|| start..start + c.len() as u64)
    }))
}

fn covered(outer: &[Range<u64>], inner: &Range<u64>) -> bool {
    outer
        .iter()
        .any(|r| r.start <= inner.start && inner.end <= r.end)
}

/// Convert `raw` into every variant and check each against it.
fn check_all_variants(raw_path: &Path, dir: &Path, with_check: bool) {
    let raw = std::fs::read(raw_path).unwrap();
    let raw_keys = with_check.then(|| finding_keys(&Image::open(raw_path).unwrap()));
    let nonzero = nonzero_blocks(&raw);
    for v in VARIANTS {
        let vdir = dir.join(v.name);
        std::fs::create_dir_all(&vdir).unwrap();
        let path = vdir.join(v.file);
        qemu::convert_raw(raw_path, &path, v.args);
        let image = Image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(image.format_name(), v.format, "{}", v.name);

        // (1) The virtual disk is the raw source: whole, and in random
        // ranges (which name the first differing offset when it is not).
        let bytes = image.bytes();
        assert_eq!(bytes.len(), raw.len(), "{}: virtual size", v.name);
        let mut rng = Rng::new(raw.len() as u64 ^ 0x5eed);
        for _ in 0..64 {
            let at = rng.below(raw.len() as u64) as usize;
            let len = (1 + rng.below(256 << 10) as usize).min(raw.len() - at);
            assert!(
                bytes[at..at + len] == raw[at..at + len],
                "{}: bytes {at}..{} differ from the raw source",
                v.name,
                at + len
            );
        }
        assert_eq!(md5_of(bytes), md5_of(&raw), "{}: disk hash", v.name);

        // (2) The allocation map is qemu's.
        let ours = qemu::coalesce(image.data_ranges().unwrap().iter().cloned());
        let map = qemu::map(&path);
        let data = |keep: &dyn Fn(&MapEntry) -> bool| {
            qemu::coalesce(map.iter().filter(|e| keep(e)).map(MapEntry::range))
        };
        if v.recurses {
            // For flat extents and static VDI qemu-img map asks the host
            // file and reports its holes as `"data": true, "zero": true`
            // (the extent is allocated, its bytes read as zeros); the
            // image reports them as not data, as it does for a raw file's
            // holes. So ours is exactly qemu's data that is not zero, and
            // inside its data.
            assert_eq!(
                ours,
                data(&|e| e.data && !e.zero),
                "{}: data ranges",
                v.name
            );
            let theirs = data(&|e| e.data);
            assert!(
                ours.iter().all(|r| covered(&theirs, r)),
                "{}: data outside qemu's",
                v.name
            );
        } else {
            assert_eq!(ours, data(&|e| e.data), "{}: data ranges", v.name);
        }
        for r in &nonzero {
            assert!(
                covered(&ours, r),
                "{}: non-zero bytes {r:?} outside the data ranges",
                v.name
            );
        }

        // (3) The audit is the raw source's.
        if let Some(raw_keys) = &raw_keys {
            assert_eq!(&finding_keys(&image), raw_keys, "{}: findings", v.name);
        }
    }
}

/// The sample system disk, decompressed into `dir`.
fn sample_raw(dir: &Path) -> PathBuf {
    let path = dir.join("sample.raw");
    let mut decoder = zstd::stream::read::Decoder::new(
        std::fs::File::open(snapaudit_tests::fixtures::sample_zst()).unwrap(),
    )
    .unwrap();
    let mut out = std::fs::File::create(&path).unwrap();
    std::io::copy(&mut decoder, &mut out).unwrap();
    path
}

/// A 7 MiB + 12 KiB disk (not a whole number of grains or blocks) with
/// random runs at random places and holes between them.
fn synthetic_raw(dir: &Path) -> PathBuf {
    let path = dir.join("synthetic.raw");
    qemu::random_sparse_raw(&path, (7 << 20) + (12 << 10), 40, 20_000, 0x5a17);
    path
}

#[test]
fn sample_disk_in_every_variant_reads_maps_and_audits_as_the_raw_disk() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample_raw(dir.path());
    check_all_variants(&raw, dir.path(), true);
}

#[test]
fn synthetic_sparse_disk_in_every_variant_reads_and_maps_as_qemu_says() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synthetic_raw(dir.path());
    check_all_variants(&raw, dir.path(), true);
}

#[test]
fn child_vmdk_reads_its_unallocated_grains_from_the_parent_named_in_its_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synthetic_raw(dir.path());
    let base = dir.path().join("base.vmdk");
    qemu::convert_raw(&raw, &base, variant("monolithicSparse").args);
    let child = dir.path().join("child.vmdk");
    run_ok(
        qemu::img()
            .args([
                "create",
                "-q",
                "-f",
                "vmdk",
                "-F",
                "vmdk",
                "-b",
                "base.vmdk",
            ])
            .arg(&child),
    );
    run_ok(
        tool("qemu-io")
            .args([
                "-f",
                "vmdk",
                "-c",
                "write -P 0xab 1M 100k",
                "-c",
                "write -z 3M 64k",
            ])
            .arg(&child),
    );
    let flat = dir.path().join("child.raw");
    run_ok(
        qemu::img()
            .args(["convert", "-O", "raw"])
            .arg(&child)
            .arg(&flat),
    );
    let image = Image::open(&child).unwrap();
    assert_eq!(image.backing_chain(), [base.as_path()]);
    assert_eq!(
        md5_of(image.bytes()),
        md5_of(&std::fs::read(&flat).unwrap())
    );
}

#[test]
fn zeroed_grains_read_as_zeros_and_are_not_data_as_qemu_maps_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.vmdk");
    run_ok(
        qemu::img()
            .args(["create", "-q", "-f", "vmdk", "-o", "zeroed_grain=on"])
            .arg(&path)
            .arg("4M"),
    );
    run_ok(
        tool("qemu-io")
            .args([
                "-f",
                "vmdk",
                "-c",
                "write -P 0x11 0 1M",
                "-c",
                "write -z 256k 128k",
            ])
            .arg(&path),
    );
    let image = Image::open(&path).unwrap();
    let flat = dir.path().join("z.raw");
    run_ok(
        qemu::img()
            .args(["convert", "-O", "raw"])
            .arg(&path)
            .arg(&flat),
    );
    assert!(image.bytes() == std::fs::read(&flat).unwrap());
    let map = qemu::map(&path);
    assert!(
        map.iter()
            .any(|e| e.zero && !e.data && e.range() == (256 << 10..384 << 10)),
        "qemu maps the zeroed grains as zero: {map:?}"
    );
    let theirs = qemu::coalesce(map.iter().filter(|e| e.data).map(MapEntry::range));
    assert_eq!(
        qemu::coalesce(image.data_ranges().unwrap().iter().cloned()),
        theirs
    );
}

#[test]
fn vdi_discarded_block_reads_as_zeros_as_qemu_reads_it() {
    let h = Hostile::new("vdi-dynamic");
    let bmap_at = u64::from(h.u32_at(VDI_OFFSET_BMAP));
    // Block 1 was allocated (random runs all over the disk); discard it.
    assert!(h.u32_at(bmap_at + 4) < 0xffff_fffe);
    h.write(bmap_at + 4, &0xffff_fffeu32.to_le_bytes());
    let flat = h.dir.join("qemu.raw");
    run_ok(
        qemu::img()
            .args(["convert", "-O", "raw"])
            .arg(&h.path)
            .arg(&flat),
    );
    let expected = std::fs::read(&flat).unwrap();
    assert!(expected[1 << 20..2 << 20].iter().all(|&b| b == 0));
    let image = Image::open(&h.path).unwrap();
    assert!(image.bytes() == expected);
    let ours = image.data_ranges().unwrap();
    assert!(
        ours.iter().all(|r| r.end <= 1 << 20 || r.start >= 2 << 20),
        "{ours:?}"
    );
}

// --- hostile variants ----------------------------------------------------

/// A hostile copy of a qemu-made image: bytes patched, file truncated.
struct Hostile {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    path: PathBuf,
}

impl Hostile {
    /// The synthetic disk as variant `name`.
    fn new(name: &str) -> Hostile {
        Hostile::with_raw(name, 0)
    }

    /// As [`Hostile::new`], or with a raw disk of `size` bytes with random
    /// runs all over it when `size` is not 0.
    fn with_raw(name: &str, size: u64) -> Hostile {
        let dir = tempfile::tempdir().unwrap();
        let raw = if size == 0 {
            synthetic_raw(dir.path())
        } else {
            let path = dir.path().join("synthetic.raw");
            qemu::random_sparse_raw(&path, size, 400, 4096, 0xb16);
            path
        };
        let v = variant(name);
        let path = dir.path().join(v.file);
        qemu::convert_raw(&raw, &path, v.args);
        Hostile {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            path,
        }
    }

    fn read(&self, at: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        std::fs::File::open(&self.path)
            .unwrap()
            .read_exact_at(&mut buf, at)
            .unwrap();
        buf
    }

    fn u32_at(&self, at: u64) -> u32 {
        u32::from_le_bytes(self.read(at, 4).try_into().unwrap())
    }

    fn u64_at(&self, at: u64) -> u64 {
        u64::from_le_bytes(self.read(at, 8).try_into().unwrap())
    }

    fn write(&self, at: u64, bytes: &[u8]) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .unwrap()
            .write_all_at(bytes, at)
            .unwrap();
    }

    fn truncate(&self, len: u64) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .unwrap()
            .set_len(len)
            .unwrap();
    }

    fn size(&self) -> u64 {
        std::fs::metadata(&self.path).unwrap().len()
    }

    /// Opening must fail; the error's text.
    fn error(&self) -> Error {
        match Image::open(&self.path) {
            Ok(image) => panic!(
                "{}: opened a hostile image ({} bytes, {})",
                self.path.display(),
                image.size_bytes(),
                image.format_name()
            ),
            Err(e) => e,
        }
    }
}

/// Asserts `err` is a Corrupt error whose text has every one of `words`;
/// returns its offset.
fn assert_corrupt(err: &Error, words: &[&str]) -> u64 {
    let text = err.to_string();
    assert!(matches!(err, Error::Corrupt { .. }), "not Corrupt: {text}");
    for w in words {
        assert!(text.contains(w), "{text:?} does not say {w:?}");
    }
    err.offset().unwrap()
}

fn assert_unsupported(err: &Error, words: &[&str]) {
    let text = err.to_string();
    assert!(
        matches!(err, Error::Unsupported { .. }),
        "not Unsupported: {text}"
    );
    for w in words {
        assert!(text.contains(w), "{text:?} does not say {w:?}");
    }
}

/// Sparse header fields (VMware Virtual Disk Format 1.1).
const VMDK_CAPACITY: u64 = 12;
const VMDK_GRAIN_SIZE: u64 = 20;
const VMDK_GD_OFFSET: u64 = 56;

/// Byte offset of the grain directory of a (non-stream) sparse file.
fn vmdk_gd_at(h: &Hostile) -> u64 {
    h.u64_at(VMDK_GD_OFFSET) * 512
}

/// (file offset of the entry, entry) of the allocated grain table entries
/// of the first grain table, from the header at `header_at`.
fn vmdk_first_gtes(h: &Hostile, header_at: u64) -> Vec<(u64, u32)> {
    let gd_at = h.u64_at(header_at + VMDK_GD_OFFSET) * 512;
    let gt_at = u64::from(h.u32_at(gd_at)) * 512;
    assert_ne!(gt_at, 0, "the synthetic disk has data in its first 32 MiB");
    (0..512)
        .map(|j| (gt_at + j * 4, h.u32_at(gt_at + j * 4)))
        .filter(|&(_, gte)| gte > 1)
        .collect()
}

#[test]
fn truncated_sparse_vmdk_is_corrupt() {
    let h = Hostile::new("monolithicSparse");
    h.truncate(h.size() / 2);
    assert_corrupt(&h.error(), &["past the end"]);
}

#[test]
fn vmdk_grain_directory_and_table_entries_past_the_file_are_corrupt() {
    let h = Hostile::new("monolithicSparse");
    let gd_at = vmdk_gd_at(&h);
    h.write(gd_at, &0x7fff_fff0u32.to_le_bytes());
    let at = assert_corrupt(&h.error(), &["grain directory entry 0", "past the end"]);
    assert_eq!(at, gd_at);

    let h = Hostile::new("monolithicSparse");
    let (gte_at, _) = vmdk_first_gtes(&h, 0)[0];
    h.write(gte_at, &0x7fff_fff0u32.to_le_bytes());
    let at = assert_corrupt(&h.error(), &["grain table entry", "past the end"]);
    assert_eq!(at, gte_at);

    // The grain directory itself past the end.
    let h = Hostile::new("monolithicSparse");
    h.write(VMDK_GD_OFFSET, &(h.size() / 512).to_le_bytes());
    let at = assert_corrupt(&h.error(), &["grain directory of"]);
    assert_eq!(at, VMDK_GD_OFFSET);
}

#[test]
fn vmdk_grain_size_out_of_range_is_corrupt() {
    for sectors in [0u64, 8192, u64::MAX] {
        let h = Hostile::new("monolithicSparse");
        h.write(VMDK_GRAIN_SIZE, &sectors.to_le_bytes());
        let at = assert_corrupt(&h.error(), &["grain size"]);
        assert_eq!(at, VMDK_GRAIN_SIZE);
    }
}

#[test]
fn vmdk_capacity_of_2_pow_60_is_corrupt_without_allocating_for_it() {
    // 2^60 bytes: a grain directory of 2^35 entries (128 GiB) that the
    // small file cannot hold; refused before anything is allocated (an
    // allocation of that size would abort the test process).
    let h = Hostile::new("monolithicSparse");
    h.write(VMDK_CAPACITY, &(1u64 << 51).to_le_bytes());
    assert_corrupt(&h.error(), &["grain directory of 34359738368 entries"]);
    // 2^60 sectors: more bytes than 64 bits hold.
    let h = Hostile::new("monolithicSparse");
    h.write(VMDK_CAPACITY, &(1u64 << 60).to_le_bytes());
    let at = assert_corrupt(&h.error(), &["capacity"]);
    assert_eq!(at, VMDK_CAPACITY);
}

#[test]
fn vmdk_grains_sharing_host_bytes_are_corrupt() {
    let h = Hostile::new("monolithicSparse");
    let gtes = vmdk_first_gtes(&h, 0);
    assert!(gtes.len() >= 2);
    h.write(gtes[1].0, &gtes[0].1.to_le_bytes());
    assert_corrupt(&h.error(), &["VMDK grain", "overlaps"]);

    // Two directory entries naming one grain table (a disk of two).
    let h = Hostile::with_raw("monolithicSparse", 40 << 20);
    let gd_at = vmdk_gd_at(&h);
    let first = h.u32_at(gd_at);
    h.write(gd_at + 4, &first.to_le_bytes());
    assert_corrupt(&h.error(), &["grain tables", "overlap"]);
}

/// Rewrites the streamOptimized file of `h` the way VMware and cloud
/// exports write it: the header's gdOffset says "at the end", and the
/// stream ends with a footer marker, the footer (the header with the real
/// gdOffset) and an end-of-stream marker. (qemu writes its grain directory
/// at the front and no footer; it reads both forms.)
fn move_gd_to_footer(h: &Hostile) {
    let header = h.read(0, 512);
    let end = h.size().div_ceil(512) * 512;
    let mut tail = vec![0u8; 1536];
    tail[..8].copy_from_slice(&1u64.to_le_bytes());
    tail[12..16].copy_from_slice(&3u32.to_le_bytes()); // MARKER_FOOTER
    tail[512..1024].copy_from_slice(&header);
    h.write(end, &tail);
    h.write(VMDK_GD_OFFSET, &u64::MAX.to_le_bytes());
}

#[test]
fn stream_with_its_grain_directory_in_the_footer_reads_as_qemu_reads_it() {
    let h = Hostile::new("streamOptimized");
    move_gd_to_footer(&h);
    let flat = h.dir.join("qemu.raw");
    run_ok(
        qemu::img()
            .args(["convert", "-O", "raw"])
            .arg(&h.path)
            .arg(&flat),
    );
    let raw = std::fs::read(h.dir.join("synthetic.raw")).unwrap();
    assert_eq!(md5_of(&std::fs::read(&flat).unwrap()), md5_of(&raw));
    let image = Image::open(&h.path).unwrap();
    assert_eq!(image.format_name(), "vmdk-stream");
    assert_eq!(md5_of(image.bytes()), md5_of(&raw));

    // Cut short, the stream has no footer.
    h.truncate(h.size() - 512);
    assert_corrupt(&h.error(), &["footer"]);
}

#[test]
fn corrupt_compressed_grain_is_corrupt_at_open_naming_its_offset() {
    let h = Hostile::new("streamOptimized");
    let (_, gte) = vmdk_first_gtes(&h, 0)[0];
    let marker_at = u64::from(gte) * 512;
    let data_at = marker_at + 12;
    // An invalid zlib header (the check bits fail).
    h.write(data_at, &[0xff, 0xff]);
    let err = h.error();
    let at = assert_corrupt(
        &err,
        &[&format!("compressed cluster at file offset {data_at}")],
    );
    assert_eq!(at, data_at);

    // A grain marker claiming more compressed bytes than two grains.
    let h = Hostile::new("streamOptimized");
    let (_, gte) = vmdk_first_gtes(&h, 0)[0];
    let marker_at = u64::from(gte) * 512;
    h.write(marker_at + 8, &(1u32 << 30).to_le_bytes());
    let at = assert_corrupt(&h.error(), &["grain marker"]);
    assert_eq!(at, marker_at);
}

#[test]
fn vmdk_descriptor_with_an_absurd_extent_count_or_a_missing_file_fails_clearly() {
    let h = Hostile::new("monolithicFlat");
    let desc = std::fs::read_to_string(&h.path).unwrap();
    let mut absurd = String::from("# Disk DescriptorFile\ncreateType=\"twoGbMaxExtentFlat\"\n");
    for _ in 0..50_000 {
        absurd.push_str("RW 4 ZERO\n");
    }
    std::fs::write(&h.path, absurd).unwrap();
    assert_unsupported(&h.error(), &["more than 1000 extents"]);

    // The flat extent file is gone.
    std::fs::write(&h.path, &desc).unwrap();
    let flat = h.dir.join("disk-flat.vmdk");
    std::fs::remove_file(&flat).unwrap();
    let text = h.error().to_string();
    assert!(
        text.contains("\"disk-flat.vmdk\"") && text.contains(&flat.display().to_string()),
        "{text}"
    );

    // An extent larger than its flat file.
    let h = Hostile::new("monolithicFlat");
    let desc = std::fs::read_to_string(&h.path).unwrap();
    let grown = desc.replace("RW 14360 FLAT", "RW 14368 FLAT");
    assert_ne!(grown, desc, "qemu's descriptor: {desc}");
    std::fs::write(&h.path, grown).unwrap();
    assert_corrupt(&h.error(), &["FLAT extent", "runs past the end"]);
}

#[test]
fn vmdk_create_types_and_extents_not_read_are_named() {
    let h = Hostile::new("monolithicFlat");
    let desc = std::fs::read_to_string(&h.path).unwrap();
    for create_type in ["vmfs", "vmfsSparse", "seSparse", "vmfsRawDeviceMap"] {
        let other = desc.replace("\"monolithicFlat\"", &format!("\"{create_type}\""));
        std::fs::write(&h.path, other).unwrap();
        assert_unsupported(&h.error(), &[&format!("createType \"{create_type}\"")]);
    }
    let vmfs = desc.replace(" FLAT ", " VMFSRDM ");
    std::fs::write(&h.path, vmfs).unwrap();
    assert_unsupported(&h.error(), &["VMFSRDM extents"]);
    let noaccess = desc.replace("RW ", "NOACCESS ");
    std::fs::write(&h.path, noaccess).unwrap();
    assert_unsupported(&h.error(), &["NOACCESS"]);
}

#[test]
fn hand_written_descriptor_joins_flat_extents_at_offsets_and_zero_extents() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(7);
    let flat: Vec<u8> = (0..65536).map(|_| rng.next_u64() as u8).collect();
    std::fs::write(dir.path().join("data file.bin"), &flat).unwrap();
    // Shorter than a sector, as hand-written descriptors are; a file name
    // with a space; RDONLY reads like RW.
    let desc = "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n\
        RW 16 FLAT \"data file.bin\" 64\nRW 8 ZERO\nRDONLY 32 FLAT \"data file.bin\" 0\n";
    assert!(desc.len() < 512);
    let path = dir.path().join("hand.vmdk");
    std::fs::write(&path, desc).unwrap();
    let image = Image::open(&path).unwrap();
    let mut expected = flat[64 * 512..80 * 512].to_vec();
    expected.extend(vec![0u8; 8 * 512]);
    expected.extend(&flat[..32 * 512]);
    assert!(image.bytes() == &expected[..]);
    assert_eq!(image.data_ranges().unwrap(), [0..8192, 12288..28672]);

    // qemu reads RW FLAT extents only (it skips ZERO and RDONLY lines, so
    // it is asked about a descriptor without them), and wants the version
    // and CID lines.
    let desc = "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n\
        createType=\"monolithicFlat\"\n\
        RW 16 FLAT \"data file.bin\" 64\nRW 32 FLAT \"data file.bin\" 0\n";
    std::fs::write(&path, desc).unwrap();
    let out = dir.path().join("qemu.raw");
    run_ok(
        qemu::img()
            .args(["convert", "-f", "vmdk", "-O", "raw"])
            .arg(&path)
            .arg(&out),
    );
    let image = Image::open(&path).unwrap();
    assert!(image.bytes() == std::fs::read(&out).unwrap());
}

/// VDI header fields (qemu block/vdi.c `VdiHeader`).
const VDI_OFFSET_BMAP: u64 = 0x154;
const VDI_BLOCK_SIZE: u64 = 0x178;
const VDI_BLOCKS_ALLOCATED: u64 = 0x184;

#[test]
fn vdi_block_map_entries_past_the_file_are_corrupt() {
    // An index beyond the allocated blocks.
    let h = Hostile::new("vdi-dynamic");
    let bmap_at = u64::from(h.u32_at(VDI_OFFSET_BMAP));
    let allocated = h.u32_at(VDI_BLOCKS_ALLOCATED);
    h.write(bmap_at, &allocated.to_le_bytes());
    let at = assert_corrupt(&h.error(), &["block map entry 0", "blocks allocated"]);
    assert_eq!(at, bmap_at);

    // A truncated file: the last allocated block's data is gone.
    let h = Hostile::new("vdi-dynamic");
    h.truncate(h.size() - 4096);
    assert_corrupt(&h.error(), &["past the end"]);

    // Two entries naming one block.
    let h = Hostile::new("vdi-static");
    let bmap_at = u64::from(h.u32_at(VDI_OFFSET_BMAP));
    h.write(bmap_at + 4, &0u32.to_le_bytes());
    assert_corrupt(&h.error(), &["VDI block", "overlaps"]);
}

#[test]
fn vdi_block_size_out_of_range_is_corrupt() {
    for block_size in [0u32, 1000, 1 << 31] {
        let h = Hostile::new("vdi-dynamic");
        h.write(VDI_BLOCK_SIZE, &block_size.to_le_bytes());
        let at = assert_corrupt(&h.error(), &["block size"]);
        assert_eq!(at, VDI_BLOCK_SIZE);
    }
}
