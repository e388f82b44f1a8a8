//! The sensitive-data scan over whole images (issue 7): the fragmented
//! file's token across an extent boundary, the deleted key in free blocks,
//! the look-alikes, the same findings whatever the thread count and read
//! strategy, and no secret in any report.
//!
//! Expected offsets come from the fixture build (`meta/NAME.env`), secret
//! values from the fixture trees; neither is copied into this file, and
//! assertion messages never print a secret.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use snapaudit::image::{Image, OpenOptions, ReadStrategy};
use snapaudit::report::{Finding, Report, Severity};
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy, check};
use snapaudit::scan::{ScanOptions, scan_report};
use snapaudit_tests::fixtures;

fn open(name: &str, strategy: ReadStrategy) -> Image {
    Image::open_with(
        fixtures::image(name),
        OpenOptions {
            strategy,
            ..Default::default()
        },
    )
    .unwrap()
}

fn scan(name: &str) -> Report {
    scan_report(
        &open(name, ReadStrategy::Mmap),
        &ScanOptions::builtin().unwrap(),
    )
    .unwrap()
}

fn secret_findings(r: &Report) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| f.rule.starts_with("secret."))
        .collect()
}

/// rule, severity, path, line, offset: what a finding says, without evidence.
fn brief(f: &Finding) -> String {
    format!(
        "{} {} {:?}:{:?} @{:?}+{:?}",
        f.rule,
        f.severity,
        f.location.path,
        f.location.line,
        f.location.offset_bytes,
        f.location.length_bytes
    )
}

#[test]
fn fragmented_token_across_an_extent_boundary_is_found_once_at_its_offset() {
    let meta = fixtures::meta("dirty-fragmented");
    let report = scan("dirty-fragmented");
    let found = secret_findings(&report);
    assert_eq!(
        found.len(),
        1,
        "{:?}",
        found.iter().map(|f| brief(f)).collect::<Vec<_>>()
    );
    let f = found[0];
    assert_eq!(f.rule, "secret.token");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.location.path.as_deref(), Some(meta.str("frag.path")));
    assert_eq!(f.location.line, Some(meta.u64("frag.secret_line")));
    // The token starts in the first block, before the extent boundary.
    assert_eq!(
        f.location.offset_bytes,
        Some(meta.u64("frag.block0_offset_bytes") + meta.u64("frag.secret_file_offset"))
    );
    assert_eq!(f.location.length_bytes, Some(meta.u64("frag.secret_len")));
    assert!(
        meta.u64("frag.secret_file_offset") + meta.u64("frag.secret_len")
            > meta.u64("frag.boundary_file_offset"),
        "the fixture's token must cross the boundary"
    );
}

#[test]
fn deleted_key_is_reported_in_unallocated_space_at_its_offset() {
    let meta = fixtures::meta("dirty-deleted-key");
    for report in [
        scan("dirty-deleted-key"),
        check(
            &open("dirty-deleted-key", ReadStrategy::Mmap),
            &CheckOptions {
                profile: Profile::alibaba_ecs(),
                scan: ScanPolicy::Scan,
                root_partition: None,
            },
        )
        .unwrap(),
    ] {
        let found = secret_findings(&report);
        assert_eq!(
            found.len(),
            1,
            "{:?}",
            found.iter().map(|f| brief(f)).collect::<Vec<_>>()
        );
        let f = found[0];
        assert_eq!(f.rule, "secret.deleted");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.location.path.as_deref(), Some("unallocated"));
        assert_eq!(f.location.partition, Some(1));
        assert_eq!(
            f.location.offset_bytes,
            Some(meta.u64("deleted.offset_bytes"))
        );
        // The key block up to its END line (the file's final newline is not
        // part of the match).
        let len = f.location.length_bytes.unwrap();
        assert!(
            (meta.u64("deleted.length") - 2..=meta.u64("deleted.length")).contains(&len),
            "length {len}"
        );
        assert!(f.evidence.as_deref().unwrap().contains("PRIVATE KEY"));
    }
}

#[test]
fn sample_disk_deleted_key_and_planted_secrets() {
    let raw = snapaudit_tests::unzstd_to_temp(&fixtures::sample_zst());
    let image = Image::open(raw.path()).unwrap();
    let report = scan_report(&image, &ScanOptions::builtin().unwrap()).unwrap();
    let keys: Vec<String> = secret_findings(&report).iter().map(|f| brief(f)).collect();
    let deleted: Vec<&Finding> = secret_findings(&report)
        .into_iter()
        .filter(|f| f.rule == "secret.deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{keys:?}");
    assert_eq!(
        deleted[0].location.offset_bytes,
        Some(7_348_224),
        "{keys:?}"
    );
    for (rule, path, line) in [
        ("secret.password", "/root/.bash_history", 4),
        ("secret.cloud-access-key", "/home/user/bin/backup.sh", 4),
    ] {
        assert!(
            report.findings.iter().any(|f| f.rule == rule
                && f.location.path.as_deref() == Some(path)
                && f.location.line == Some(line)),
            "{rule} {path}:{line} missing: {keys:?}"
        );
    }
}

