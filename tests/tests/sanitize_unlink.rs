//! The sanitizer's metadata edits on filesystems built at test time with
//! `mke2fs -d`, across the layouts the unlink has to get exactly right:
//! ext4 with metadata_csum (4 KiB and 1 KiB blocks, 64bit, meta_bg), ext4
//! with the older gdt_csum (uninit_bg), ext3 and ext2 with indirect block
//! maps; files in a hashed (htree) directory, including one that is the
//! first entry of its directory block; a big file (indirect or extent tree
//! blocks); a file with an extended-attribute block. After every
//! sanitize, `e2fsck -fn` must find nothing to fix. Refusals (hard links,
//! immutable files, bigalloc, quota) are checked to change nothing.

// Test code unwraps: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sanitize_support;

use std::path::Path;

use sanitize_support::*;
use snapaudit::ext4::layout::{Follow, Layout};
use snapaudit::image::Image;
use snapaudit::report::{Finding, Severity};
use snapaudit::sanitize::{Operation, PlanOptions};
use snapaudit_tests::fixtures;

/// Names in /var/many: enough for several htree leaf blocks.
const MANY: usize = 1500;

fn populate(root: &Path) {
    put(root, "/etc/ssh/ssh_host_rsa_key", &filler(1823, 1));
    put(
        root,
        "/etc/ssh/ssh_host_rsa_key.pub",
        b"ssh-rsa AAAA test\n",
    );
    put(root, "/etc/ssh/ssh_host_ed25519_key", &filler(399, 2));
    put(
        root,
        "/etc/machine-id",
        b"0123456789abcdef0123456789abcdef\n",
    );
    put(root, "/etc/hostname", b"unlink-test\n");
    put(root, "/root/.bash_history", &filler(3000, 3));
    put(root, "/var/big/blob", &filler(1_500_000, 4));
    put(root, "/sbin/init", b"#!/bin/sh\n");
    for i in 0..MANY {
        put(
            root,
            &format!("/var/many/entry-with-a-long-name-to-fill-blocks-{i:05}"),
            format!("{i}\n").as_bytes(),
        );
    }
}

fn host_key(path: &str) -> Finding {
    finding("hygiene.ssh-host-keys", Severity::Warning, 0, path)
}

/// Entries of directory `path` with their volume offsets.
fn dir_entries(image: &Path, path: &str) -> (u64, Vec<(String, u64)>) {
    let img = Image::open(image).unwrap();
    let layout = Layout::open(img.bytes()).unwrap();
    let ino = layout.lookup(path, Follow::All).unwrap();
    let entries = layout
        .read_dir(ino)
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                String::from_utf8_lossy(&e.name).into_owned(),
                e.offset_bytes,
            )
        })
        .collect();
    (u64::from(layout.superblock().block_size_bytes()), entries)
}

fn free_counts(image: &Path) -> (u64, u32) {
    let img = Image::open(image).unwrap();
    let layout = Layout::open(img.bytes()).unwrap();
    let sb = layout.superblock();
    (sb.s_free_blocks_count, sb.s_free_inodes_count)
}

