//! rpm's package database, read without rpm or any C library: which files
//! each installed package owns and their digests as shipped, for
//! vendor-content detection (see the `vendor` module).
//!
//! ```text
//! /var/lib/rpm/ or /usr/lib/sysimage/rpm/
//!   rpmdb.sqlite  rpm ≥ 4.16 (Fedora 33+, RHEL 9)        sqlite.rs  ─┐
//!   Packages      rpm ≤ 4.15, Berkeley DB hash (RHEL 7/8) bdb.rs     ├─ header blobs ─ header.rs ─ files, digests
//!   Packages.db   rpm's ndb (SUSE)                         not read  ─┘
//! ```
//!
//! Each parser turns arbitrary bytes into `Err` or a (possibly empty) list
//! of header blobs, never a panic, a hang or an allocation sized by an
//! on-disk number beyond the input's own size; `fuzz/fuzz_targets/rpmdb.rs`
//! checks that. ndb (`Packages.db`) is not read: on such systems (SUSE)
//! every match keeps its severity.

pub mod bdb;
pub mod header;
pub mod sqlite;

pub use header::{DigestAlgo, RPMFILE_CONFIG, RPMFILE_GHOST, RpmFile, RpmHeader, parse_header};

use crate::Result;

/// The on-disk formats of rpm's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFormat {
    /// `rpmdb.sqlite`.
    Sqlite,
    /// `Packages` (Berkeley DB).
    Bdb,
}

impl DbFormat {
    /// The database file of each format, most recent first: an upgraded
    /// system may keep the old file next to the one rpm uses.
    pub const FILES: [(&'static str, DbFormat); 2] = [
        ("rpmdb.sqlite", DbFormat::Sqlite),
        ("Packages", DbFormat::Bdb),
    ];

    /// The format by magic number, whatever the file is called.
    pub fn sniff(bytes: &[u8]) -> Option<DbFormat> {
        if bytes.starts_with(b"SQLite format 3\0") {
            return Some(DbFormat::Sqlite);
        }
        let magic = crate::util::le_u32(bytes, 12)?;
        [0x0006_1561u32, 0x0005_3162]
            .iter()
            .any(|&m| magic == m || magic.swap_bytes() == m)
            .then_some(DbFormat::Bdb)
    }
}

/// Calls `f` with every header blob of a database file.
pub fn for_each_blob(format: DbFormat, bytes: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<()> {
    match format {
        DbFormat::Sqlite => sqlite::for_each_package_blob(bytes, f),
        DbFormat::Bdb => bdb::for_each_package_blob(bytes, f),
    }
}

/// Calls `f` with every installed package of a database file whose header
/// parses (the others are skipped: one bad header does not hide the rest).
pub fn for_each_package(
    format: DbFormat,
    bytes: &[u8],
    f: &mut dyn FnMut(&RpmHeader<'_>),
) -> Result<()> {
    for_each_blob(format, bytes, &mut |blob| {
        if let Ok(header) = parse_header(blob) {
            f(&header);
        }
    })
}

#[cfg(test)]
pub(crate) mod tests;