#[test]
fn placeholders_and_look_alikes_are_silent() {
    let report = scan("dirty-lookalikes");
    let found: Vec<String> = secret_findings(&report).iter().map(|f| brief(f)).collect();
    assert!(found.is_empty(), "{found:?}");
}

/// Findings of a report, without the timing.
fn comparable(r: &Report) -> (Vec<Finding>, u64, u64) {
    (
        r.findings.clone(),
        r.stats.files_scanned,
        r.stats.bytes_scanned,
    )
}

#[test]
fn same_findings_with_one_or_many_threads_and_with_or_without_mmap() {
    let options = ScanOptions::builtin().unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    for name in [
        "dirty-secrets",
        "dirty-fragmented",
        "dirty-deleted-key",
        "dirty-credentials-files",
        "data-scan",
        "hostile-sparse-1t",
    ] {
        let mapped = open(name, ReadStrategy::Mmap);
        let read = open(name, ReadStrategy::Read);
        let base = one.install(|| scan_report(&mapped, &options).unwrap());
        assert!(
            name.starts_with("hostile") || !secret_findings(&base).is_empty(),
            "{name}: nothing found"
        );
        for (what, other) in [
            (
                "4 threads",
                many.install(|| scan_report(&mapped, &options).unwrap()),
            ),
            (
                "read, 1 thread",
                one.install(|| scan_report(&read, &options).unwrap()),
            ),
            (
                "read, 4 threads",
                many.install(|| scan_report(&read, &options).unwrap()),
            ),
        ] {
            assert!(
                comparable(&base) == comparable(&other),
                "{name}: {what} differs from mmap with 1 thread:\n{:?}\n{:?}",
                base.findings.iter().map(brief).collect::<Vec<_>>(),
                other.findings.iter().map(brief).collect::<Vec<_>>()
            );
        }
    }
}

/// Runs of `[A-Za-z0-9+/_-]` of at least 16 bytes with both letters and
/// digits: the random parts of the planted secrets (key bodies, tokens,
/// passwords), not the key names around them.
fn secret_runs(text: &[u8]) -> Vec<String> {
    text.split(|b| !(b.is_ascii_alphanumeric() || b"+/_-".contains(b)))
        .filter(|run| {
            run.len() >= 16
                && run.iter().any(u8::is_ascii_digit)
                && run.iter().any(u8::is_ascii_alphabetic)
        })
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}

/// The files each fixture plants secrets in (FIXTURES.md).
const PLANTED: &[(&str, &[&str])] = &[
    (
        "dirty-secrets",
        &[
            "home/user/.ssh/id_rsa",
            "home/user/.ssh/id_ed25519",
            "home/user/deploy/aliyun.env",
            "home/user/deploy/aws.env",
            "home/user/deploy/ci.sh",
            "home/user/deploy/session.txt",
            "opt/app/config.yml",
            "opt/app/settings.ini",
            "home/user/.netrc",
            "home/user/.pgpass",
            "home/user/.my.cnf",
            "home/user/.git-credentials",
            "etc/NetworkManager/system-connections/office-wifi.nmconnection",
        ],
    ),
    (
        "dirty-credentials-files",
        &[
            "home/user/.aws/credentials",
            "home/user/.aliyun/config.json",
            "root/.docker/config.json",
        ],
    ),
    ("dirty-shell-history", &["root/.bash_history"]),
    ("dirty-fragmented", &["home/user/notes/fragmented.txt"]),
];

#[test]
fn reports_never_contain_a_planted_secret() {
    for (name, files) in PLANTED {
        let tree = fixtures::tree(name);
        let mut secrets = Vec::new();
        for file in *files {
            let bytes = std::fs::read(tree.join(file)).unwrap();
            secrets.extend(secret_runs(&bytes));
        }
        assert!(!secrets.is_empty(), "{name}: no secrets read from the tree");
        let image = open(name, ReadStrategy::Mmap);
        let scanned = scan_report(&image, &ScanOptions::builtin().unwrap()).unwrap();
        let checked = check(&image, &CheckOptions::default()).unwrap();
        assert!(
            !secret_findings(&scanned).is_empty() && !secret_findings(&checked).is_empty(),
            "{name}: the scan found nothing, so this test would prove nothing"
        );
        for report in [&scanned, &checked] {
            let json = serde_json::to_string(report).unwrap();
            let sarif =
                serde_json::to_string(&snapaudit::report::to_sarif(std::slice::from_ref(report)))
                    .unwrap();
            for (i, secret) in secrets.iter().enumerate() {
                // Any 12 consecutive characters of the secret: the evidence
                // shows at most a 4-character prefix.
                let leaked = secret.as_bytes().windows(12).any(|w| {
                    let w = std::str::from_utf8(w).unwrap_or_default();
                    json.contains(w) || sarif.contains(w)
                });
                assert!(
                    !leaked,
                    "{name}: planted secret #{i} (redacted) appears in a report"
                );
            }
        }
    }
}

