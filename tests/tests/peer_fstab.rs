//! snapaudit's fstab parser against other projects' fstab test data.
//!
//! Inputs and expectations come from testdata/peer-corpus/fstab (see its
//! SOURCES.txt): util-linux's libmount test files with libmount's own parse
//! output (`tests/expected/libmount/tabfiles-*`), augeas's fstab lens inputs
//! with the trees augeas expects, and systemd's fstab-generator inputs.
//! Files are read in place from the copy committed under testdata/.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use snapaudit::system::fstab::{self, Fstab, Source};

fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/peer-corpus/fstab"
    ))
    .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    let path = corpus(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("peer corpus file {}: {e}", path.display()))
}

/// One `------ fs:` record of libmount's `tabfiles-*` expected output.
/// Absent freq/pass lines mean 0 (libmount prints only non-zero values).
#[derive(Debug, Default, PartialEq)]
struct Expected {
    source: String,
    target: String,
    fstype: String,
    optstr: String,
    freq: u32,
    pass: u32,
}

fn libmount_expected(rel: &str) -> Vec<Expected> {
    let text = String::from_utf8_lossy(&read(rel)).into_owned();
    let mut out: Vec<Expected> = Vec::new();
    for line in text.lines() {
        if line.starts_with("------ fs:") {
            out.push(Expected::default());
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        // libmount prints `key: %s`; a target may end in tabs, so only the
        // separator space is removed from strings.
        let text = value.strip_prefix(' ').unwrap_or(value).to_string();
        match key {
            "source" => cur.source = text,
            "target" => cur.target = text,
            "fstype" => cur.fstype = text,
            "optstr" => cur.optstr = text,
            "freq" => cur.freq = value.trim().parse().expect("freq in expected output"),
            "pass" => cur.pass = value.trim().parse().expect("pass in expected output"),
            _ => {}
        }
    }
    out
}

fn as_expected(f: &Fstab) -> Vec<Expected> {
    f.entries
        .iter()
        .map(|e| Expected {
            source: e.source_raw.clone(),
            target: e.target.clone(),
            fstype: e.fstype.clone(),
            optstr: e.options.join(","),
            freq: e.freq,
            pass: e.passno,
        })
        .collect()
}

#[test]
fn util_linux_fstab_matches_libmount() {
    let f = fstab::parse(&read("util-linux/fstab"));
    let expected = libmount_expected("util-linux/expected/tabfiles-parse-fstab");
    assert_eq!(
        expected.len(),
        11,
        "libmount's expected output lists 11 entries"
    );
    assert!(f.errors.is_empty(), "unexpected errors: {:?}", f.errors);
    assert_eq!(as_expected(&f), expected);
    // Lines and offsets: line 9 is the /dev/mapper/foo entry after a comment.
    let foo = &f.entries[7];
    assert_eq!(foo.line, 9);
    let bytes = read("util-linux/fstab");
    assert_eq!(
        bytes.get(foo.line_offset_bytes..foo.line_offset_bytes + 15),
        Some(&b"/dev/mapper/foo"[..])
    );
    // Classification of the same entries.
    assert!(
        f.entries[0]
            .source
            .matches_uuid("D3A8F783-DF75-4DC8-9163-975A891052C0")
    );
    assert!(f.entries[2].is_swap());
    assert!(f.entries[3].is_pseudo_fs() && f.entries[6].is_pseudo_fs());
    assert!(f.entries[8].is_network_fs() && f.entries[9].is_network_fs());
    assert!(f.entries[8].is_optional_at_boot());
    assert_eq!(f.entries[10].source, Source::Device("/dev/foo".into()));
}

#[test]
fn util_linux_fstab_with_comments_has_the_same_entries() {
    let f = fstab::parse(&read("util-linux/fstab.comment"));
    let expected = libmount_expected("util-linux/expected/tabfiles-parse-fstab-full");
    assert_eq!(expected.len(), 11);
    assert!(f.errors.is_empty());
    assert_eq!(as_expected(&f), expected);
    // The same entries as the comment-free file, on other lines.
    assert_eq!(
        as_expected(&f),
        as_expected(&fstab::parse(&read("util-linux/fstab")))
    );
}

#[test]
fn util_linux_broken_fstab_has_10_entries_and_2_errors() {
    let f = fstab::parse(&read("util-linux/fstab.broken"));
    let expected = libmount_expected("util-linux/expected/tabfiles-parse-fstab-broken");
    assert_eq!(expected.len(), 10);
    assert_eq!(as_expected(&f), expected);
    // libmount reports line 1 (`bug`) and the 9-word sentence on line 8.
    let lines: Vec<u64> = f.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 8], "errors: {:?}", f.errors);
    assert_eq!(f.errors[0].raw, "bug");
    // The 4-field devpts line and the 5-field /dev/mapper/foo line are accepted.
    assert_eq!(f.entries[4].field_count, 4);
    assert_eq!(
        (
            f.entries[7].field_count,
            f.entries[7].freq,
            f.entries[7].passno
        ),
        (5, 1, 0)
    );
}

