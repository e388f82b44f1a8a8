//! Vendor content: files the package manager installed and nobody changed.
//!
//! A stock system carries private keys that are not secrets (libgnutls'
//! and openssl's self-test keys, `-----BEGIN … PRIVATE KEY-----` strings in
//! ssh-keygen, example passwords in Python's standard library). A match in
//! a file whose digest equals the one the package manager recorded when it
//! installed the file is vendor content: reported once per file as `info`.
//! A package file that was modified keeps its full severity.
//!
//! Two databases are read, both if present:
//!
//! - dpkg: `/var/lib/dpkg/info/*.md5sums` (every shipped file but
//!   conffiles) and the `Conffiles:` fields of `/var/lib/dpkg/status`
//!   (conffiles, as shipped). MD5.
//! - rpm, under `/var/lib/rpm/` or `/usr/lib/sysimage/rpm/` (either may be
//!   a symlink to the other): `rpmdb.sqlite` (rpm ≥ 4.16) or the Berkeley
//!   DB `Packages` (rpm ≤ 4.15: RHEL/CentOS 7 and 8, Alibaba Cloud Linux 2
//!   and 3), read by the [`rpmdb`](super::rpmdb) module. Each package names
//!   its digest algorithm (MD5 before RHEL 6, SHA-256 since; SHA-384/512
//!   are computed too; files of a package with any other algorithm are of
//!   unknown provenance). `%config` files carry the digest as shipped, like
//!   dpkg conffiles; `%ghost` files and anything but regular files (empty
//!   digest) are not listed. rpm's ndb (`Packages.db`, SUSE) and the sqlite
//!   write-ahead log are not read.
//!
//! The databases are read once per filesystem, when the first match in it
//! needs them (`scan/run.rs` keeps a `OnceLock<VendorDb>` per filesystem).
//!
//! Paths: on usr-merged systems packages still name `/lib/…` or `/bin/…`
//! while the walk finds the file under `/usr/lib/…`; the top-level symlinks
//! of the root directory give those aliases.

use std::collections::HashMap;

use md5::{Digest, Md5};
use sha2::{Sha256, Sha384, Sha512};

use super::files::FileData;
use super::md5sums::parse_md5sums;
use super::rpmdb::{self, DbFormat, DigestAlgo, RPMFILE_GHOST};
use crate::ext4::layout::{Follow, Layout, ROOT_INO};
use crate::util::hex_bytes;

/// Largest md5sums or status file read (a status file of a big system is a
/// few MiB; anything far larger is not dpkg's).
const MAX_DB_FILE_BYTES: u64 = 256 << 20;

/// Largest rpm database read: a big RHEL system's `Packages` is 100–200
/// MiB (BDB leaves free pages in place).
const MAX_RPMDB_BYTES: u64 = 512 << 20;

/// Where rpm keeps its database: the classic path and the one of rpm ≥ 4.16
/// on Fedora/SUSE (each is often a symlink to the other).
const RPMDB_DIRS: [&str; 2] = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"];

/// A file's digest as its package database recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileDigest {
    Md5([u8; 16]),
    Sha256([u8; 32]),
    Sha384([u8; 48]),
    Sha512([u8; 64]),
}

impl FileDigest {
    /// Parses `hex` as a digest of `algo`; `None` when the length or a
    /// digit is wrong.
    pub(crate) fn from_hex(algo: DigestAlgo, hex: &[u8]) -> Option<FileDigest> {
        Some(match algo {
            DigestAlgo::Md5 => FileDigest::Md5(hex_bytes(hex)?),
            DigestAlgo::Sha256 => FileDigest::Sha256(hex_bytes(hex)?),
            DigestAlgo::Sha384 => FileDigest::Sha384(hex_bytes(hex)?),
            DigestAlgo::Sha512 => FileDigest::Sha512(hex_bytes(hex)?),
        })
    }

    /// Whether a file's content (holes as zeros) has this digest.
    pub(crate) fn matches(&self, volume: &[u8], data: &FileData) -> bool {
        fn of<D: Digest>(volume: &[u8], data: &FileData) -> Vec<u8> {
            let zeros = [0u8; 4096];
            let mut d = D::new();
            data.for_each_piece(volume, &zeros, &mut |_, bytes| d.update(bytes));
            d.finalize().to_vec()
        }
        match self {
            FileDigest::Md5(want) => of::<Md5>(volume, data) == want,
            FileDigest::Sha256(want) => of::<Sha256>(volume, data) == want,
            FileDigest::Sha384(want) => of::<Sha384>(volume, data) == want,
            FileDigest::Sha512(want) => of::<Sha512>(volume, data) == want,
        }
    }
}

