//! Container-format oracles: `qemu-img` converts fixtures into every
//! container and reports their allocation (`qemu-img map`), and what
//! snapaudit reads from a container is compared with the raw source.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use sha2::{Digest, Sha256};
use snapaudit::image::Image;
use snapaudit::rules::{CheckOptions, check};

use crate::fixtures::tool;
use crate::qemu::coalesce;

const QEMU_HINT: &str = "qemu-img not found: apt-get install -y qemu-utils";

/// `qemu-img ARGS…`, which must succeed; a missing qemu-img fails the test
/// with the install command.
pub fn qemu_img(args: &[&str]) -> std::process::Output {
    run_tool("qemu-img", args, QEMU_HINT)
}

/// `qemu-io ARGS…` (comes with qemu-img in qemu-utils).
pub fn qemu_io(args: &[&str]) -> std::process::Output {
    run_tool("qemu-io", args, QEMU_HINT)
}

/// Runs `name ARGS…` once; it must succeed. A missing tool fails the test
/// with `hint`, the install command.
pub fn run_tool(name: &str, args: &[&str], hint: &str) -> std::process::Output {
    let out = tool(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e} ({hint})"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `qemu-img convert -O FORMAT [options] SRC DST`.
pub fn convert(src: &Path, dst: &Path, format: &str, extra: &[&str]) {
    let mut args = vec!["convert", "-O", format];
    args.extend_from_slice(extra);
    let (s, d) = (src.to_string_lossy(), dst.to_string_lossy());
    args.push(&s);
    args.push(&d);
    qemu_img(&args);
}

/// The ranges `qemu-img map --output=json` reports as data, coalesced.
pub fn qemu_data_ranges(path: &Path, format: Option<&str>) -> Vec<Range<u64>> {
    let p = path.to_string_lossy();
    let mut args = vec!["map", "--output=json"];
    if let Some(f) = format {
        args.extend_from_slice(&["-f", f]);
    }
    args.push(&p);
    let out = qemu_img(&args);
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("qemu-img map prints JSON");
    coalesce(
        entries
            .iter()
            .filter(|e| e["data"].as_bool() == Some(true))
            .map(|e| {
                let start = e["start"].as_u64().expect("start");
                start..start + e["length"].as_u64().expect("length")
            }),
    )
}

/// The allocation map snapaudit reads, coalesced.
pub fn our_data_ranges(image: &Image) -> Vec<Range<u64>> {
    coalesce(
        image
            .data_ranges()
            .expect("a container knows its allocation map")
            .iter()
            .cloned(),
    )
}

fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The image's virtual disk equals `raw` over `raw`'s length (hash, then
/// 64 pseudo-random ranges for a readable failure), and reads zeros beyond
/// it (a container may round the disk up).
pub fn assert_same_disk(image: &Image, raw: &Path, what: &str) {
    let want = std::fs::read(raw).unwrap_or_else(|e| panic!("{}: {e}", raw.display()));
    let got = image.bytes();
    assert!(
        got.len() >= want.len(),
        "{what}: the virtual disk has {} bytes, the source {}",
        got.len(),
        want.len()
    );
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 65536) as usize + 1;
        let at = (x >> 20) as usize % (want.len() - len.min(want.len()) + 1);
        let end = (at + len).min(want.len());
        if got[at..end] != want[at..end] {
            let i = (at..end).find(|&i| got[i] != want[i]).unwrap_or(at);
            panic!("{what}: virtual disk differs from the source at byte {i}");
        }
    }
    assert_eq!(
        sha256(&got[..want.len()]),
        sha256(&want),
        "{what}: virtual disk hash differs from the source's"
    );
    assert!(
        got[want.len()..].iter().all(|&b| b == 0),
        "{what}: bytes past the source's end are not zero"
    );
}

/// A finding as the container tests compare them.
pub type Key = (String, String, Option<String>, Option<u64>);

/// The (rule, severity, path, line) set `check` reports for `image`.
pub fn findings(image: &Image) -> BTreeSet<Key> {
    match check(image, &CheckOptions::default()) {
        Ok(report) => report
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.clone(),
                    format!("{:?}", f.severity),
                    f.location.path.clone(),
                    f.location.line,
                )
            })
            .collect(),
        // A disk that cannot be audited (a synthetic pattern with no table
        // and no filesystem is "not a disk image"): the error, which must
        // be the same for the raw disk and every container of it.
        Err(e) => BTreeSet::from([("error".to_string(), format!("{e:?}"), None, None)]),
    }
}

/// Writes a raw disk of `size` bytes with pseudo-random data at a spread of
/// places (page-aligned and not, some straddling 64 KiB cluster edges) and
/// holes between them.
pub fn synthetic_raw(path: &Path, size: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).expect("create");
    f.set_len(size).expect("set_len");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..40u64 {
        let len = 1 + next() % 200_000;
        let at = if i % 5 == 0 {
            // Across a cluster boundary.
            ((next() % (size / 65536)) * 65536).saturating_sub(len / 2)
        } else {
            next() % (size - len)
        };
        let len = len.min(size - at);
        let bytes: Vec<u8> = (0..len).map(|_| (next() >> 24) as u8 | 1).collect();
        f.write_all_at(&bytes, at).expect("write");
    }
    // The last byte, so that the disk's end is data.
    f.write_all_at(b"E", size - 1).expect("write");
}

/// The sample system disk, decompressed into `dir`.
pub fn sample_raw(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("sample.raw");
    let (o, z) = (out.to_string_lossy(), crate::fixtures::sample_zst());
    run_tool(
        "zstd",
        &["-dqf", "-o", &o, &z.to_string_lossy()],
        "apt-get install -y zstd",
    );
    out
}