#[test]
fn util_linux_mtab_matches_libmount() {
    let f = fstab::parse(&read("util-linux/mtab"));
    let expected = libmount_expected("util-linux/expected/tabfiles-parse-mtab");
    assert_eq!(expected.len(), 12);
    assert_eq!(as_expected(&f), expected);
}

#[test]
fn util_linux_btrfs_and_documentation_examples() {
    let f = fstab::parse(&read("util-linux/fstab_btrfs"));
    assert!(f.errors.is_empty());
    assert_eq!(f.entries.len(), 10);
    assert!(f.entries.iter().all(|e| e.fstype == "btrfs"
        && (e.option_value("subvol").is_some() || e.option_value("subvolid").is_some())));
    assert!(
        f.entries
            .iter()
            .all(|e| e.source.is_kernel_device_name() && e.source.other_disk_device())
    );

    let f = fstab::parse(&read("util-linux/Documentation-example.fstab"));
    assert!(f.errors.is_empty());
    assert_eq!(f.entries.len(), 6);
    assert_eq!(f.entries[0].line, 10);
    assert_eq!(f.entries[0].target, "/");
    assert!(
        matches!(&f.entries[1].source, Source::Uuid(u) if u == "805e7418-fc20-4dcf-830c-729781e58d1a")
    );
    assert_eq!(f.entries.iter().filter(|e| e.is_pseudo_fs()).count(), 4);
}

#[test]
fn augeas_root_fstab() {
    let f = fstab::parse(&read("augeas/tests_root_etc_fstab"));
    assert!(f.errors.is_empty());
    assert_eq!(f.entries.len(), 10);
    assert_eq!(f.entries[1].source, Source::Label("/boot".into()));
    assert_eq!(f.entries[9].source, Source::Device("/dev/vg00/swap".into()));
    assert!(f.entries[9].is_swap());
    // LVM names are not kernel device names.
    assert!(!f.entries[0].source.is_kernel_device_name());
}