/// What dpkg and rpm say about installed files.
#[derive(Debug, Default)]
pub(crate) struct VendorDb {
    /// Path as the package names it (leading slash) → digest and package
    /// index.
    digests: HashMap<Vec<u8>, (FileDigest, u32)>,
    packages: Vec<String>,
    /// `(physical prefix, package prefix)`: `("/usr/lib/", "/lib/")` when
    /// `/lib` is a symlink to `usr/lib`.
    aliases: Vec<(String, String)>,
}

/// What a file's digest says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// Not a file of any package (or no package database).
    Unknown,
    /// Installed by `package` and unchanged.
    Vendor { package: String },
    /// Installed by `package`, then modified.
    Modified { package: String },
}

impl VendorDb {
    /// Reads dpkg's and rpm's databases from the filesystem, if it has
    /// them.
    pub(crate) fn load(layout: &Layout<'_>) -> VendorDb {
        let mut db = VendorDb {
            aliases: root_aliases(layout),
            ..VendorDb::default()
        };
        if let Ok(info) = layout.lookup("/var/lib/dpkg/info", Follow::All) {
            let mut entries = layout.read_dir(info).unwrap_or_default();
            // Sorted so that a path listed by two packages resolves the same
            // way every time.
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            for entry in entries {
                let Some(stem) = entry.name.strip_suffix(b".md5sums") else {
                    continue;
                };
                let Some(text) = read_file(layout, entry.ino) else {
                    continue;
                };
                let package = String::from_utf8_lossy(stem).into_owned();
                let index = db.add_package(package);
                for line in parse_md5sums(&text).flatten() {
                    let mut path = Vec::with_capacity(line.path.len() + 1);
                    path.push(b'/');
                    path.extend_from_slice(line.path);
                    db.digests
                        .entry(path)
                        .or_insert((FileDigest::Md5(line.digest), index));
                }
            }
        }
        if let Some(status) = layout
            .lookup("/var/lib/dpkg/status", Follow::All)
            .ok()
            .and_then(|ino| read_file(layout, ino))
        {
            db.add_conffiles(&status);
        }
        db.add_rpmdb(layout);
        db
    }

    /// The first rpm database found that lists a package: `rpmdb.sqlite`
    /// before `Packages` (an upgraded system may keep the stale BDB file).
    fn add_rpmdb(&mut self, layout: &Layout<'_>) {
        for dir in RPMDB_DIRS {
            for (name, format) in DbFormat::FILES {
                let Some(bytes) = layout
                    .lookup(format!("{dir}/{name}"), Follow::All)
                    .ok()
                    .and_then(|ino| read_file_limited(layout, ino, MAX_RPMDB_BYTES))
                else {
                    continue;
                };
                if self.add_rpm_packages(format, &bytes) > 0 {
                    return;
                }
            }
        }
    }

    /// Adds the files of every package of an rpm database file; returns
    /// the number of packages.
    fn add_rpm_packages(&mut self, format: DbFormat, bytes: &[u8]) -> usize {
        let mut packages = 0;
        let _ = rpmdb::for_each_package(format, bytes, &mut |header| {
            packages += 1;
            let Some(algo) = header.digest_algo else {
                return;
            };
            let index = self.add_package(String::from_utf8_lossy(header.name).into_owned());
            for file in &header.files {
                if file.digest_hex.is_empty() || file.flags & RPMFILE_GHOST != 0 {
                    continue;
                }
                let Some(digest) = FileDigest::from_hex(algo, file.digest_hex) else {
                    continue;
                };
                self.digests.entry(file.path()).or_insert((digest, index));
            }
        });
        packages
    }

    fn add_package(&mut self, name: String) -> u32 {
        self.packages.push(name);
        u32::try_from(self.packages.len() - 1).unwrap_or(u32::MAX)
    }