/// Delete, truncate and wipe on one filesystem layout; e2fsck must pass.
fn unlink_on(name: &str, mkfs: &[&str]) {
    let fs = build_fs(mkfs, "64M", populate);
    index_dirs(&fs.image);
    assert_fsck_clean(&fs.image, 0, &format!("{name}: the input"));
    let (block_size, many) = dir_entries(&fs.image, "/var/many");
    // One name that starts a directory block (the kernel zeroes its inode
    // instead of merging it into a predecessor) and one in the middle of
    // another block.
    let first_of_block = many
        .iter()
        .find(|(n, off)| off % block_size == 0 && n.starts_with("entry"))
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| panic!("{name}: no entry starts a directory block"));
    let first_block = many
        .iter()
        .find(|(n, _)| *n == first_of_block)
        .map(|(_, o)| o / block_size);
    let middle = many
        .iter()
        .find(|(n, off)| {
            off % block_size != 0 && n.starts_with("entry") && Some(off / block_size) != first_block
        })
        .map(|(n, _)| n.clone())
        .unwrap();
    let deleted = [
        "/etc/ssh/ssh_host_rsa_key".to_string(),
        "/etc/ssh/ssh_host_ed25519_key".to_string(),
        "/var/big/blob".to_string(),
        format!("/var/many/{first_of_block}"),
        format!("/var/many/{middle}"),
    ];
    let mut findings: Vec<Finding> = deleted.iter().map(|p| host_key(p)).collect();
    findings.push(finding(
        "hygiene.machine-id",
        Severity::Warning,
        0,
        "/etc/machine-id",
    ));
    findings.push(finding(
        "hygiene.shell-history",
        Severity::Warning,
        0,
        "/root/.bash_history",
    ));
    let (free_blocks_before, free_inodes_before) = free_counts(&fs.image);
    let input_hash = sha256(&fs.image);

    let done = sanitize(
        &fs.image,
        &report(&fs.image, findings),
        &PlanOptions::default(),
    );
    assert!(
        done.plan.not_fixable.is_empty(),
        "{name}: {:#?}",
        done.plan.not_fixable
    );
    let ops = |op: Operation| done.plan.actions.iter().filter(|a| a.op == op).count();
    assert_eq!(ops(Operation::Delete), 5, "{name}");
    assert_eq!(ops(Operation::Truncate), 1, "{name}");
    assert_eq!(ops(Operation::Wipe), 1, "{name}");
    assert_eq!(sha256(&fs.image), input_hash, "{name}: the input changed");
    assert_fsck_clean(&done.out, 0, name);

    for path in &deleted {
        assert!(!exists(&done.out, 0, path), "{name}: {path} still there");
    }
    // The rest of the hashed directory is intact and found by name (through
    // the htree index, with ext4-view).
    let (_, after) = dir_entries(&done.out, "/var/many");
    assert_eq!(after.len(), many.len() - 2, "{name}");
    for i in [0, MANY / 2, MANY - 1] {
        let path = format!("/var/many/entry-with-a-long-name-to-fill-blocks-{i:05}");
        if !deleted.contains(&path) {
            let content = read_file_view(&done.out, 0, &path)
                .unwrap_or_else(|| read_file(&done.out, 0, &path));
            assert_eq!(content, format!("{i}\n").as_bytes(), "{name}: {path}");
        }
    }
    assert!(
        read_file(&done.out, 0, "/etc/machine-id").is_empty(),
        "{name}"
    );
    let history = read_file(&done.out, 0, "/root/.bash_history");
    assert_eq!(history.len(), 3000, "{name}: size kept");
    assert!(history.iter().all(|&b| b == 0), "{name}: history zeroed");
    assert_eq!(
        read_file(&done.out, 0, "/etc/hostname"),
        b"unlink-test\n",
        "{name}"
    );
    // Counters: five inodes more free, and at least the blob's blocks.
    let (free_blocks_after, free_inodes_after) = free_counts(&done.out);
    assert_eq!(free_inodes_after, free_inodes_before + 5, "{name}");
    let blob_blocks = 1_500_000u64.div_ceil(block_size);
    assert!(
        free_blocks_after >= free_blocks_before + blob_blocks,
        "{name}: {free_blocks_before} -> {free_blocks_after} free blocks"
    );
    // The deleted contents are gone from the raw bytes, not just unlinked.
    for (seed, len) in [(1u64, 1823usize), (4, 1_500_000)] {
        let probe = &filler(len, seed)[..64];
        assert!(
            grep_offsets(&fs.image, probe).len() == 1,
            "{name}: probe in the input"
        );
        assert!(
            grep_offsets(&done.out, probe).is_empty(),
            "{name}: deleted bytes of seed {seed} survive"
        );
    }
}

#[test]
fn unlink_ext4_metadata_csum_4k() {
    unlink_on("ext4 metadata_csum 4k", &["-t", "ext4", "-b", "4096"]);
}

#[test]
fn unlink_ext4_metadata_csum_1k() {
    unlink_on("ext4 metadata_csum 1k", &["-t", "ext4", "-b", "1024"]);
}

#[test]
fn unlink_ext4_64bit() {
    unlink_on("ext4 64bit", &["-t", "ext4", "-O", "64bit"]);
}

#[test]
fn unlink_ext4_meta_bg() {
    unlink_on(
        "ext4 meta_bg",
        &["-t", "ext4", "-b", "1024", "-O", "meta_bg,^resize_inode"],
    );
}

#[test]
fn unlink_ext4_gdt_csum_without_metadata_csum() {
    unlink_on(
        "ext4 uninit_bg",
        &["-t", "ext4", "-O", "^metadata_csum,uninit_bg"],
    );
}

