//! A tar archive holding one disk image: find its one non-empty regular
//! file and write it, holes and all, into a sink.
//!
//! Spec: POSIX.1-2001 `pax` (ustar headers, `x`/`g` extended headers) and
//! the GNU tar manual's "Basic Tar Format" (type `L` long names, type `S`
//! old-style sparse members) and "Sparse Formats" (see [`sparse_map`]).
//!
//! The tar crate's own reader expands a sparse member by reading its holes
//! as zeros through `Read`, so a 2 TiB sparse disk would cost 2 TiB of
//! zero-filling, and it keeps no cap on extension blocks; it also knows
//! nothing of PAX sparse members (it hands their map over as the file). So
//! this walks the archive itself, a block at a time from the (possibly
//! decompressing) stream, and uses the crate only for header fields and PAX
//! records. A member's runs are written at their offsets in the sink, its
//! holes are never touched: expansion costs the archive's data, not the
//! disk's size.

use std::io::{self, Read};
use std::path::Path;

use super::sparse_map::{self, BLOCK_BYTES, MapBuilder, SparseMap, read_exact_or_corrupt};
use crate::{Error, Result};

/// Longest GNU long name (`L`) accepted; Linux paths are at most 4096.
const MAX_LONG_NAME_BYTES: u64 = 64 * 1024;
/// Largest PAX extended header accepted: room for a PAX 0.0 map of
/// several hundred thousand runs (two records of ~30 bytes per run).
const MAX_PAX_BYTES: u64 = 64 << 20;
/// Member data is copied in pieces of this size.
const PIECE_BYTES: usize = 64 * 1024;

/// Where the member's bytes go: positioned writes into a sparse file.
pub trait Sink {
    /// Make the output `len_bytes` long (before any write).
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()>;
    /// Write `data` at `offset` of the output.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
}

/// A sparse temporary file: all-zero pieces are not written, so they stay
/// holes.
impl Sink for std::fs::File {
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        std::fs::File::set_len(self, len_bytes)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if data.iter().all(|&b| b == 0) {
            return Ok(());
        }
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }
}

/// Discards everything (the fuzz target, size-only walks).
#[derive(Debug, Default)]
pub struct NullSink;

impl Sink for NullSink {
    fn set_len(&mut self, _len_bytes: u64) -> io::Result<()> {
        Ok(())
    }
    fn write_at(&mut self, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// How the member was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// All its bytes, one after the other.
    Plain,
    /// Old GNU sparse (type `S`).
    GnuOld,
    /// PAX sparse 0.0, 0.1 or 1.0.
    Pax00,
    Pax01,
    Pax10,
}

/// The member that was extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The file's real name (`GNU.sparse.name` for PAX sparse members, not
    /// the `GNUSparseFile.N/` name of their header).
    pub name: String,
    /// The file's real size, holes included.
    pub size_bytes: u64,
    pub layout: Layout,
}

/// Extension headers that describe the next member.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

/// The tar stream, with the count of bytes taken from it for error offsets.
struct Stream<'a> {
    input: &'a mut dyn Read,
    pos: u64,
    path: &'a Path,
}