    /// The `Conffiles:` fields of a dpkg status file: continuation lines
    /// ` /etc/path <md5> [obsolete|newconffile]` after `Conffiles:`, in the
    /// stanza of `Package: name`.
    fn add_conffiles(&mut self, status: &[u8]) {
        let mut package: Option<u32> = None;
        let mut in_conffiles = false;
        for line in status.split(|&b| b == b'\n') {
            if line.is_empty() {
                package = None;
                in_conffiles = false;
                continue;
            }
            if let Some(name) = line.strip_prefix(b"Package:") {
                let name = String::from_utf8_lossy(name).trim().to_string();
                package = Some(self.add_package(name));
                in_conffiles = false;
                continue;
            }
            if line.starts_with(b"Conffiles:") {
                in_conffiles = true;
                continue;
            }
            if !line.starts_with(b" ") {
                in_conffiles = false;
                continue;
            }
            if !in_conffiles {
                continue;
            }
            let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
            let (Some(path), Some(hex)) = (fields.next(), fields.next()) else {
                continue;
            };
            if fields.next() == Some(b"obsolete") {
                continue;
            }
            if let (Some(digest), Some(pkg)) = (hex_bytes::<16>(hex), package) {
                self.digests
                    .entry(path.to_vec())
                    .or_insert((FileDigest::Md5(digest), pkg));
            }
        }
    }

    /// Whether the database lists anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The recorded digest and package of the file at `path` (as the walk
    /// found it), trying the usr-merge aliases.
    pub(crate) fn lookup(&self, path: &str) -> Option<(&FileDigest, &str)> {
        let found = |p: &[u8]| {
            self.digests.get(p).map(|(d, i)| {
                (
                    d,
                    self.packages.get(*i as usize).map_or("?", String::as_str),
                )
            })
        };
        if let Some(hit) = found(path.as_bytes()) {
            return Some(hit);
        }
        self.aliases.iter().find_map(|(physical, named)| {
            let rest = path.strip_prefix(physical.as_str())?;
            found(format!("{named}{rest}").as_bytes())
        })
    }

    /// Compares a file's content with its package's record, in the
    /// algorithm the record uses.
    pub(crate) fn provenance(&self, path: &str, volume: &[u8], data: &FileData) -> Provenance {
        let Some((digest, package)) = self.lookup(path) else {
            return Provenance::Unknown;
        };
        let package = package.to_string();
        if digest.matches(volume, data) {
            Provenance::Vendor { package }
        } else {
            Provenance::Modified { package }
        }
    }
}

/// A whole small file (at most [`MAX_DB_FILE_BYTES`]), holes as zeros.
pub(crate) fn read_file(layout: &Layout<'_>, ino: u32) -> Option<Vec<u8>> {
    read_file_limited(layout, ino, MAX_DB_FILE_BYTES)
}

/// A whole regular file of at most `max_bytes`, holes as zeros.
pub(crate) fn read_file_limited(layout: &Layout<'_>, ino: u32, max_bytes: u64) -> Option<Vec<u8>> {
    let inode = layout.inode(ino).ok()?;
    if !inode.is_regular() || inode.i_size > max_bytes {
        return None;
    }
    let data = FileData::of(layout, &inode).ok()?;
    let mut out = Vec::with_capacity(usize::try_from(inode.i_size).ok()?);
    let zeros = [0u8; 4096];
    data.for_each_piece(layout.volume(), &zeros, &mut |_, bytes| {
        out.extend_from_slice(bytes)
    });
    out.truncate(usize::try_from(inode.i_size).ok()?);
    Some(out)
}

