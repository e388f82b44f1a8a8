//! `snapaudit ls -R` and `cat` on fixtures give back exactly the tree and
//! bytes each fixture was built from (the directory mke2fs -d read).

// Test helpers unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use snapaudit_tests::fixtures;

fn snapaudit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snapaudit"))
        .args(args)
        .output()
        .unwrap()
}

/// Every entry under `root` as `/rel/path` → (type letter, size for files).
fn source_tree(root: &Path) -> BTreeMap<String, (char, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = format!("/{}", e.path().strip_prefix(root).unwrap().display());
            let t = meta.file_type();
            let letter = if t.is_dir() {
                stack.push(e.path());
                'd'
            } else if t.is_symlink() {
                'l'
            } else if t.is_file() {
                '-'
            } else {
                '?'
            };
            out.insert(rel, (letter, if t.is_file() { meta.size() } else { 0 }));
        }
    }
    out
}

/// `ls -lR` output of the image as path → (type letter, size for files).
fn image_tree(image: &Path) -> BTreeMap<String, (char, u64)> {
    let out = snapaudit(&["ls", "-lR", image.to_str().unwrap(), "/"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tree = BTreeMap::new();
    let mut dir = String::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(d) = line.strip_suffix(':') {
            dir = d.trim_end_matches('/').to_string();
            continue;
        }
        if line.is_empty() {
            continue;
        }
        // mode uid gid size date time name [-> target]
        let f: Vec<&str> = line.splitn(7, ' ').filter(|s| !s.is_empty()).collect();
        let cols: Vec<&str> = line.split_whitespace().collect();
        let name = cols[6];
        let letter = f[0].chars().next().unwrap();
        let size: u64 = cols[3].parse().unwrap();
        tree.insert(
            format!("{dir}/{name}"),
            (letter, if letter == '-' { size } else { 0 }),
        );
    }
    tree
}

#[test]
fn ls_and_cat_reproduce_the_source_tree() {
    for name in [
        "sys-clean-mbr",
        "sys-clean-gpt-esp",
        "sys-whole-disk",
        "sys-bls-rhel8",
        "sys-legacy-grub-el6",
    ] {
        let image = fixtures::image(name);
        let src = fixtures::tree(name);
        let mut want = source_tree(&src);
        let mut got = image_tree(&image);
        // mke2fs adds lost+found.
        got.retain(|p, _| p != "/lost+found" && !p.starts_with("/lost+found/"));
        want.retain(|p, _| p != "/lost+found");
        assert_eq!(got, want, "{name}: tree differs");
        let files: Vec<&String> = want
            .iter()
            .filter(|(_, (t, _))| *t == '-')
            .map(|(p, _)| p)
            .collect();
        assert!(files.len() > 10, "{name}");
        for path in files {
            let out = snapaudit(&["cat", image.to_str().unwrap(), path]);
            assert!(
                out.status.success(),
                "{name}:{path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let expected = std::fs::read(src.join(path.trim_start_matches('/'))).unwrap();
            assert!(out.stdout == expected, "{name}:{path}: bytes differ");
        }
    }
}

#[test]
fn inspect_json_has_the_report_disk_shape() {
    let image = fixtures::image("sys-clean-gpt-esp");
    let out = snapaudit(&["inspect", "--format", "json", image.to_str().unwrap()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "snapaudit.inspect/1");
    let parts = v["disk"]["partitions"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["bios-boot", "esp", "linux-root-x86-64"]);
    assert_eq!(parts[1]["fs"], "vfat");
    assert_eq!(parts[2]["role"], "root");
    assert_eq!(v["disk"]["table"], "gpt");
}

#[test]
fn bad_images_exit_2_with_a_clear_message() {
    let tmp = tempfile::Builder::new()
        .prefix("snapaudit-cli-test-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let empty = dir.join("empty.raw");
    std::fs::write(&empty, b"").unwrap();
    for (path, needle) in [
        (dir.join("missing.raw"), "No such file"),
        (dir.clone(), "is a directory"),
        (empty, "empty file"),
    ] {
        let out = snapaudit(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
    }
}

/// `stat` shows the inode number debugfs shows, the chattr flags from the
/// inode, and owner names from the image's own /etc/passwd and /etc/group;
/// `ls -l` names owners the same way.
#[test]
fn stat_shows_inode_flags_and_owner_names_from_the_image() {
    let whole = fixtures::image("sys-whole-disk");
    let out = snapaudit(&["stat", whole.to_str().unwrap(), "/etc/shadow"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let debugfs = fixtures::run_ok(
        fixtures::tool("debugfs")
            .args(["-R", "stat /etc/shadow"])
            .arg(&whole),
    );
    let oracle = String::from_utf8_lossy(&debugfs.stdout);
    let ino: u32 = oracle
        .split_whitespace()
        .skip_while(|w| *w != "Inode:")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("debugfs prints the inode number");
    assert!(
        text.contains(&format!(" Inode: {ino} ")),
        "{text}\n{oracle}"
    );
    // uid 0 is root; the group is whatever the image's /etc/group names
    // the file's gid (shadow on Debian trees), read here with `cat`.
    let json = snapaudit(&[
        "stat",
        "--format",
        "json",
        whole.to_str().unwrap(),
        "/etc/shadow",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["inode"].as_u64(), Some(u64::from(ino)), "{doc}");
    let gid = doc["gid"].as_u64().unwrap();
    let group_file = snapaudit(&["cat", whole.to_str().unwrap(), "/etc/group"]);
    let group = String::from_utf8(group_file.stdout)
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&gid.to_string().as_str())).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| gid.to_string());
    assert!(
        text.contains(&format!("Uid: 0 (root)   Gid: {gid} ({group})")),
        "{text}"
    );
    let ls = snapaudit(&["ls", "-l", whole.to_str().unwrap(), "/etc/shadow"]);
    let line = String::from_utf8(ls.stdout).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((cols[1], cols[2]), ("root", group.as_str()), "{line}");

    let locked = fixtures::image("sys-shadow-immutable");
    let out = snapaudit(&["stat", locked.to_str().unwrap(), "/etc/shadow"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let flags = text
        .lines()
        .find_map(|l| l.split("Flags: ").nth(1))
        .unwrap_or_else(|| panic!("no Flags line: {text}"));
    assert!(flags.split(',').any(|f| f == "immutable"), "{text}");
    let out = snapaudit(&[
        "stat",
        "--format",
        "json",
        locked.to_str().unwrap(),
        "/etc/shadow",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|v| v == "immutable")),
        "{doc}"
    );
}
