//! All 218 e2fsprogs regression images (peer corpus `e2fsprogs/`, most of
//! them deliberately corrupt) through everything snapaudit does to an
//! image: the partition reader (`inspect`), a full walk of every ext
//! filesystem with every file read, and `check`. Each must finish without
//! a panic, within a time bound, and with bounded memory; the two images
//! e2fsck itself cannot open must give a clear error.
//!
//! Clean images reading back without errors is `peer_images.rs`; this file
//! is about bounds. It is one test so that the process's peak RSS is this
//! work's alone (the figures are printed: `cargo test --test
//! robust_e2fsprogs -- --nocapture`).

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use snapaudit::ext4::{FileKind, Volume};
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::report::Severity;
use snapaudit::rules::{CheckOptions, check};

/// CPU time per image (table + walk + reads + check) in a debug build,
/// dependencies optimised; CPU rather than wall time, so that a loaded CI
/// runner does not fail it. The slowest images read tens of thousands of
/// files (f_many_subdirs: 65 000; f_h_badnode: 47 000 in a directory with a
/// corrupt htree, every one through our fallback reader) in 4–8 s.
const PER_IMAGE_CPU_BOUND: Duration = Duration::from_secs(30);
/// A hang is reported after this long instead of blocking the suite.
const HANG_BOUND: Duration = Duration::from_secs(120);
/// Memory an image may cost beyond its own bytes (which this test holds in
/// a Vec, as a decompressed input would be mapped).
const EXTRA_RSS_BOUND_BYTES: u64 = 256 << 20;
/// Files larger than this are not read whole (`read_limited` refuses them).
const READ_LIMIT_BYTES: u64 = 16 << 20;

fn corpus() -> std::path::PathBuf {
    snapaudit_tests::peer_corpus().join("e2fsprogs")
}

/// (test name, verdict) from MANIFEST.tsv.
fn manifest() -> Vec<(String, String)> {
    std::fs::read_to_string(corpus().join("MANIFEST.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let mut c = l.split('\t');
            (c.next().unwrap().to_string(), c.next().unwrap().to_string())
        })
        .collect()
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// CPU time (user + system) of the calling thread, from
/// /proc/thread-self/stat (clock ticks, 100 per second on Linux).
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// `VmHWM`/`VmRSS` of this process in bytes, from /proc/self/status.
fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux ≥ 4.0); false
/// where /proc does not allow it, and then the peak is the process's.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What one image cost and showed.
#[derive(Debug)]
struct Outcome {
    name: String,
    verdict: String,
    image_bytes: u64,
    elapsed: Duration,
    cpu: Duration,
    /// Peak RSS of the process while this image was processed.
    peak_rss_bytes: u64,
    /// Peak RSS while this image was processed, above the RSS before.
    extra_rss_bytes: u64,
    table_error: Option<String>,
    open_errors: Vec<String>,
    entries: usize,
    files_read: usize,
    root_fs_message: Option<String>,
    check_error: Option<String>,
    /// The ext2/3/4 magic (0xEF53) stands at byte 1080, where the primary
    /// superblock's `s_magic` is.
    has_ext_magic: bool,
}

fn run_one(name: &str, verdict: &str) -> Outcome {
    let bytes = gunzip(&corpus().join(format!("{name}.img.gz")));
    let image_bytes = bytes.len() as u64;
    let has_ext_magic = bytes.get(1080..1082) == Some(&[0x53, 0xEF][..]);
    let can_reset = reset_peak_rss();
    let rss_before = proc_status_bytes("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let cpu_before = thread_cpu_time();
    let image = Image::from_bytes(name, bytes);
    let mut out = Outcome {
        name: name.to_string(),
        verdict: verdict.to_string(),
        image_bytes,
        elapsed: Duration::ZERO,
        cpu: Duration::ZERO,
        peak_rss_bytes: 0,
        extra_rss_bytes: 0,
        table_error: None,
        open_errors: Vec::new(),
        entries: 0,
        files_read: 0,
        root_fs_message: None,
        has_ext_magic,
        check_error: None,
    };
    match PartitionTable::read(&image) {
        Err(e) => out.table_error = Some(e.to_string()),
        Ok(table) => {
            for p in &table.partitions {
                if !p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
                    continue;
                }
                let fs = match Volume::new(&image, p).open() {
                    Ok(fs) => fs,
                    Err(e) => {
                        out.open_errors.push(e.to_string());
                        continue;
                    }
                };
                let mut files = Vec::new();
                fs.walk(
                    "/",
                    &mut |e| {
                        out.entries += 1;
                        if e.kind == FileKind::File {
                            files.push(e.path.clone());
                        }
                    },
                    &mut |_, _| {},
                );
                for path in files {
                    let _ = fs.stat(&path);
                    if fs.read_limited(&path, READ_LIMIT_BYTES).is_ok() {
                        out.files_read += 1;
                    }
                }
            }
        }
    }
    match check(&image, &CheckOptions::default()) {
        Ok(report) => {
            out.root_fs_message = report
                .findings
                .iter()
                .find(|f| f.rule == "disk.root-fs" && f.severity == Severity::Error)
                .map(|f| f.message.clone());
        }
        Err(e) => out.check_error = Some(e.to_string()),
    }
    out.elapsed = started.elapsed();
    out.cpu = thread_cpu_time().saturating_sub(cpu_before);
    out.peak_rss_bytes = proc_status_bytes("VmHWM").unwrap_or(0);
    if can_reset {
        out.extra_rss_bytes = out.peak_rss_bytes.saturating_sub(rss_before);
    }
    out
}

