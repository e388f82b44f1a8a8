//! An rpm header as the package database stores it: no lead and no
//! header magic, just
//!
//! ```text
//! be32 il, be32 dl, il × { be32 tag, be32 type, be32 offset, be32 count }, dl bytes of data
//! ```
//!
//! Only the tags vendor-content detection needs are read: the package name,
//! the compressed file list (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`, or
//! the pre-4.0 `OLDFILENAMES`), the per-file digests (hex strings, empty for
//! anything but a regular file), their algorithm and the file flags.

use crate::{Error, Result};

const TAG_NAME: u32 = 1000;
const TAG_OLDFILENAMES: u32 = 1027;
const TAG_FILEDIGESTS: u32 = 1035;
const TAG_FILEFLAGS: u32 = 1037;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;
const TAG_FILEDIGESTALGO: u32 = 5011;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's own limits (`hdrchkTags`, `hdrchkData`): more is not a header.
const MAX_INDEX_ENTRIES: usize = 0xffff;
const MAX_DATA_BYTES: usize = 256 << 20;

/// `RPMFILE_CONFIG`: `%config` files, whose digest is that of the file as
/// shipped (like dpkg's conffiles).
pub const RPMFILE_CONFIG: u32 = 1 << 0;
/// `RPMFILE_GHOST`: listed but not shipped (its content is not the
/// package's).
pub const RPMFILE_GHOST: u32 = 1 << 6;

/// The digest algorithm of a package's `FILEDIGESTS` (`FILEDIGESTALGO`,
/// OpenPGP hash algorithm numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgo {
    /// 1, or no `FILEDIGESTALGO` tag (rpm < 4.6 and RHEL 5 packages).
    Md5,
    /// 8: RHEL 6 and later.
    Sha256,
    /// 9.
    Sha384,
    /// 10.
    Sha512,
}

impl DigestAlgo {
    /// The algorithm of a `FILEDIGESTALGO` value; `None` for the ones
    /// snapaudit does not compute (SHA-1, RIPEMD-160, …).
    pub fn from_pgp(value: u32) -> Option<DigestAlgo> {
        match value {
            1 => Some(DigestAlgo::Md5),
            8 => Some(DigestAlgo::Sha256),
            9 => Some(DigestAlgo::Sha384),
            10 => Some(DigestAlgo::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn len_bytes(self) -> usize {
        match self {
            DigestAlgo::Md5 => 16,
            DigestAlgo::Sha256 => 32,
            DigestAlgo::Sha384 => 48,
            DigestAlgo::Sha512 => 64,
        }
    }
}

/// One file of an installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile<'h> {
    /// Directory part as stored (ends with `/`).
    pub dirname: &'h [u8],
    /// File name part (the whole path for `OLDFILENAMES`).
    pub basename: &'h [u8],
    /// Hex digest; empty for directories, symlinks, devices.
    pub digest_hex: &'h [u8],
    /// `FILEFLAGS` (0 when the tag is absent).
    pub flags: u32,
}

impl RpmFile<'_> {
    /// `dirname + basename`.
    pub fn path(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.dirname.len() + self.basename.len());
        p.extend_from_slice(self.dirname);
        p.extend_from_slice(self.basename);
        p
    }
}

/// The parts of an rpm header vendor detection reads, borrowed from the
/// blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmHeader<'h> {
    /// `NAME`.
    pub name: &'h [u8],
    /// `None` when `FILEDIGESTALGO` names an algorithm not computed here:
    /// the package's files are then of unknown provenance.
    pub digest_algo: Option<DigestAlgo>,
    /// Every file, in header order.
    pub files: Vec<RpmFile<'h>>,
}

/// One index entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: usize,
}

/// A parsed index over the data store.
struct Index<'h> {
    entries: Vec<Entry>,
    data: &'h [u8],
    /// Where the data store starts in the blob (for error offsets).
    data_start: usize,
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    crate::util::be_u32(b, off)
}

impl<'h> Index<'h> {
    fn parse(blob: &'h [u8]) -> Result<Index<'h>> {
        let il =
            be32(blob, 0).ok_or_else(|| Error::corrupt(0, "rpm header: shorter than 8 bytes"))?;
        let dl =
            be32(blob, 4).ok_or_else(|| Error::corrupt(0, "rpm header: shorter than 8 bytes"))?;
        let il = usize::try_from(il).unwrap_or(usize::MAX);
        let dl = usize::try_from(dl).unwrap_or(usize::MAX);
        if il == 0 || il > MAX_INDEX_ENTRIES || dl > MAX_DATA_BYTES {
            return Err(Error::corrupt(
                0,
                format!("rpm header: il {il}, dl {dl} out of range"),
            ));
        }
        let data_start = il
            .checked_mul(16)
            .and_then(|n| n.checked_add(8))
            .ok_or_else(|| Error::corrupt(0, "rpm header: index size overflows"))?;
        let data = data_start
            .checked_add(dl)
            .and_then(|end| blob.get(data_start..end))
            .ok_or_else(|| {
                Error::corrupt(
                    0,
                    format!(
                        "rpm header: {il} entries and {dl} data bytes exceed the {}-byte blob",
                        blob.len()
                    ),
                )
            })?;
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 8 + i * 16; // < data_start, which was checked
            let field = |k: usize| be32(blob, at + 4 * k).unwrap_or(0);
            let offset = usize::try_from(field(2)).unwrap_or(usize::MAX);
            let count = usize::try_from(field(3)).unwrap_or(usize::MAX);
            entries.push(Entry {
                tag: field(0),
                kind: field(1),
                offset,
                count,
            });
        }
        Ok(Index {
            entries,
            data,
            data_start,
        })
    }