/// `(physical prefix, link prefix)` for each top-level symlink to a
/// directory: `/lib -> usr/lib` gives `("/usr/lib/", "/lib/")`.
fn root_aliases(layout: &Layout<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in layout.read_dir(ROOT_INO).unwrap_or_default() {
        if entry.file_type != crate::ext4::layout::file_type::SYMLINK {
            continue;
        }
        let Ok(inode) = layout.inode(entry.ino) else {
            continue;
        };
        let Ok(target) = layout.read_link(&inode) else {
            continue;
        };
        let target = String::from_utf8_lossy(&target);
        let target = target.trim_start_matches("./").trim_matches('/');
        if target.is_empty() || target.split('/').any(|c| c == ".." || c == ".") {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.name);
        out.push((format!("/{target}/"), format!("/{name}/")));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conffiles_come_from_the_status_stanzas() {
        let status = b"Package: openssh-server\nStatus: install ok installed\nConffiles:\n /etc/ssh/moduli 0123456789abcdef0123456789abcdef\n /etc/old.conf 0123456789abcdef0123456789abcdef obsolete\nDescription: x\n more text /etc/not 0123456789abcdef0123456789abcdef\n\nPackage: base-files\nConffiles:\n /etc/issue ffffffffffffffffffffffffffffffff\n";
        let mut db = VendorDb::default();
        db.add_conffiles(status);
        let (digest, package) = db.lookup("/etc/ssh/moduli").expect("listed");
        assert_eq!(package, "openssh-server");
        assert!(matches!(digest, FileDigest::Md5(d) if d[0] == 0x01));
        assert!(db.lookup("/etc/old.conf").is_none(), "obsolete");
        assert!(db.lookup("/etc/not").is_none(), "not a conffile line");
        assert_eq!(db.lookup("/etc/issue").map(|h| h.1), Some("base-files"));
    }

    #[test]
    fn usr_merge_aliases_find_the_dpkg_name() {
        let mut db = VendorDb {
            aliases: vec![("/usr/lib/".into(), "/lib/".into())],
            ..VendorDb::default()
        };
        let pkg = db.add_package("libc6".into());
        db.digests.insert(
            b"/lib/x86_64-linux-gnu/libc.so.6".to_vec(),
            (FileDigest::Md5([7; 16]), pkg),
        );
        assert_eq!(
            db.lookup("/usr/lib/x86_64-linux-gnu/libc.so.6")
                .map(|h| h.1),
            Some("libc6")
        );
        assert!(db.lookup("/usr/libexec/x").is_none());
    }

    #[test]
    fn hex_digests_must_be_32_digits() {
        assert!(hex_bytes::<16>(b"0123").is_none());
        assert!(hex_bytes::<16>(b"0123456789abcdef0123456789abcdeg").is_none());
        assert_eq!(
            hex_bytes::<16>(b"000102030405060708090a0b0c0d0e0f").map(|d| d[15]),
            Some(15)
        );
    }

    #[test]
    fn rpm_packages_give_sha256_digests_by_path() {
        let root = crate::scan::rpmdb::tests::fixture().join("root");
        let bytes = std::fs::read(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
        let mut db = VendorDb {
            aliases: vec![("/usr/lib/".into(), "/lib/".into())],
            ..VendorDb::default()
        };
        assert_eq!(db.add_rpm_packages(DbFormat::Sqlite, &bytes), 25);
        // rpm names /lib/…; the walk of a usr-merged tree finds /usr/lib/….
        let (digest, package) = db.lookup("/usr/lib/sa-selftest/selftest.pem").unwrap();
        assert_eq!(package, "sa-selftest");
        let content = std::fs::read(root.join("lib/sa-selftest/selftest.pem")).unwrap();
        let want: [u8; 32] = Sha256::digest(&content).into();
        assert_eq!(digest, &FileDigest::Sha256(want));
        let (_, package) = db.lookup("/etc/sa-selftest/sa.conf").expect("%config file");
        assert_eq!(package, "sa-selftest");
        assert!(
            db.lookup("/usr/share/sa-selftest/link.pem").is_none(),
            "symlink"
        );
        assert!(
            db.lookup("/usr/share/sa-selftest/data").is_none(),
            "directory"
        );
        assert!(db.lookup("/usr/share/sa-filler-7/f2").is_some());
    }

    #[test]
    fn digests_parse_by_algorithm_length() {
        let hex64 = b"00".repeat(32);
        assert!(matches!(
            FileDigest::from_hex(DigestAlgo::Sha256, &hex64),
            Some(FileDigest::Sha256(_))
        ));
        assert!(FileDigest::from_hex(DigestAlgo::Md5, &hex64).is_none());
        assert!(FileDigest::from_hex(DigestAlgo::Sha512, &hex64).is_none());
        assert!(FileDigest::from_hex(DigestAlgo::Sha384, &b"0g".repeat(48)).is_none());
        assert!(FileDigest::from_hex(DigestAlgo::Sha384, &b"0f".repeat(48)).is_some());
    }
}
