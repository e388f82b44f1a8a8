//! Small filesystem images built at test time with `mke2fs -d` from a
//! temporary tree that looks like a tiny system (usr-merge symlinks, an
//! /etc with secrets-shaped files, a big file, a sparse file, a large
//! directory, symlink loops).

use std::path::{Path, PathBuf};

use super::e2fs;

/// A built image and the tree it was made from.
#[derive(Debug)]
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub image: PathBuf,
    pub root: PathBuf,
}

/// Deterministic filler bytes (xorshift), so contents differ block to block.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// What to put in the tree besides the common files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Put the sparse file's data this far in (bytes).
    pub sparse_offset_bytes: u64,
    /// Entries in /var/many (enough for e2fsck -D to make an htree).
    pub many_entries: usize,
    /// Run `e2fsck -fyD` to index directories.
    pub index_dirs: bool,
}

fn populate(root: &Path, extras: Extras) {
    let w = |path: &str, bytes: &[u8]| {
        let full = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, bytes).expect("write");
    };
    let symlink = |target: &str, link: &str| {
        let full = root.join(link.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, full).expect("symlink");
    };
    w("/etc/hostname", b"fixture\n");
    w("/etc/shadow", b"root:*:19000:0:99999:7:::\n");
    w("/etc/ssh/ssh_host_ed25519_key", &pseudo_random(411, 7));
    w("/usr/lib/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
    w("/usr/bin/big", &pseudo_random(1_500_000, 42));
    w("/usr/bin/empty", b"");
    w("/usr/sbin/init", &pseudo_random(5000, 3));
    symlink("usr/bin", "/bin");
    symlink("usr/sbin", "/sbin");
    symlink("usr/lib", "/lib");
    symlink("../usr/lib/os-release", "/etc/os-release");
    symlink("/usr/lib/os-release", "/etc/abs-os-release");
    symlink("../../../../etc/hostname", "/etc/dotdot-hostname");
    symlink("loop2", "/loop1");
    symlink("loop1", "/loop2");
    symlink("/usr/lib", "/etc/libdir");
    // Longer than 60 bytes: stored in a block, not in i_block.
    let long_target = format!("/usr/{}/../lib/os-release", "x".repeat(70));
    symlink(&long_target, "/etc/long-link");
    std::fs::create_dir_all(root.join(format!("usr/{}", "x".repeat(70)))).expect("mkdir");
    if extras.sparse_offset_bytes > 0 {
        let path = root.join("var/sparse");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let file = std::fs::File::create(&path).expect("create sparse");
        file.set_len(extras.sparse_offset_bytes).expect("set_len");
        use std::io::{Seek, SeekFrom, Write};
        let mut file = file;
        file.seek(SeekFrom::Start(extras.sparse_offset_bytes))
            .expect("seek");
        file.write_all(b"tail of a sparse file")
            .expect("write tail");
    }
    for i in 0..extras.many_entries {
        w(
            &format!("/var/many/entry-with-a-longish-name-{i:05}"),
            format!("{i}\n").as_bytes(),
        );
    }
}

impl Fixture {
    /// Build an image of `size` (mke2fs syntax) with `mkfs_args`, or `None`
    /// (with a message) when e2fsprogs is not installed.
    pub fn build(test: &str, mkfs_args: &[&str], size: &str, extras: Extras) -> Option<Fixture> {
        if !e2fs::available(test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("mkdir root");
        populate(&root, extras);
        let image = dir.path().join("fs.img");
        let root_arg = root.to_string_lossy().into_owned();
        let image_arg = image.to_string_lossy().into_owned();
        let mut args: Vec<&str> = vec!["-q", "-F", "-o", "Linux", "-E", "root_owner=0:0"];
        args.extend_from_slice(mkfs_args);
        args.extend_from_slice(&["-d", &root_arg, &image_arg, size]);
        e2fs::run("mke2fs", &args);
        if extras.index_dirs {
            // e2fsck exits 1 when it optimized something.
            let status = std::process::Command::new(e2fs::tool("e2fsck").expect("e2fsck"))
                .args(["-fyD", &image_arg])
                .output()
                .expect("run e2fsck");
            assert!(
                matches!(status.status.code(), Some(0 | 1)),
                "e2fsck -fyD failed"
            );
        }
        Some(Fixture {
            _dir: dir,
            image,
            root,
        })
    }

    /// Apply `debugfs -w` requests.
    pub fn debugfs_write(&self, requests: &[&str]) {
        let requests: Vec<String> = requests.iter().map(|r| (*r).to_string()).collect();
        e2fs::debugfs_batch(&self.image, &requests, true);
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.image).expect("read image")
    }
}