    fn find(&self, tag: u32) -> Option<Entry> {
        self.entries.iter().copied().find(|e| e.tag == tag)
    }

    fn bad(&self, e: Entry, what: &str) -> Error {
        Error::corrupt(
            self.data_start.saturating_add(e.offset) as u64,
            format!("rpm header: tag {} {what}", e.tag),
        )
    }

    /// `count` NUL-terminated strings from the entry's offset.
    fn strings(&self, e: Entry) -> Result<Vec<&'h [u8]>> {
        if !matches!(e.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(self.bad(e, "is not a string type"));
        }
        let mut rest = self
            .data
            .get(e.offset..)
            .ok_or_else(|| self.bad(e, "offset past the data"))?;
        // Each string takes at least its NUL: a count beyond the bytes left
        // is corrupt, and this bounds the allocation.
        if e.count > rest.len() {
            return Err(self.bad(e, "count exceeds the data"));
        }
        let mut out = Vec::with_capacity(e.count);
        for _ in 0..e.count {
            let nul = memchr::memchr(0, rest).ok_or_else(|| self.bad(e, "string without NUL"))?;
            out.push(rest.get(..nul).unwrap_or_default());
            rest = rest.get(nul + 1..).unwrap_or_default();
        }
        Ok(out)
    }

    fn string(&self, e: Entry) -> Result<&'h [u8]> {
        self.strings(Entry { count: 1, ..e })?
            .first()
            .copied()
            .ok_or_else(|| self.bad(e, "empty"))
    }

    fn int32s(&self, e: Entry) -> Result<Vec<u32>> {
        if e.kind != TYPE_INT32 {
            return Err(self.bad(e, "is not INT32"));
        }
        let bytes = e
            .count
            .checked_mul(4)
            .and_then(|n| e.offset.checked_add(n))
            .and_then(|end| self.data.get(e.offset..end))
            .ok_or_else(|| self.bad(e, "INT32 array past the data"))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Parses the tags vendor detection needs from a header blob. A package
/// without files gives an empty `files`.
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader<'_>> {
    let index = Index::parse(blob)?;
    let name_entry = index
        .find(TAG_NAME)
        .ok_or_else(|| Error::corrupt(0, "rpm header: no NAME"))?;
    let name = index.string(name_entry)?;
    let digest_algo = match index.find(TAG_FILEDIGESTALGO) {
        None => Some(DigestAlgo::Md5),
        Some(e) => index
            .int32s(e)?
            .first()
            .map_or(Some(DigestAlgo::Md5), |&v| DigestAlgo::from_pgp(v)),
    };
    let get_strings = |tag| index.find(tag).map(|e| index.strings(e)).transpose();
    let digests = get_strings(TAG_FILEDIGESTS)?.unwrap_or_default();
    let flags = match index.find(TAG_FILEFLAGS) {
        Some(e) => index.int32s(e)?,
        None => Vec::new(),
    };
    let mut files = Vec::new();
    if let Some(basenames) = get_strings(TAG_BASENAMES)? {
        let dirnames = get_strings(TAG_DIRNAMES)?.unwrap_or_default();
        let dirindexes = match index.find(TAG_DIRINDEXES) {
            Some(e) => index.int32s(e)?,
            None => Vec::new(),
        };
        if dirindexes.len() != basenames.len() {
            return Err(Error::corrupt(
                0,
                format!(
                    "rpm header {}: {} basenames but {} dirindexes",
                    String::from_utf8_lossy(name),
                    basenames.len(),
                    dirindexes.len()
                ),
            ));
        }
        files.reserve(basenames.len());
        for (i, (basename, &dir)) in basenames.iter().zip(&dirindexes).enumerate() {
            let dirname = usize::try_from(dir)
                .ok()
                .and_then(|d| dirnames.get(d))
                .ok_or_else(|| {
                    Error::corrupt(0, format!("rpm header: dirindex {dir} out of range"))
                })?;
            files.push(RpmFile {
                dirname,
                basename,
                digest_hex: digests.get(i).copied().unwrap_or_default(),
                flags: flags.get(i).copied().unwrap_or(0),
            });
        }
    } else if let Some(paths) = get_strings(TAG_OLDFILENAMES)? {
        files.reserve(paths.len());
        for (i, path) in paths.iter().enumerate() {
            files.push(RpmFile {
                dirname: b"",
                basename: path,
                digest_hex: digests.get(i).copied().unwrap_or_default(),
                flags: flags.get(i).copied().unwrap_or(0),
            });
        }
    }
    Ok(RpmHeader {
        name,
        digest_algo,
        files,
    })
}
