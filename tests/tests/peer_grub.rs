//! snapaudit's bootloader parsers against other projects' GRUB test data.
//!
//! Inputs come from testdata/peer-corpus/grub (see its SOURCES.txt):
//! rhboot/grubby's test configs with grubby's expected `--default-index`,
//! `--default-title` and `--default-kernel` output
//! (`grubby-corpus/EXPECTED_DISPLAY.tsv` and `results/`), real grub.cfg and
//! menu.lst files from other projects, and systemd's BLS fuzz sample.
//! Files are read in place, not copied into this repository.
//!
//! Cases of grubby's test.sh that are not checked, and why:
//! - `grub2DisplayTest grub2.1 debug/g2.1 --bad-image-bad` and
//!   `... debug/g2.1.2 --boot-filesystem=/boot`: grubby's debug listing of
//!   entries it considers unusable, not a default-entry fact; the corpus
//!   has no `results/debug/` files for them.
//! - `results/defaultkernel/l1.1`, `z.1` and `results/defaulttitle/z.1`:
//!   expectations for grubby's LILO and zipl (s390) configs, which are not
//!   GRUB and not in the corpus.
//!
//! Every row of EXPECTED_DISPLAY.tsv (all 32, one of them a duplicate of
//! grubby's own test list) is checked.

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use snapaudit::system::fstab::Source;
use snapaudit::system::grub::{self, BootKind, MenuNode, bls, cmdline, grub2, grubenv, legacy};

fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/peer-corpus/grub"
    ))
    .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    let path = corpus(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("peer corpus file {}: {e}", path.display()))
}

fn read_text(rel: &str) -> String {
    String::from_utf8_lossy(&read(rel)).into_owned()
}

/// One row of EXPECTED_DISPLAY.tsv.
#[derive(Debug)]
struct Case {
    config: String,
    options: Vec<String>,
    expected: String,
    result_file: String,
}

fn cases() -> Vec<Case> {
    read_text("grubby-corpus/EXPECTED_DISPLAY.tsv")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "malformed row {l:?}");
            Case {
                config: cols[0].to_string(),
                options: cols[1].split_whitespace().map(str::to_string).collect(),
                expected: cols[2].to_string(),
                result_file: cols[3].to_string(),
            }
        })
        .collect()
}

/// What grubby would display for a case: (index, title, kernel path with
/// the --boot-filesystem prefix).
fn display(case: &Case) -> (usize, String, Option<String>) {
    let config = read(&format!("grubby-corpus/{}", case.config));
    let mut env = grubenv::GrubEnv::empty();
    let mut boot_prefix = String::new();
    let mut opts = case.options.iter();
    while let Some(o) = opts.next() {
        if o == "--env" {
            let name = opts.next().expect("--env takes a file");
            env = grubenv::parse(&read(&format!("grubby-corpus/grub2-support_files/{name}")));
            assert!(env.valid_signature, "{name}");
        } else if let Some(p) = o.strip_prefix("--boot-filesystem=") {
            boot_prefix = p.trim_end_matches('/').to_string();
        }
    }
    let resolved = if case.config.starts_with("grub2.") {
        grub2::parse_with_env(&config, &env).resolve_default(&[])
    } else {
        legacy::parse(&config).resolve_default(None)
    }
    .unwrap_or_else(|| panic!("{}: no default entry", case.config));
    // These configs have no submenus, so grubby's flat index is ours.
    assert_eq!(resolved.path.len(), 1, "{}", case.config);
    let kernel = resolved
        .entry
        .kernel
        .as_ref()
        .map(|k| format!("{boot_prefix}{k}"));
    (resolved.path[0], resolved.entry.title, kernel)
}

#[test]
fn default_entry_matches_grubby() {
    let cases = cases();
    assert_eq!(cases.len(), 32, "EXPECTED_DISPLAY.tsv rows");
    for case in &cases {
        // The TSV's expectation is grubby's result file, verbatim.
        let result = read_text(&format!("grubby-corpus/results/{}", case.result_file));
        assert_eq!(result.trim_end_matches('\n'), case.expected, "{case:?}");

        let (index, title, kernel) = display(case);
        let query = case.options.last().map(String::as_str);
        match query {
            Some("--default-index") => assert_eq!(index.to_string(), case.expected, "{case:?}"),
            Some("--default-title") => assert_eq!(title, case.expected, "{case:?}"),
            Some("--default-kernel") => {
                assert_eq!(kernel.as_deref(), Some(case.expected.as_str()), "{case:?}")
            }
            other => panic!("unexpected grubby query {other:?} in {case:?}"),
        }
    }
}