/// The 14 one-line inputs of augeas's `test_fstab.aug`, with what its lens
/// expects (test_fstab_aug-inputs.README). libmount accepts all of them too.
#[test]
fn augeas_one_liners() {
    let f = fstab::parse(&read("augeas/test_fstab_aug-inputs.fstab"));
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(f.entries.len(), 14);
    let e = |line: u64| {
        f.entries
            .iter()
            .find(|e| e.line == line)
            .unwrap_or_else(|| panic!("no entry on line {line}"))
    };
    // Lines 1-3: leading and trailing blanks do not change the entry.
    for line in [2, 3] {
        assert_eq!(
            (
                &e(line).source,
                &e(line).target,
                &e(line).fstype,
                &e(line).options,
                e(line).freq,
                e(line).passno
            ),
            (
                &e(1).source,
                &e(1).target,
                &e(1).fstype,
                &e(1).options,
                1,
                1
            )
        );
    }
    // 4 fields (no dump/pass) and 3 fields (no options) are valid.
    assert_eq!(
        (e(4).field_count, &e(4).options[..], e(4).freq, e(4).passno),
        (4, &["defaults".to_string()][..], 0, 0)
    );
    assert_eq!((e(5).field_count, e(5).options.len()), (3, 0));
    // Options with ':' in a value.
    assert_eq!(
        e(6).options.last().map(String::as_str),
        Some("fscontext=system_u:object_r:removable_t")
    );
    // 5 fields + trailing blanks: passno absent.
    assert_eq!(
        (e(7).source.clone(), e(7).freq, e(7).passno),
        (Source::Label("/boot".into()), 1, 0)
    );
    // A comma list of types.
    assert_eq!(e(8).fstypes().collect::<Vec<_>>(), vec!["udf", "iso9660"]);
    // '#' inside the source is not a comment.
    assert_eq!(e(9).source_raw, "sshfs#jon@10.0.0.2:/home");
    assert!(e(9).is_network_fs());
    // A quoted option value with ':'.
    assert_eq!(
        e(10).option_value("rootcontext"),
        Some("\"system_u:object_r:tmpfs_t:s0\"")
    );
    // ',' inside the target.
    assert_eq!(e(11).target, "/path/file1,file2");
    // Empty cifs password: an option with an empty value, not a secret.
    assert_eq!(e(12).option_value("password"), Some(""));
    assert!(!e(12).inline_password);
    // End-of-line comment after passno is ignored.
    assert_eq!((e(13).freq, e(13).passno, e(13).options.len()), (0, 1, 2));
    // Trailing comma in options.
    assert_eq!(e(14).options, vec!["defaults"]);
}

#[test]
fn systemd_generator_inputs() {
    let f = fstab::parse(&read("systemd-fstab-generator/test-18-options.fstab.input"));
    assert!(f.errors.is_empty());
    assert_eq!(f.entries.len(), 17);
    assert!(f.entries.iter().all(|e| e.field_count == 6));
    assert_eq!(
        f.entries[8].options,
        vec!["x-systemd.automount", "x-systemd.idle-timeout=30m"]
    );
    assert_eq!(
        f.entries[5].option_value("x-systemd.requires-mounts-for"),
        Some("/hoge")
    );
    assert!(
        f.entries[9].is_optional_at_boot()
            && f.entries[14].is_optional_at_boot()
            && f.entries[15].is_optional_at_boot()
    );
    assert!(!f.entries[0].is_optional_at_boot());

    let f = fstab::parse(&read("systemd-fstab-generator/test-21-dmclone.fstab.input"));
    assert_eq!(f.entries.len(), 1);
    assert_eq!(
        f.entries[0].option_value("x-systemd.mount-dmclone"),
        Some("/dev/sda1:/dev/sdb1:/dev/sdc1")
    );

    let f = fstab::parse(&read(
        "systemd-fstab-generator/test-21-swap-netdev.fstab.input",
    ));
    assert_eq!(f.entries.len(), 1);
    assert!(f.entries[0].is_swap() && f.entries[0].has_option("_netdev"));
    assert_eq!(f.entries[0].line, 1);

    let f = fstab::parse(&read(
        "systemd-fstab-generator/test-17-initrd-sysroot.fstab.input",
    ));
    assert_eq!(f.entries.len(), 1);
    assert_eq!(f.entries[0].target, "/sysroot");
}

/// Every file of the folder parses, and every entry's offset points at the
/// first byte of its line.
#[test]
fn every_corpus_file_parses_with_exact_offsets() {
    let mut stack = vec![corpus("")];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).expect("corpus file");
            let f = fstab::parse(&bytes);
            for e in &f.entries {
                let at = e.line_offset_bytes;
                assert!(
                    at == 0 || bytes.get(at - 1) == Some(&b'\n'),
                    "{}: line {}",
                    path.display(),
                    e.line
                );
                let line_no = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                assert_eq!(line_no, e.line, "{}", path.display());
            }
            files += 1;
        }
    }
    assert!(
        files >= 15,
        "expected the whole fstab corpus, found {files} files"
    );
}