#[test]
fn every_e2fsprogs_image_is_inspected_walked_and_checked_within_bounds() {
    let mut rows = manifest();
    assert_eq!(rows.len(), 218);
    // ROBUST_ONLY=f_name,... runs a few images (debugging one image).
    if let Ok(only) = std::env::var("ROBUST_ONLY") {
        rows.retain(|(name, _)| only.split(',').any(|o| o == name));
    }
    // The work runs on a worker thread that reports each image; a hang
    // fails the test instead of blocking CI.
    let (tx, rx) = mpsc::channel();
    let worker_rows = rows.clone();
    std::thread::spawn(move || {
        for (name, verdict) in worker_rows {
            let _ = tx.send(run_one(&name, &verdict));
        }
    });
    let mut outcomes = Vec::new();
    for (name, _) in &rows {
        match rx.recv_timeout(HANG_BOUND) {
            Ok(o) => outcomes.push(o),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{name}: not finished after {HANG_BOUND:?} (a hang?)")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{name}: panicked"),
        }
    }

    for o in &outcomes {
        assert!(
            o.cpu < PER_IMAGE_CPU_BOUND,
            "{}: {:?} of CPU (bound {PER_IMAGE_CPU_BOUND:?})",
            o.name,
            o.cpu
        );
        assert!(
            o.extra_rss_bytes <= o.image_bytes + EXTRA_RSS_BOUND_BYTES,
            "{}: peak RSS grew by {} bytes for a {}-byte image",
            o.name,
            o.extra_rss_bytes,
            o.image_bytes
        );
        // `check` answers for every image: a table it can read (or none).
        // It refuses only an image with no signature at all (f_zero_super:
        // the primary superblock zeroed), as "not a disk image".
        match &o.check_error {
            None => {}
            Some(e) => assert!(
                !o.has_ext_magic && e.starts_with("not a disk image"),
                "{}: {e}",
                o.name
            ),
        }
        if o.verdict == "unopenable" && o.check_error.is_none() {
            // No filesystem to walk, and the audit says why in one line.
            assert_eq!(o.entries, 0, "{}", o.name);
            let msg = o
                .root_fs_message
                .as_deref()
                .unwrap_or_else(|| panic!("{}: unopenable, yet no disk.root-fs error", o.name));
            assert!(
                msg.starts_with("no root filesystem found") || msg.contains("cannot be read"),
                "{}: {msg}",
                o.name
            );
        }
    }
    // Most of the corpus opens and walks (120 of 218 with ext4-view 1.0;
    // the rest are refused as corrupt or unsupported, which is a clean
    // error). A drop means the readers got stricter or broke.
    let walked = outcomes.iter().filter(|o| o.entries > 0).count();
    assert!(
        walked >= 110 || outcomes.len() < 218,
        "only {walked} of 218 images walked"
    );

    let mut by_time: Vec<&Outcome> = outcomes.iter().collect();
    by_time.sort_by_key(|o| std::cmp::Reverse(o.cpu));
    let total: Duration = outcomes.iter().map(|o| o.elapsed).sum();
    let total_cpu: Duration = outcomes.iter().map(|o| o.cpu).sum();
    eprintln!(
        "{} e2fsprogs images in {total:.1?} ({total_cpu:.1?} CPU); slowest (CPU, wall):",
        outcomes.len()
    );
    for o in by_time.iter().take(5) {
        eprintln!(
            "  {:<36} {:>8.2?} {:>8.2?}  {:>6} entries  {:>5} files read  {:>5} MiB image",
            o.name,
            o.cpu,
            o.elapsed,
            o.entries,
            o.files_read,
            o.image_bytes >> 20
        );
    }
    let growth = outcomes.iter().max_by_key(|o| o.extra_rss_bytes).unwrap();
    let peak = outcomes.iter().max_by_key(|o| o.peak_rss_bytes).unwrap();
    eprintln!(
        "peak RSS {} MiB ({}, a {} MiB image held in memory); largest growth over the RSS before: {} MiB ({})",
        peak.peak_rss_bytes >> 20,
        peak.name,
        peak.image_bytes >> 20,
        growth.extra_rss_bytes >> 20,
        growth.name
    );
    let unopened: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.open_errors.is_empty() || o.table_error.is_some())
        .map(|o| o.name.clone())
        .collect();
    eprintln!(
        "{} images with an ext filesystem that did not open",
        unopened.len()
    );
}