/// Every file of the folder goes through every parser without panicking,
/// and the parsers that own a format find something in it.
#[test]
fn every_grub_file_parses() {
    let mut stack = vec![corpus("")];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&path).expect("corpus file");
            let g2 = grub2::parse(&bytes);
            let _ = g2.resolve_default(&[]);
            let lg = legacy::parse(&bytes);
            let _ = lg.resolve_default(Some(1));
            let b = bls::parse_entry(&name, &bytes);
            let _ = b.to_boot_entry(&Default::default());
            let env = grubenv::parse(&bytes);
            let _ = cmdline::parse(&String::from_utf8_lossy(&bytes));
            if name.starts_with("grubenv.") {
                assert!(env.valid_signature, "{name}");
            }
            let is_grub2 = name.starts_with("grub2.") || name.contains("__grubby_test_grub2.");
            let is_legacy = !is_grub2
                && (name.starts_with("grub.")
                    || name.contains("__grubby_test_grub.")
                    || name.ends_with("menu.lst")
                    || name.ends_with("grub.conf"));
            if is_grub2 {
                assert!(!g2.menu.entries().is_empty(), "{name}: no menu entries");
                assert!(g2.load_env, "{name}");
            }
            if is_legacy {
                assert!(!lg.entries.is_empty(), "{name}: no titles");
                assert!(
                    lg.entries
                        .iter()
                        .all(|e| e.kernel.is_some() || e.chainloader.is_some()),
                    "{name}"
                );
            }
            files += 1;
        }
    }
    assert!(
        files >= 60,
        "expected the whole grub corpus, found {files} files"
    );
}

#[test]
fn fedora17_submenu() {
    let bytes = read("fedora17-submenu__grubby_test_grub2.5");
    let cfg = grub::parse(&bytes);
    // SOURCES.txt: 4 menuentries, 1 at top level, 1 submenu.
    assert_eq!(cfg.menu.entries().len(), 4);
    assert_eq!(cfg.menu.items.len(), 2);
    let MenuNode::Submenu(sub) = &cfg.menu.items[1] else {
        panic!("item 1 is the submenu")
    };
    assert_eq!(sub.title, "Advanced options for Fedora Linux");
    assert_eq!(
        sub.id.as_deref(),
        Some("gnulinux-advanced-fe7b6773-70ed-4eac-b323-16ed459c7f86")
    );
    assert_eq!(sub.items.len(), 3);
    // `set default="${saved_entry}"` with no grubenv: entry 0.
    assert_eq!(cfg.default.as_deref(), Some(""));
    let d = cfg.resolve_default(&[]).expect("default");
    assert_eq!(
        (d.path.clone(), d.entry.title.as_str(), d.fell_back),
        (vec![0], "Fedora Linux", false)
    );
    assert_eq!(
        d.entry.search_fs_uuid.as_deref(),
        Some("df0170c9-7d05-415c-bbd1-d4d503ba0eed")
    );
    assert_eq!(d.entry.root_device.as_deref(), Some("hd0,msdos1"));
    // A saved_entry naming a submenu entry by ids, as grub2-set-default writes it.
    let mut env = b"# GRUB Environment Block\nsaved_entry=gnulinux-advanced-fe7b6773-70ed-4eac-b323-16ed459c7f86>gnulinux-3.2.9-1.fc16.x86_64-advanced-fe7b6773-70ed-4eac-b323-16ed459c7f86\n".to_vec();
    env.resize(1024, b'#');
    let cfg = grub2::parse_with_env(&bytes, &grubenv::parse(&env));
    let d = cfg.resolve_default(&[]).expect("default");
    assert_eq!(d.path, vec![1, 1]);
    assert_eq!(
        d.entry.kernel.as_deref(),
        Some("/vmlinuz-3.2.9-1.fc16.x86_64")
    );
    assert_eq!(d.entry.initrds, vec!["/initramfs-3.2.9-1.fc16.x86_64.img"]);
    // Title paths work too (`Advanced options for Fedora Linux>...`).
    let d = cfg
        .menu
        .resolve_default(Some(
            "Advanced options for Fedora Linux>Fedora Linux, with Linux 3.2.7-1.fc16.x86_64",
        ))
        .expect("default");
    assert_eq!(d.path, vec![1, 2]);
}