impl Stream<'_> {
    fn corrupt(&self, what: impl std::fmt::Display) -> Error {
        Error::corrupt(self.pos, format!("{}: {what}", self.path.display()))
    }

    /// The next block, or `None` at a clean end of input.
    fn block(&mut self) -> Result<Option<[u8; BLOCK_BYTES as usize]>> {
        let mut block = [0u8; BLOCK_BYTES as usize];
        let mut filled = 0;
        while filled < block.len() {
            let rest = block.get_mut(filled..).unwrap_or_default();
            match self.input.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(self.path, e)),
            }
        }
        match filled {
            0 => Ok(None),
            n if n == block.len() => {
                self.pos += BLOCK_BYTES;
                Ok(Some(block))
            }
            _ => Err(self.corrupt("tar archive is truncated inside a header block")),
        }
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<()> {
        read_exact_or_corrupt(self.input, buf, self.pos).map_err(|e| self.rename(e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Name the archive in an error from the map parsers.
    fn rename(&self, e: Error) -> Error {
        match e {
            Error::Corrupt { offset, what } => {
                Error::corrupt(offset, format!("{}: {what}", self.path.display()))
            }
            other => other,
        }
    }

    /// Read and drop `len` bytes.
    fn skip(&mut self, len: u64) -> Result<()> {
        let copied = io::copy(&mut (&mut self.input).take(len), &mut io::sink())
            .map_err(|e| Error::io(self.path, e))?;
        self.pos += copied;
        if copied < len {
            return Err(self.corrupt("tar archive is truncated inside a member"));
        }
        Ok(())
    }

    /// Read and drop a member's `len` bytes of data and their padding.
    fn skip_padded(&mut self, len: u64) -> Result<()> {
        self.skip(len)?;
        self.skip(padding(len))
    }

    /// The whole of a small member (extension headers), capped.
    fn small(&mut self, len: u64, cap: u64, what: &str) -> Result<Vec<u8>> {
        if len > cap {
            return Err(self.corrupt(format!(
                "tar {what} of {len} bytes is larger than the {cap}-byte limit"
            )));
        }
        // Bounded by the cap just checked.
        let mut buf = vec![0u8; len as usize];
        self.exact(&mut buf)?;
        self.skip(padding(len))?;
        Ok(buf)
    }
}

/// Bytes from `len` to the next block boundary.
fn padding(len: u64) -> u64 {
    (BLOCK_BYTES - len % BLOCK_BYTES) % BLOCK_BYTES
}

/// Walk the archive `input` (named `path` in errors) and write its one
/// non-empty regular file into `out`. Archives with several non-empty
/// files are refused rather than guessed at.
pub fn extract_single(input: &mut dyn Read, out: &mut dyn Sink, path: &Path) -> Result<Member> {
    let mut s = Stream {
        input,
        pos: 0,
        path,
    };
    let mut pending = Pending::default();
    let mut found: Option<Member> = None;
    while let Some(block) = s.block()? {
        let header_pos = s.pos - BLOCK_BYTES;
        // One zero block ends the archive (GNU tar writes two; what follows
        // is padding).
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let header = tar::Header::from_byte_slice(&block);
        check_sum(&block, header).map_err(|what| s.corrupt(what))?;
        let mut stored_bytes = header
            .entry_size()
            .map_err(|e| s.corrupt(format!("tar header: {e}")))?;
        let type_flag = header.as_old().linkflag[0];
        if !matches!(type_flag, b'x' | b'g' | b'L' | b'K') {
            if let Some(size) = pending.pax.as_deref().and_then(|p| pax_value(p, "size")) {
                stored_bytes = parse_pax_number(size, "size").map_err(|w| s.corrupt(w))?;
            }
        }
        match type_flag {
            b'x' => {
                if pending.pax.is_some() {
                    return Err(s.corrupt("two PAX headers describe the same tar member"));
                }
                let pax = s.small(stored_bytes, MAX_PAX_BYTES, "PAX header")?;
                check_pax(&pax).map_err(|w| s.corrupt(w))?;
                pending.pax = Some(pax);
            }
            b'L' => {
                if pending.long_name.is_some() {
                    return Err(s.corrupt("two long names describe the same tar member"));
                }
                let mut name = s.small(stored_bytes, MAX_LONG_NAME_BYTES, "long name")?;
                if let Some(nul) = name.iter().position(|&b| b == 0) {
                    name.truncate(nul);
                }
                pending.long_name = Some(name);
            }
            // Global PAX headers and long link names say nothing about the
            // file's bytes.
            b'g' | b'K' => s.skip_padded(stored_bytes)?,
            b'0' | b'\0' | b'7' | b'S' => {
                let pending = std::mem::take(&mut pending);
                let Some(member) = read_member(&mut s, header, stored_bytes, &pending, header_pos)?
                else {
                    continue;
                };
                if let Some(first) = &found {
                    return Err(Error::unsupported(format!(
                        "{}: the tar archive holds more than one file ({}, {}); extract the disk image and pass it directly",
                        path.display(),
                        first.name,
                        member.info.name
                    )));
                }
                let FileMember {
                    info,
                    stored_bytes,
                    map,
                } = member;
                let (map, map_bytes) = resolve_map(&mut s, map, stored_bytes, info.size_bytes)?;
                copy_member(&mut s, out, &info.name, &map, map_bytes)?;
                found = Some(info);
            }
            // Directories, links, devices, FIFOs, volume labels...: skipped.
            _ => {
                pending = Pending::default();
                s.skip_padded(stored_bytes)?;
            }
        }
    }
    if pending.pax.is_some() || pending.long_name.is_some() {
        return Err(s.corrupt("the tar archive ends after a header that describes a member"));
    }
    found.ok_or_else(|| {
        Error::corrupt(
            0,
            format!(
                "{}: the tar archive holds no non-empty file",
                path.display()
            ),
        )
    })
}

/// A file member whose data has not been read yet.
struct FileMember {
    info: Member,
    stored_bytes: u64,
    /// What the headers say of the map (PAX 1.0 reads it from the data).
    map: PendingMap,
}

enum PendingMap {
    Ready(MapBuilder),
    InData,
}

/// Decide how a file member is stored and its real size; `None` for an
/// empty file (skipped, with its data).
fn read_member(
    s: &mut Stream<'_>,
    header: &tar::Header,
    stored_bytes: u64,
    pending: &Pending,
    header_pos: u64,
) -> Result<Option<FileMember>> {
    let pax = pending.pax.as_deref().unwrap_or_default();
    let mut name = match (&pending.long_name, pax_value(pax, "path")) {
        (_, Some(p)) => p.to_vec(),
        (Some(long), None) => long.clone(),
        (None, None) => header.path_bytes().into_owned(),
    };
    let (layout, real_size, map) = if header.as_old().linkflag[0] == b'S' {
        let gnu = header
            .as_gnu()
            .ok_or_else(|| s.corrupt("tar sparse member (type S) without a GNU header"))?;
        let real_size = gnu
            .real_size()
            .map_err(|e| s.corrupt(format!("tar sparse header: {e}")))?;
        let map = gnu_old_map(s, gnu, header_pos)?;
        (Layout::GnuOld, real_size, PendingMap::Ready(map))
    } else if let Some(major) = pax_value(pax, "GNU.sparse.major") {
        let minor = pax_value(pax, "GNU.sparse.minor").unwrap_or(b"0");
        if (major, minor) != (b"1".as_slice(), b"0".as_slice()) {
            return Err(Error::unsupported(format!(
                "{}: tar sparse format {}.{} (GNU tar writes 0.0, 0.1 and 1.0)",
                s.path.display(),
                String::from_utf8_lossy(major),
                String::from_utf8_lossy(minor)
            )));
        }
        let real_size = pax_number(s, pax, "GNU.sparse.realsize")?;
        (Layout::Pax10, real_size, PendingMap::InData)
    } else if let Some(map) = pax_value(pax, "GNU.sparse.map") {
        let real_size = pax_number(s, pax, "GNU.sparse.size")?;
        let map = sparse_map::parse_map_01(map, header_pos).map_err(|e| s.rename(e))?;
        (Layout::Pax01, real_size, PendingMap::Ready(map))
    } else if pax_value(pax, "GNU.sparse.offset").is_some() {
        let real_size = pax_number(s, pax, "GNU.sparse.size")?;
        let map = sparse_map::from_pax_00(pax_records(pax), header_pos).map_err(|e| s.rename(e))?;
        (Layout::Pax00, real_size, PendingMap::Ready(map))
    } else {
        (
            Layout::Plain,
            stored_bytes,
            PendingMap::Ready(plain_map(stored_bytes, header_pos)?),
        )
    };
    if layout != Layout::Plain {
        if let Some(real) = pax_value(pax, "GNU.sparse.name") {
            name = real.to_vec();
        }
    }
    if real_size == 0 {
        // An empty file is no disk; whatever it stores is skipped.
        s.skip_padded(stored_bytes)?;
        return Ok(None);
    }
    Ok(Some(FileMember {
        info: Member {
            name: String::from_utf8_lossy(&name).into_owned(),
            size_bytes: real_size,
            layout,
        },
        stored_bytes,
        map,
    }))
}

/// A plain member: one run over the whole file.
fn plain_map(stored_bytes: u64, at: u64) -> Result<MapBuilder> {
    let mut map = MapBuilder::new(at);
    // A plain file of any length is one run: the block rule does not apply.
    if stored_bytes > 0 {
        map.push(0, stored_bytes)?;
    }
    Ok(map)
}

/// Old GNU sparse: the header's four entries, then extension blocks while
/// `isextended` says so. As GNU tar does (`oldgnu_get_sparse_info`), the
/// entries end at the first whose `numbytes` is unset, and extension blocks
/// are read only when every entry before them was used.
fn gnu_old_map(s: &mut Stream<'_>, gnu: &tar::GnuHeader, at: u64) -> Result<MapBuilder> {
    let mut map = MapBuilder::new(at);
    let mut more = add_gnu_entries(s, &mut map, &gnu.sparse)? && gnu.is_extended();
    while more {
        let block = s
            .block()?
            .ok_or_else(|| s.corrupt("tar archive is truncated inside a sparse extension block"))?;
        let mut ext = tar::GnuExtSparseHeader::new();
        *ext.as_mut_bytes() = block;
        more = add_gnu_entries(s, &mut map, ext.sparse())? && ext.is_extended();
    }
    Ok(map)
}

/// Add the used entries of one block; whether all of them were used.
fn add_gnu_entries(
    s: &Stream<'_>,
    map: &mut MapBuilder,
    entries: &[tar::GnuSparseHeader],
) -> Result<bool> {
    for entry in entries {
        if entry.numbytes[0] == 0 {
            return Ok(false);
        }
        let offset = entry
            .offset()
            .map_err(|e| s.corrupt(format!("tar sparse entry: {e}")))?;
        let len = entry
            .length()
            .map_err(|e| s.corrupt(format!("tar sparse entry: {e}")))?;
        map.push(offset, len).map_err(|e| s.rename(e))?;
    }
    Ok(true)
}

/// The member's map, validated against its real and stored sizes (a PAX
/// 1.0 map is read from the start of its data here), and the bytes of data
/// the map itself took.
fn resolve_map(
    s: &mut Stream<'_>,
    map: PendingMap,
    stored_bytes: u64,
    real_size: u64,
) -> Result<(SparseMap, u64)> {
    let (builder, map_bytes) = match map {
        PendingMap::Ready(b) => (b, 0),
        PendingMap::InData => {
            let at = s.pos;
            let (b, used) =
                sparse_map::read_map_10(s.input, stored_bytes, at).map_err(|e| s.rename(e))?;
            s.pos += used;
            (b, used)
        }
    };
    // `read_map_10` takes no more than the member's data.
    let data_bytes = stored_bytes.saturating_sub(map_bytes);
    let map = builder
        .finish(real_size, data_bytes)
        .map_err(|e| s.rename(e))?;
    Ok((map, map_bytes))
}

/// Write the runs at their offsets; the holes between them are left alone.
fn copy_member(
    s: &mut Stream<'_>,
    out: &mut dyn Sink,
    name: &str,
    map: &SparseMap,
    map_bytes: u64,
) -> Result<()> {
    let tmp = std::env::temp_dir();
    out.set_len(map.real_size).map_err(|e| {
        Error::io(
            &tmp,
            io::Error::new(
                e.kind(),
                format!(
                    "cannot hold {name} ({} bytes) in a temporary file: {e}",
                    map.real_size
                ),
            ),
        )
    })?;
    let mut piece = vec![0u8; PIECE_BYTES];
    for chunk in &map.chunks {
        let mut done: u64 = 0;
        while done < chunk.len {
            // At most PIECE_BYTES, so the cast is exact.
            let n = (chunk.len - done).min(PIECE_BYTES as u64) as usize;
            let buf = piece.get_mut(..n).unwrap_or_default();
            s.exact(buf)?;
            out.write_at(chunk.offset + done, buf)
                .map_err(|e| Error::io(&tmp, e))?;
            done += n as u64;
        }
    }
    // The runs hold exactly the member's data (checked by `finish`).
    s.skip(padding(map_bytes + map.stored_bytes))
}

/// The header checksum: the sum of its bytes with the checksum field read
/// as spaces, unsigned (POSIX) or signed (some old tars), as GNU tar accepts.
fn check_sum(
    block: &[u8; BLOCK_BYTES as usize],
    header: &tar::Header,
) -> std::result::Result<(), String> {
    let stored = header
        .cksum()
        .map_err(|e| format!("tar header checksum field: {e}"))?;
    let (mut unsigned, mut signed) = (0u32, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::from(stored) == signed {
        Ok(())
    } else {
        Err(format!(
            "tar header checksum mismatch (stored {stored}, computed {unsigned}): not a tar archive, or a damaged one"
        ))
    }
}

/// The records of a PAX extended header that parse (the header was
/// checked whole when it was read).
fn pax_records(pax: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    tar::PaxExtensions::new(pax)
        .filter_map(|r| r.ok())
        .filter_map(|r| Some((r.key().ok()?, r.value_bytes())))
}

/// Every record of a PAX header must parse: a damaged one could hide a
/// size or a sparse map.
fn check_pax(pax: &[u8]) -> std::result::Result<(), String> {
    for record in tar::PaxExtensions::new(pax) {
        let record = record.map_err(|e| format!("PAX header: {e}"))?;
        record
            .key()
            .map_err(|e| format!("PAX header: a key is not UTF-8: {e}"))?;
    }
    Ok(())
}

/// The last value of `key` (a later record overrides an earlier one).
fn pax_value<'a>(pax: &'a [u8], key: &str) -> Option<&'a [u8]> {
    pax_records(pax)
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .last()
}

fn parse_pax_number(value: &[u8], key: &str) -> std::result::Result<u64, String> {
    sparse_map::parse_decimal(value).ok_or_else(|| {
        format!(
            "PAX record {key}={:?} is not a number",
            String::from_utf8_lossy(value)
        )
    })
}

/// A required numeric PAX record.
fn pax_number(s: &Stream<'_>, pax: &[u8], key: &str) -> Result<u64> {
    let value = pax_value(pax, key)
        .ok_or_else(|| s.corrupt(format!("tar sparse member without a {key} record")))?;
    parse_pax_number(value, key).map_err(|w| s.corrupt(w))
}
