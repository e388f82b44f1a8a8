//! The readers against a real rpm database: `testdata/build-rpm-fixture.sh`
//! builds and installs 25 packages with Debian's rpm 4.18 (sqlite) and
//! loads the same headers into a Berkeley DB hash with `db5.3_load`; what
//! rpm itself reports (`rpm -qa --qf …`) is the expectation. Then
//! truncated, corrupted and cyclic variants of those files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::*;

pub(crate) fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = root.join("target/rpm-fixture");
        let status = Command::new("bash")
            .arg(root.join("testdata/build-rpm-fixture.sh"))
            .arg(&out)
            .status()
            .expect("run build-rpm-fixture.sh");
        assert!(status.success(), "build-rpm-fixture.sh failed");
        out
    })
}

fn sqlite_bytes() -> Vec<u8> {
    std::fs::read(fixture().join("root/var/lib/rpm/rpmdb.sqlite")).unwrap()
}

fn bdb_bytes() -> Vec<u8> {
    std::fs::read(fixture().join("bdb/Packages")).unwrap()
}

fn algo_number(algo: Option<DigestAlgo>) -> &'static str {
    match algo {
        Some(DigestAlgo::Md5) => "1",
        Some(DigestAlgo::Sha256) => "8",
        Some(DigestAlgo::Sha384) => "9",
        Some(DigestAlgo::Sha512) => "10",
        None => "?",
    }
}

/// The lines of `expected.tsv` as this reader sees the database.
fn listing(format: DbFormat, bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    for_each_package(format, bytes, &mut |h| {
        for f in &h.files {
            lines.push(format!(
                "{}\t{}\t{}\t{}\t{}",
                String::from_utf8_lossy(h.name),
                String::from_utf8_lossy(&f.path()),
                String::from_utf8_lossy(f.digest_hex),
                algo_number(h.digest_algo),
                f.flags
            ));
        }
    })
    .unwrap();
    lines.sort();
    lines
}