#[test]
fn unlink_ext3_indirect_blocks_4k() {
    unlink_on("ext3 4k", &["-t", "ext3", "-b", "4096"]);
}

#[test]
fn unlink_ext3_indirect_blocks_1k() {
    unlink_on("ext3 1k", &["-t", "ext3", "-b", "1024"]);
}

#[test]
fn unlink_ext2() {
    unlink_on("ext2", &["-t", "ext2"]);
}

/// A file with an extended attribute block (128-byte inodes leave no room
/// in the inode): deleting it frees that block too.
#[test]
fn unlink_frees_the_extended_attribute_block() {
    let fs = build_fs(&["-t", "ext4", "-I", "128"], "32M", populate);
    let target = fs.image.display().to_string();
    let output = fixtures::tool("debugfs")
        .args([
            "-w",
            "-R",
            "ea_set /etc/ssh/ssh_host_rsa_key user.origin built-by-the-test",
            &target,
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let img = Image::open(&fs.image).unwrap();
    let layout = Layout::open(img.bytes()).unwrap();
    let key = layout
        .lookup_inode("/etc/ssh/ssh_host_rsa_key", Follow::All)
        .unwrap();
    assert_ne!(key.i_file_acl, 0, "the attribute went to a block");
    drop(img);
    assert_fsck_clean(&fs.image, 0, "input with an EA block");
    let done = sanitize(
        &fs.image,
        &report(&fs.image, vec![host_key("/etc/ssh/ssh_host_rsa_key")]),
        &PlanOptions::default(),
    );
    assert!(
        done.plan.not_fixable.is_empty(),
        "{:#?}",
        done.plan.not_fixable
    );
    assert_fsck_clean(&done.out, 0, "after deleting a file with an EA block");
    assert!(!exists(&done.out, 0, "/etc/ssh/ssh_host_rsa_key"));
}

/// A file whose extent tree has an index block (the fragmented fixture):
/// deleting it frees the tree block as well as the data.
#[test]
fn unlink_frees_extent_tree_blocks() {
    let image = fixtures::image("dirty-fragmented");
    let meta = fixtures::meta("dirty-fragmented");
    let path = meta.str("frag.path").to_string();
    let start = partition_start(&image, 1);
    let done = sanitize(
        &image,
        &report(
            &image,
            vec![finding(
                "hygiene.ssh-host-keys",
                Severity::Warning,
                1,
                &path,
            )],
        ),
        &PlanOptions::default(),
    );
    let delete = done
        .plan
        .actions
        .iter()
        .find(|a| a.op == Operation::Delete)
        .unwrap();
    // 8 data blocks and the index block.
    assert!(
        delete.description.contains("9 block(s) freed"),
        "{}",
        delete.description
    );
    assert_fsck_clean(&done.out, start, "after deleting a fragmented file");
    assert!(!exists(&done.out, 1, &path));
}

/// Refusals change nothing: hard links, immutable files, bigalloc, quota.
#[test]
fn refused_unlinks_leave_the_filesystem_alone() {
    // A hard-linked key and an immutable one.
    let fs = build_fs(&["-t", "ext4"], "32M", populate);
    let target = fs.image.display().to_string();
    let output = fixtures::tool("debugfs")
        .args(["-w", "-f", "-", &target])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(
                b"ln /etc/ssh/ssh_host_rsa_key /etc/ssh/second-name\n\
                      sif /etc/ssh/ssh_host_rsa_key links_count 2\n\
                      sif /etc/ssh/ssh_host_ed25519_key flags 0x80010\n",
            )?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(output.status.success());
    assert_fsck_clean(&fs.image, 0, "hard link + immutable input");
    let done = sanitize(
        &fs.image,
        &report(
            &fs.image,
            vec![
                host_key("/etc/ssh/ssh_host_rsa_key"),
                host_key("/etc/ssh/ssh_host_ed25519_key"),
            ],
        ),
        &PlanOptions::default(),
    );
    let reasons: Vec<&str> = done
        .plan
        .not_fixable
        .iter()
        .map(|n| n.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("hard links")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("immutable")),
        "{reasons:?}"
    );
    assert!(exists(&done.out, 0, "/etc/ssh/ssh_host_rsa_key"));
    assert!(exists(&done.out, 0, "/etc/ssh/ssh_host_ed25519_key"));
    assert_fsck_clean(&done.out, 0, "after refusals");

    for (what, mkfs) in [
        (
            "bigalloc",
            &["-t", "ext4", "-O", "bigalloc", "-C", "16384"][..],
        ),
        ("quota", &["-t", "ext4", "-O", "quota"][..]),
    ] {
        let fs = build_fs(mkfs, "64M", populate);
        // mke2fs -d leaves quota usage to e2fsck.
        index_dirs(&fs.image);
        let done = sanitize(
            &fs.image,
            &report(
                &fs.image,
                vec![
                    host_key("/etc/ssh/ssh_host_rsa_key"),
                    finding(
                        "hygiene.shell-history",
                        Severity::Warning,
                        0,
                        "/root/.bash_history",
                    ),
                ],
            ),
            &PlanOptions::default(),
        );
        assert_eq!(
            done.plan.not_fixable.len(),
            1,
            "{what}: {:#?}",
            done.plan.not_fixable
        );
        assert!(
            done.plan.not_fixable[0].reason.contains(what),
            "{what}: {}",
            done.plan.not_fixable[0].reason
        );
        assert!(exists(&done.out, 0, "/etc/ssh/ssh_host_rsa_key"), "{what}");
        // Wiping is a data-only change and works everywhere.
        assert!(
            read_file(&done.out, 0, "/root/.bash_history")
                .iter()
                .all(|&b| b == 0),
            "{what}"
        );
        assert_fsck_clean(&done.out, 0, what);
    }
}

/// inline_data: the content is in the inode, so every change is an inode
/// change with its checksum recomputed.
#[test]
fn inline_data_files_are_changed_in_their_inode() {
    let fs = build_fs(&["-t", "ext4", "-O", "inline_data"], "32M", |root| {
        populate(root);
        put(root, "/etc/ssh/ssh_host_ed25519_key", &filler(90, 9));
        put(
            root,
            "/root/.bash_history",
            b"mysql -u root -pnot-a-real-secret\n",
        );
        put(
            root,
            "/etc/fstab",
            b"UUID=x / ext4 defaults 0 1\n/dev/vdb1 /data ext4 defaults 0 2\n",
        );
        put(root, "/opt/app.env", b"TOKEN=abcdefghijklmnopqrstuvwxyz\n");
    });
    let img = Image::open(&fs.image).unwrap();
    let layout = Layout::open(img.bytes()).unwrap();
    for p in [
        "/etc/machine-id",
        "/etc/ssh/ssh_host_ed25519_key",
        "/root/.bash_history",
        "/etc/fstab",
        "/opt/app.env",
    ] {
        assert!(
            layout
                .lookup_inode(p, Follow::All)
                .unwrap()
                .has_inline_data(),
            "{p} inline"
        );
    }
    drop(img);
    let mut token = secret_finding(&fs.image, 0, "secret.token", "/opt/app.env", 6, 26);
    token.location.line = Some(1);
    let mut fstab = finding("fstab.data-disk", Severity::Error, 0, "/etc/fstab");
    fstab.location.line = Some(2);
    let findings = vec![
        host_key("/etc/ssh/ssh_host_ed25519_key"),
        finding(
            "hygiene.machine-id",
            Severity::Warning,
            0,
            "/etc/machine-id",
        ),
        finding(
            "hygiene.shell-history",
            Severity::Warning,
            0,
            "/root/.bash_history",
        ),
        fstab,
        token,
    ];
    let done = sanitize(
        &fs.image,
        &report(&fs.image, findings),
        &PlanOptions::default(),
    );
    assert!(
        done.plan.not_fixable.is_empty(),
        "{:#?}",
        done.plan.not_fixable
    );
    assert_fsck_clean(&done.out, 0, "inline_data");
    assert!(!exists(&done.out, 0, "/etc/ssh/ssh_host_ed25519_key"));
    assert!(read_file(&done.out, 0, "/etc/machine-id").is_empty());
    let history = read_file(&done.out, 0, "/root/.bash_history");
    assert_eq!(history.len(), 34);
    assert!(history.iter().all(|&b| b == 0));
    assert_eq!(
        read_file(&done.out, 0, "/etc/fstab"),
        b"UUID=x / ext4 defaults 0 1\n#dev/vdb1 /data ext4 defaults 0 2\n"
    );
    assert_eq!(
        read_file(&done.out, 0, "/opt/app.env"),
        b"TOKEN=**************************\n"
    );
}