#[test]
fn rhel72_users_and_tuned_params() {
    let cfg = grub::parse(&read("rhel72-users__grubby_test_grub2.16"));
    let entries = cfg.menu.entries();
    assert_eq!(entries.len(), 3);
    // linux16 with `$tuned_params` expanded from `set tuned_params=...`.
    let first = entries[0];
    assert_eq!(first.kind, BootKind::Linux);
    assert_eq!(
        first.kernel.as_deref(),
        Some("/vmlinuz-3.10.0-297.el7.x86_64")
    );
    assert!(first.initrds.is_empty());
    let cl = first.kernel_cmdline();
    assert_eq!(cl.get("isolcpus"), Some("1,3"));
    assert_eq!(
        cl.root(),
        Some(Source::Device(
            "/dev/mapper/rhel_hp--dl380pgen8--02--vm--10-root".into()
        ))
    );
    assert_eq!(
        entries[1].initrds,
        vec!["/initramfs-3.10.0-296.el7.x86_64.img"]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.search_fs_uuid.as_deref() == Some("cae02b39-f239-4d26-9032-674d261c93d8"))
    );
    // `password_pbkdf2 root ${GRUB2_PASSWORD}` is a variable, nothing to report;
    // the sourced user.cfg is recorded.
    assert!(cfg.includes.iter().any(|i| i.path.ends_with("/user.cfg")));
}

#[test]
fn fedora19_utf8_and_fedora21_efi() {
    let cfg = grub::parse(&read("fedora19-utf8__grubby_test_grub2.9"));
    assert_eq!(cfg.menu.entries().len(), 3);
    assert_eq!(
        cfg.menu.entries()[0].title,
        "Fedora (3.10.3-300.fc19.x86_64) 19 (Schrödinger’s Cat)"
    );
    let cfg = grub::parse(&read("fedora21-efi__grubby_test_grub2.15"));
    let entries = cfg.menu.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, BootKind::Linux);
    assert_eq!(
        entries[0].kernel.as_deref(),
        Some("/vmlinuz-3.15.0-0.rc5.git2.10.fc21.x86_64")
    );
    assert!(entries[0].kernel_cmdline().has("rhgb"));
}

#[test]
fn coreos_static_configs_have_no_entries() {
    let efi = grub::parse(&read("coreos-bootupd__grub-static-efi.cfg"));
    assert!(efi.menu.items.is_empty());
    let configfiles: Vec<&str> = efi
        .includes
        .iter()
        .filter(|i| i.command == "configfile")
        .map(|i| i.path.as_str())
        .collect();
    assert_eq!(configfiles.len(), 2);
    assert!(efi.resolve_default(&[]).is_none());

    let pre = grub::parse(&read("coreos-bootupd__grub-static-pre.cfg"));
    assert!(pre.menu.items.is_empty());
    assert!(pre.load_env);
    // `search --label boot --set boot` then `set root=$boot`.
    assert_eq!(pre.global_root.search_label.as_deref(), Some("boot"));
}

#[test]
fn legacy_configs_from_other_projects() {
    let c = legacy::parse(&read("smartos-headnode__boot_grub_menu.lst"));
    assert_eq!(c.entries.len(), 4);
    let d = c.resolve_default(None).expect("default");
    assert_eq!(d.entry.title, "Live 64-bit");
    assert_eq!(d.entry.kind, BootKind::Multiboot);
    assert_eq!(
        d.entry.kernel.as_deref(),
        Some("/platform/i86pc/kernel/amd64/unix")
    );
    assert_eq!(
        d.entry.modules[0].path,
        "/platform/i86pc/amd64/boot_archive"
    );

    let c = legacy::parse(&read("fedora8-xen__boot_grub_grub.conf"));
    assert_eq!(c.entries.len(), 4);
    assert!(c.hiddenmenu);
    assert_eq!(
        c.resolve_default(None).map(|d| d.entry.title),
        Some("Fedora (2.6.24.4-64.fc8)".into())
    );
    let xen = &c.entries[2];
    assert_eq!(xen.kind, BootKind::Multiboot);
    assert_eq!(
        xen.kernel_cmdline().root(),
        Some(Source::Device("/dev/vg00/lv00".into()))
    );

    let c = legacy::parse(&read("opensuse121-yast__grubby_test_grub.12"));
    assert_eq!(c.entries.len(), 4);
    let d = c.resolve_default(None).expect("default");
    assert_eq!(d.entry.title, "Desktop -- openSUSE 12.1 - 3.1.9-1.4");
    assert_eq!(
        d.entry.kernel.as_deref(),
        Some("/boot/vmlinuz-3.1.9-1.4-desktop")
    );
    assert_eq!(d.entry.root_device.as_deref(), Some("hd0,1"));
    assert!(
        d.entry
            .kernel_cmdline()
            .root()
            .is_some_and(|r| r.is_kernel_device_name())
    );

    let c = legacy::parse(&read("rhel5__grubby_test_grub.13"));
    assert_eq!(c.entries.len(), 2);
    assert_eq!(
        c.resolve_default(None).map(|d| d.entry.initrds),
        Some(vec!["/initrd-2.6.18-308.1.1.el5.img".to_string()])
    );

    // Same file as grubby's grub.10: grubby says the default title is "xen".
    let c = legacy::parse(&read("fc4-xen-first__grubby_test_grub.10"));
    assert_eq!(
        c.resolve_default(None).map(|d| d.entry.title),
        Some("xen".into())
    );
}