#[test]
fn planted_secret_runs_are_read_from_the_tree() {
    let runs =
        secret_runs(b"KEY_ID=Ab3dEf6hIj9kLm2n\npassword = short1\nALIBABA_CLOUD_ACCESS_KEY_ID=");
    assert_eq!(runs, vec!["Ab3dEf6hIj9kLm2n".to_string()]);
}

/// An image made of a copy of `name` (sparse), writable.
fn sparse_copy(name: &str, dir: &Path) -> std::path::PathBuf {
    let out = dir.join(format!("{name}.img"));
    let status = fixtures::tool("cp")
        .arg("--sparse=always")
        .arg(fixtures::image(name))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// A deterministic token: `prefix` and `n` characters of `alphabet`.
fn token(prefix: &str, alphabet: &[u8], n: usize, seed: u64) -> String {
    let mut state = seed | 1;
    let mut s = prefix.to_string();
    for _ in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        s.push(char::from(
            alphabet[(state % alphabet.len() as u64) as usize],
        ));
    }
    s
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[test]
fn raw_scan_of_unpartitioned_space_and_unreadable_filesystems_but_not_luks() {
    let meta = fixtures::meta("data-multi-fs");
    let dir = tempfile::tempdir().unwrap();
    let path = sparse_copy("data-multi-fs", dir.path());
    let start = |p: u32| meta.u64(&format!("p{p}.start_bytes"));
    // Before the first partition, after the GPT entry array.
    let aws = token("AKIA", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 11);
    let gap_at = 512 * 1024;
    write_at(
        &path,
        gap_at,
        format!("\nAWS_ACCESS_KEY_ID={aws}\n").as_bytes(),
    );
    let gap_key_at = gap_at + "\nAWS_ACCESS_KEY_ID=".len() as u64;
    // Inside the xfs partition, across the boundary of two scan units.
    let ghp = token("ghp_", ALNUM, 36, 12);
    let xfs_at = start(2) + snapaudit::scan::UNIT_BYTES as u64 - 10;
    write_at(&path, xfs_at - 1, format!("\n{ghp}\n").as_bytes());
    // Inside the LUKS payload: ciphertext is not scanned.
    let luks_at = start(6) + 20 * 1024 * 1024;
    write_at(
        &path,
        luks_at,
        format!("\n{}\n", token("ghp_", ALNUM, 36, 13)).as_bytes(),
    );

    let image = Image::open(&path).unwrap();
    let report = scan_report(&image, &ScanOptions::builtin().unwrap()).unwrap();
    let found: Vec<String> = secret_findings(&report).iter().map(|f| brief(f)).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    let gap = report
        .findings
        .iter()
        .find(|f| f.location.offset_bytes == Some(gap_key_at))
        .unwrap_or_else(|| panic!("gap key missing: {found:?}"));
    assert_eq!(gap.rule, "secret.deleted");
    assert_eq!(gap.location.path.as_deref(), Some("unallocated"));
    assert_eq!(gap.location.partition, None);
    let xfs = report
        .findings
        .iter()
        .find(|f| f.location.offset_bytes == Some(xfs_at))
        .unwrap_or_else(|| panic!("xfs token missing: {found:?}"));
    assert_eq!(xfs.rule, "secret.token");
    assert_eq!(xfs.location.partition, Some(2));
    assert_eq!(xfs.location.length_bytes, Some(40));
    assert!(xfs.message.contains("xfs"), "{}", xfs.message);
}

#[test]
fn scanning_corrupt_e2fsprogs_images_terminates_without_panic() {
    let dir = snapaudit_tests::peer_corpus().join("e2fsprogs");
    let options = ScanOptions::builtin().unwrap();
    let mut n = 0;
    for line in std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let name = line.split('\t').next().unwrap();
        let raw = snapaudit_tests::gunzip_to_temp(&dir.join(format!("{name}.img.gz")));
        let Ok(image) = Image::open(raw.path()) else {
            continue;
        };
        let _ = scan_report(&image, &options);
        n += 1;
    }
    assert!(n > 200, "only {n} images scanned");
}