fn expected() -> Vec<String> {
    let text = std::fs::read_to_string(fixture().join("expected.tsv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

#[test]
fn sqlite_file_list_equals_rpm_query() {
    let want = expected();
    assert!(want.len() > 150, "fixture lists {} files", want.len());
    assert_eq!(listing(DbFormat::Sqlite, &sqlite_bytes()), want);
}

#[test]
fn bdb_file_list_equals_rpm_query() {
    assert_eq!(listing(DbFormat::Bdb, &bdb_bytes()), expected());
}

#[test]
fn the_fixture_exercises_overflow_and_interior_pages() {
    // sqlite: the Packages root is an interior table page, and one blob
    // (sa-selftest's) is larger than a page, so it overflows.
    let bytes = sqlite_bytes();
    let db = sqlite::SqliteFile::open(&bytes).unwrap();
    let (root, columns) = db.table("Packages").unwrap();
    assert_eq!(columns, ["hnum", "blob"]);
    let page_size = 4096;
    assert_eq!(
        bytes[(root as usize - 1) * page_size],
        0x05,
        "interior root"
    );
    let mut sizes = Vec::new();
    sqlite::for_each_package_blob(&bytes, &mut |b| sizes.push(b.len())).unwrap();
    assert_eq!(sizes.len(), 25);
    assert!(sizes.iter().any(|&s| s > 2 * page_size), "{sizes:?}");
    // BDB: db5.3_load put the large data items on overflow pages.
    let bdb = bdb_bytes();
    let overflow_pages = bdb
        .chunks(page_size)
        .filter(|p| p.get(25) == Some(&7))
        .count();
    assert!(overflow_pages >= 3, "{overflow_pages} overflow pages");
    assert_eq!(DbFormat::sniff(&bdb), Some(DbFormat::Bdb));
    assert_eq!(DbFormat::sniff(&bytes), Some(DbFormat::Sqlite));
}

#[test]
fn package_names_and_config_flags() {
    let mut names = Vec::new();
    let mut config = Vec::new();
    for_each_package(DbFormat::Sqlite, &sqlite_bytes(), &mut |h| {
        names.push(String::from_utf8_lossy(h.name).into_owned());
        for f in &h.files {
            if f.flags & RPMFILE_CONFIG != 0 {
                config.push(String::from_utf8_lossy(&f.path()).into_owned());
            }
        }
    })
    .unwrap();
    names.sort();
    let want: Vec<String> = std::fs::read_to_string(fixture().join("packages.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(names, want);
    assert_eq!(config, ["/etc/sa-selftest/sa.conf"]);
}

/// The blob of package `name`, from the sqlite file.
fn blob_of(name: &[u8]) -> Vec<u8> {
    let mut out = None;
    sqlite::for_each_package_blob(&sqlite_bytes(), &mut |b| {
        if parse_header(b).is_ok_and(|h| h.name == name) {
            out = Some(b.to_vec());
        }
    })
    .unwrap();
    out.expect("package in the fixture")
}

/// Offset in the data store and index position of `tag`'s entry.
fn entry_of(blob: &[u8], tag: u32) -> (usize, usize) {
    let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;
    for i in 0..il {
        let at = 8 + 16 * i;
        if u32::from_be_bytes(blob[at..at + 4].try_into().unwrap()) == tag {
            let offset = u32::from_be_bytes(blob[at + 8..at + 12].try_into().unwrap());
            return (8 + 16 * il + offset as usize, at);
        }
    }
    panic!("no tag {tag}");
}

#[test]
fn an_unknown_digest_algorithm_makes_the_files_unknown() {
    let mut blob = blob_of(b"sa-selftest");
    assert_eq!(
        parse_header(&blob).unwrap().digest_algo,
        Some(DigestAlgo::Sha256)
    );
    let (data_at, _) = entry_of(&blob, 5011);
    blob[data_at..data_at + 4].copy_from_slice(&2u32.to_be_bytes()); // SHA-1
    assert_eq!(parse_header(&blob).unwrap().digest_algo, None);
    blob[data_at..data_at + 4].copy_from_slice(&10u32.to_be_bytes());
    assert_eq!(
        parse_header(&blob).unwrap().digest_algo,
        Some(DigestAlgo::Sha512)
    );
}

#[test]
fn corrupt_header_fields_are_errors() {
    let blob = blob_of(b"sa-selftest");
    // A dirindex past DIRNAMES.
    let mut bad = blob.clone();
    let (data_at, _) = entry_of(&bad, 1116);
    bad[data_at..data_at + 4].copy_from_slice(&999u32.to_be_bytes());
    assert!(parse_header(&bad).is_err());
    // A BASENAMES count larger than the data.
    let mut bad = blob.clone();
    let (_, entry_at) = entry_of(&bad, 1117);
    bad[entry_at + 12..entry_at + 16].copy_from_slice(&0x0fff_ffffu32.to_be_bytes());
    assert!(parse_header(&bad).is_err());
    // dl larger than the blob; il of zero.
    let mut bad = blob.clone();
    bad[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(parse_header(&bad).is_err());
    assert!(parse_header(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    // Every truncation fails cleanly.
    for len in 0..blob.len() {
        assert!(parse_header(&blob[..len]).is_err(), "cut at {len}");
    }
}

/// Runs every parser over `bytes`; the result does not matter, only that
/// it returns.
fn parse_all(bytes: &[u8]) -> usize {
    let mut n = 0;
    for format in [DbFormat::Sqlite, DbFormat::Bdb] {
        let _ = for_each_package(format, bytes, &mut |h| n += h.files.len());
    }
    n
}

#[test]
fn truncated_and_corrupted_databases_never_panic() {
    for bytes in [sqlite_bytes(), bdb_bytes()] {
        for len in (0..bytes.len())
            .step_by(1237)
            .chain([0, 1, 99, 100, 511, 4095, 4096])
        {
            parse_all(&bytes[..len.min(bytes.len())]);
        }
        // Overwrite 8-byte windows across the file with 0xff and with a
        // shifting pattern: page numbers, counts and offsets go wild.
        for (i, at) in (0..bytes.len()).step_by(97).enumerate() {
            let mut bad = bytes.clone();
            let end = (at + 8).min(bad.len());
            for (j, b) in bad[at..end].iter_mut().enumerate() {
                *b = if i % 2 == 0 { 0xff } else { (i * 31 + j) as u8 };
            }
            parse_all(&bad);
        }
    }
    assert!(for_each_blob(DbFormat::Sqlite, &sqlite_bytes()[..99], &mut |_| {}).is_err());
    assert!(for_each_blob(DbFormat::Bdb, &bdb_bytes()[..10], &mut |_| {}).is_err());
}

#[test]
fn sqlite_btree_cycle_is_an_error() {
    let mut bytes = sqlite_bytes();
    let root = sqlite::SqliteFile::open(&bytes)
        .unwrap()
        .table("Packages")
        .unwrap()
        .0;
    let page = (root as usize - 1) * 4096;
    // The interior root's right-most pointer names the root itself.
    bytes[page + 8..page + 12].copy_from_slice(&root.to_be_bytes());
    let err = for_each_blob(DbFormat::Sqlite, &bytes, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("reached twice"), "{err}");
}

/// Pages of `pagetype` of the Packages table, from sqlite3's dbstat.
fn dbstat_pages(pagetype: &str) -> Vec<usize> {
    let out = Command::new("sqlite3")
        .arg(fixture().join("root/var/lib/rpm/rpmdb.sqlite"))
        .arg(format!(
            "select pageno from dbstat where name='Packages' and pagetype='{pagetype}' order by path"
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

#[test]
fn sqlite_overflow_cycle_is_an_error() {
    let pages = dbstat_pages("overflow");
    assert!(pages.len() >= 2, "{pages:?}");
    let mut bytes = sqlite_bytes();
    // The second overflow page of the chain points back to the first.
    let second = (pages[1] - 1) * 4096;
    bytes[second..second + 4].copy_from_slice(&(pages[0] as u32).to_be_bytes());
    let err = for_each_blob(DbFormat::Sqlite, &bytes, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("loops"), "{err}");
}

#[test]
fn bdb_overflow_cycle_drops_only_that_package() {
    let mut bytes = bdb_bytes();
    let count = |bytes: &[u8]| {
        let mut n = 0;
        for_each_package(DbFormat::Bdb, bytes, &mut |_| n += 1).unwrap();
        n
    };
    assert_eq!(count(&bytes), 25);
    // Every overflow page's next_pgno names itself.
    let mut changed = 0;
    for (pgno, page) in bytes.chunks_mut(4096).enumerate() {
        if page[25] == 7 && page[16..20] != [0, 0, 0, 0] {
            page[16..20].copy_from_slice(&(pgno as u32).to_le_bytes());
            changed += 1;
        }
    }
    assert!(changed >= 1);
    assert!(count(&bytes) < 25);
}

#[test]
fn sqlite_records_and_varints() {
    // Header 3 bytes (size, NULL, 1-byte int), then 0x2a; a 9-byte varint.
    assert_eq!(
        sqlite::parse_record(&[3, 0, 1, 0x2a]).unwrap(),
        vec![sqlite::Value::Null, sqlite::Value::Int(42)]
    );
    assert!(
        sqlite::parse_record(&[3, 0, 1]).is_err(),
        "value past the payload"
    );
    assert!(
        sqlite::parse_record(&[9, 0]).is_err(),
        "header past the payload"
    );
    assert!(
        sqlite::parse_record(&[2, 10]).is_err(),
        "reserved serial type"
    );
    let nine = [3u8, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81];
    assert!(sqlite::parse_record(&nine).is_err());
}

#[test]
fn small_page_seed_databases_hold_three_packages() {
    // fuzz/seeds/rpmdb (made by fuzz/seeds.sh from this fixture): 512-byte
    // pages, so every header is an overflow chain in both formats.
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/rpmdb");
    for (file, format) in [
        ("small.sqlite", DbFormat::Sqlite),
        ("small.bdb", DbFormat::Bdb),
    ] {
        let bytes = std::fs::read(seeds.join(file)).unwrap();
        assert_eq!(DbFormat::sniff(&bytes), Some(format));
        let mut names = Vec::new();
        for_each_package(format, &bytes, &mut |h| {
            assert_eq!(h.files.len(), 4, "a directory and three files");
            names.push(String::from_utf8_lossy(h.name).into_owned());
        })
        .unwrap();
        names.sort();
        assert_eq!(names.len(), 3, "{file}: {names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("sa-filler-")),
            "{names:?}"
        );
    }
}

#[test]
fn sqlite_cells_sharing_one_payload_exhaust_the_budget() {
    // A leaf page whose 900 cell pointers all name its one real cell:
    // without the payload budget every pointer would be read and parsed.
    let leaf = dbstat_pages("leaf")[1];
    let mut bytes = sqlite_bytes();
    let page = (leaf - 1) * 4096;
    let cells = u16::from_be_bytes([bytes[page + 3], bytes[page + 4]]);
    assert_eq!(cells, 1, "one filler header per page");
    let cell = [bytes[page + 8], bytes[page + 9]];
    assert!(usize::from(u16::from_be_bytes(cell)) > 8 + 2 * 900);
    bytes[page + 3..page + 5].copy_from_slice(&900u16.to_be_bytes());
    for i in 0..900 {
        bytes[page + 8 + 2 * i..page + 10 + 2 * i].copy_from_slice(&cell);
    }
    let err = for_each_blob(DbFormat::Sqlite, &bytes, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("more than the file"), "{err}");
}