fn bls_sample() -> Vec<bls::BlsEntry> {
    [
        "08a5690afeedfeedaaac0a5d2e3cf6b0-5.15.14-200.fc35.x86_64.conf",
        "08a5690afeedfeedaaac0a5d2e3cf6b0-5.17.0-0.rc5.102.fc36.x86_64.conf",
        "listing.conf",
        "loader.conf",
    ]
    .iter()
    .map(|name| bls::parse_entry(name, &read(&format!("bls-systemd-fuzz-sample1/{name}"))))
    .collect()
}

#[test]
fn bls_entries_from_systemd_sample() {
    let entries = bls_sample();
    // loader.conf is not an entry (no `linux`).
    assert!(entries[3].grub_skips.is_some());
    let sorted: Vec<&str> = bls::sort_for_grub(&entries)
        .iter()
        .map(|e| e.file_id.as_str())
        .collect();
    assert_eq!(
        sorted,
        vec![
            "08a5690afeedfeedaaac0a5d2e3cf6b0-5.17.0-0.rc5.102.fc36.x86_64",
            "08a5690afeedfeedaaac0a5d2e3cf6b0-5.15.14-200.fc35.x86_64",
            "listing",
        ]
    );
    // Runs of spaces between key and value; the fc36 entry has six after `initrd`.
    let fc36 = entries[1]
        .to_boot_entry(&Default::default())
        .expect("fc36 has linux");
    assert_eq!(
        fc36.title,
        "Fedora Linux 36 (Workstation Edition Prerelease)"
    );
    assert_eq!(
        fc36.initrds,
        vec!["/08a5690afeedfeedaaac0a5d2e3cf6b0/5.17.0-0.rc5.102.fc36.x86_64/initrd"]
    );
    let cl = fc36.kernel_cmdline();
    assert_eq!(cl.selinux(), Some(false));
    assert_eq!(
        cl.root(),
        Some(Source::Device("/dev/mapper/fedora_krowka-root".into()))
    );
    // listing.conf: repeated keys; GRUB uses the first `options` only.
    assert_eq!(entries[2].options.as_deref(), Some("one two three four"));
    assert_eq!(
        entries[2]
            .fields
            .iter()
            .filter(|f| f.key == "architecture")
            .count(),
        5
    );
}

#[test]
fn blscfg_config_with_the_systemd_sample() {
    let cfg_text = b"load_env\nset default=\"${saved_entry}\"\nsearch --no-floppy --fs-uuid --set=root 0123-4567\nblscfg\n";
    let entries = bls_sample();
    let cfg = grub::parse(cfg_text);
    let d = cfg.resolve_default(&entries).expect("default");
    assert_eq!(
        d.entry.id.as_deref(),
        Some("08a5690afeedfeedaaac0a5d2e3cf6b0-5.17.0-0.rc5.102.fc36.x86_64")
    );
    assert_eq!(d.entry.search_fs_uuid.as_deref(), Some("0123-4567"));
    let mut env = b"# GRUB Environment Block\nsaved_entry=08a5690afeedfeedaaac0a5d2e3cf6b0-5.15.14-200.fc35.x86_64\n".to_vec();
    env.resize(1024, b'#');
    let cfg = grub2::parse_with_env(cfg_text, &grubenv::parse(&env));
    let d = cfg.resolve_default(&entries).expect("default");
    assert_eq!(d.path, vec![1]);
    assert_eq!(
        d.entry.kernel.as_deref(),
        Some("/08a5690afeedfeedaaac0a5d2e3cf6b0/5.15.14-200.fc35.x86_64/linux")
    );
}
