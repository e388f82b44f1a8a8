//! Vendor content: files the package manager installed and nobody changed.
//!
//! A stock Debian system carries private keys that are not secrets
//! (libgnutls' self-test keys, `-----BEGIN … PRIVATE KEY-----` strings in
//! ssh-keygen and openssl, example passwords in Python's standard library).
//! A match in a file whose MD5 equals the digest dpkg recorded when it
//! installed the file is vendor content: reported once per file as `info`.
//! A package file that was modified keeps its full severity.
//!
//! The digests come from `/var/lib/dpkg/info/*.md5sums` (every shipped file
//! but conffiles) and the `Conffiles:` fields of `/var/lib/dpkg/status`
//! (conffiles, as shipped). rpm's database (Berkeley DB, sqlite or ndb
//! under `/var/lib/rpm` or `/usr/lib/sysimage/rpm`) is not read: there is no
//! small, safe parser for it, so on rpm systems every match keeps its full
//! severity.
//!
//! Paths: on usr-merged systems packages still name `/lib/…` or `/bin/…`
//! while the walk finds the file under `/usr/lib/…`; the top-level symlinks
//! of the root directory give those aliases.

use std::collections::HashMap;

use md5::{Digest, Md5};

use super::files::FileData;
use super::md5sums::parse_md5sums;
use crate::ext4::layout::{Follow, Layout, ROOT_INO};

/// Largest md5sums or status file read (a status file of a big system is a
/// few MiB; anything far larger is not dpkg's).
const MAX_DB_FILE_BYTES: u64 = 256 << 20;

/// What dpkg says about installed files.
#[derive(Debug, Default)]
pub(crate) struct VendorDb {
    /// Path as dpkg names it (leading slash) → digest and package index.
    digests: HashMap<Vec<u8>, ([u8; 16], u32)>,
    packages: Vec<String>,
    /// `(physical prefix, dpkg prefix)`: `("/usr/lib/", "/lib/")` when
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
    /// Reads dpkg's database from the filesystem, if it has one.
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
                    db.digests.entry(path).or_insert((line.digest, index));
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
        db
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
            if let (Some(digest), Some(pkg)) = (parse_hex16(hex), package) {
                self.digests.entry(path.to_vec()).or_insert((digest, pkg));
            }
        }
    }

    /// Whether the database lists anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The recorded digest and package of the file at `path` (as the walk
    /// found it), trying the usr-merge aliases.
    pub(crate) fn lookup(&self, path: &str) -> Option<(&[u8; 16], &str)> {
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

    /// Compares a file's content with dpkg's record.
    pub(crate) fn provenance(&self, path: &str, volume: &[u8], data: &FileData) -> Provenance {
        let Some((digest, package)) = self.lookup(path) else {
            return Provenance::Unknown;
        };
        let package = package.to_string();
        if &file_md5(volume, data) == digest {
            Provenance::Vendor { package }
        } else {
            Provenance::Modified { package }
        }
    }
}

/// MD5 of a file's content, holes as zeros.
pub(crate) fn file_md5(volume: &[u8], data: &FileData) -> [u8; 16] {
    let zeros = [0u8; 4096];
    let mut md5 = Md5::new();
    data.for_each_piece(volume, &zeros, &mut |_, bytes| md5.update(bytes));
    md5.finalize().into()
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

fn parse_hex16(hex: &[u8]) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
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
        assert_eq!(digest[0], 0x01);
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
        db.digests
            .insert(b"/lib/x86_64-linux-gnu/libc.so.6".to_vec(), ([7; 16], pkg));
        assert_eq!(
            db.lookup("/usr/lib/x86_64-linux-gnu/libc.so.6")
                .map(|h| h.1),
            Some("libc6")
        );
        assert!(db.lookup("/usr/libexec/x").is_none());
    }

    #[test]
    fn hex_digests_must_be_32_digits() {
        assert!(parse_hex16(b"0123").is_none());
        assert!(parse_hex16(b"0123456789abcdef0123456789abcdeg").is_none());
        assert_eq!(
            parse_hex16(b"000102030405060708090a0b0c0d0e0f").map(|d| d[15]),
            Some(15)
        );
    }
}
