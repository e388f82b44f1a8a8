//! Sparse maps of tar members: which runs of the real file the member's
//! data holds, in every form GNU tar writes them.
//!
//! Spec: GNU tar manual, "Storing Sparse Files" (appendix "Sparse Formats",
//! <https://www.gnu.org/software/tar/manual/html_section/Sparse-Formats.html>):
//!
//! * old GNU (`--format=gnu`): type `S` header with four `{offset[12],
//!   numbytes[12]}` entries, `isextended`, `realsize[12]`, then extension
//!   blocks of 21 entries each; read by `tarball.rs` with the tar crate's
//!   header types, validated here by [`MapBuilder`].
//! * PAX 0.0: repeated `GNU.sparse.offset` / `GNU.sparse.numbytes` records
//!   and `GNU.sparse.size` ([`from_pax_00`]).
//! * PAX 0.1: `GNU.sparse.map=off,len,off,len,...` ([`parse_map_01`]).
//! * PAX 1.0: the map at the start of the member's data, decimal numbers
//!   each ended by `\n` (the count, then offset/numbytes pairs), padded to a
//!   512-byte block ([`read_map_10`]).
//!
//! The member's stored data is the map's runs one after the other: GNU tar
//! writes each run from a 512-byte block boundary, so every run but the last
//! non-empty one is a whole number of blocks.
//!
//! Every number comes from the archive and is checked: runs ascend without
//! overlap, end inside the real size, their lengths add up to the stored
//! data exactly, and the count and the real size are capped, so a hostile
//! map costs bounded memory and no work beyond the archive's own bytes.

use std::io::Read;

use crate::{Error, Result};

/// The most runs a map may list: 16 MiB of map, far beyond any real disk's
/// fragmentation (GNU tar lists one run per data extent).
pub const MAX_CHUNKS: usize = 1 << 20;

/// The largest real size accepted: 64 TiB, the largest disk the big clouds
/// offer, and still well inside what a 64-bit process can map.
pub const MAX_REAL_SIZE_BYTES: u64 = 1 << 46;

/// The tar block: every run but the last starts and ends on one.
pub const BLOCK_BYTES: u64 = 512;

/// Longest decimal number in a map: `u64::MAX` has 20 digits.
const MAX_DIGITS: usize = 20;

/// One run of data: `len` bytes of the real file from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub offset: u64,
    pub len: u64,
}

/// A validated map: ascending, disjoint runs inside `real_size`, whose
/// lengths sum to `stored_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseMap {
    pub real_size: u64,
    pub chunks: Vec<Chunk>,
    pub stored_bytes: u64,
}

/// Collects runs in archive order and checks each as it comes, so that a
/// bad map fails at its first bad entry. `at` is the archive offset the
/// errors name.
#[derive(Debug)]
pub struct MapBuilder {
    at: u64,
    chunks: Vec<Chunk>,
    end: u64,
    stored_bytes: u64,
    /// A run that is not a whole number of blocks: only empty runs may follow.
    partial_seen: bool,
}

impl MapBuilder {
    pub fn new(at: u64) -> MapBuilder {
        MapBuilder {
            at,
            chunks: Vec::new(),
            end: 0,
            stored_bytes: 0,
            partial_seen: false,
        }
    }

    fn corrupt(&self, what: String) -> Error {
        Error::corrupt(self.at, format!("tar sparse map: {what}"))
    }

    /// Append the run `len` bytes at `offset`.
    pub fn push(&mut self, offset: u64, len: u64) -> Result<()> {
        let index = self.chunks.len();
        if index >= MAX_CHUNKS {
            return Err(self.corrupt(format!("more than {MAX_CHUNKS} runs")));
        }
        if offset < self.end {
            return Err(self.corrupt(format!(
                "run {index} at offset {offset} starts before the previous run ends ({}): runs must ascend without overlap",
                self.end
            )));
        }
        let end = offset.checked_add(len).ok_or_else(|| {
            self.corrupt(format!(
                "run {index}: {len} bytes at offset {offset} overflow"
            ))
        })?;
        if end > MAX_REAL_SIZE_BYTES {
            return Err(self.corrupt(format!(
                "run {index} ends at {end}, past the {MAX_REAL_SIZE_BYTES}-byte limit"
            )));
        }
        if len > 0 && self.partial_seen {
            return Err(self.corrupt(format!(
                "run {index} follows a run that is not a whole number of {BLOCK_BYTES}-byte blocks"
            )));
        }
        if !len.is_multiple_of(BLOCK_BYTES) {
            self.partial_seen = true;
        }
        // Cannot overflow: the runs are disjoint and end below the cap.
        self.stored_bytes += len;
        self.end = end;
        self.chunks.push(Chunk { offset, len });
        Ok(())
    }

    /// The map of a file of `real_size` bytes whose member stores
    /// `stored_bytes` bytes of data.
    pub fn finish(self, real_size: u64, stored_bytes: u64) -> Result<SparseMap> {
        if real_size > MAX_REAL_SIZE_BYTES {
            return Err(self.corrupt(format!(
                "real size {real_size} is past the {MAX_REAL_SIZE_BYTES}-byte limit"
            )));
        }
        if self.end > real_size {
            return Err(self.corrupt(format!(
                "a run ends at {}, past the real size {real_size}",
                self.end
            )));
        }
        if self.stored_bytes != stored_bytes {
            return Err(self.corrupt(format!(
                "the runs hold {} bytes but the member stores {stored_bytes}",
                self.stored_bytes
            )));
        }
        Ok(SparseMap {
            real_size,
            chunks: self.chunks,
            stored_bytes,
        })
    }
}

/// A decimal number of a PAX record or map line: digits only, no sign or
/// space, at most 20 of them, and no overflow.
pub fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > MAX_DIGITS || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// PAX 0.0: the `GNU.sparse.offset` and `GNU.sparse.numbytes` records, in
/// archive order, each offset followed by its length.
pub fn from_pax_00<'a>(
    records: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    at: u64,
) -> Result<MapBuilder> {
    let mut map = MapBuilder::new(at);
    let mut offset: Option<u64> = None;
    for (key, value) in records {
        let number = || {
            parse_decimal(value).ok_or_else(|| {
                Error::corrupt(
                    at,
                    format!(
                        "tar sparse map: {key}={:?} is not a number",
                        String::from_utf8_lossy(value)
                    ),
                )
            })
        };
        match key {
            "GNU.sparse.offset" => {
                if offset.is_some() {
                    return Err(Error::corrupt(
                        at,
                        "tar sparse map: two GNU.sparse.offset records without a GNU.sparse.numbytes between",
                    ));
                }
                offset = Some(number()?);
            }
            "GNU.sparse.numbytes" => {
                let Some(start) = offset.take() else {
                    return Err(Error::corrupt(
                        at,
                        "tar sparse map: GNU.sparse.numbytes without a GNU.sparse.offset before it",
                    ));
                };
                map.push(start, number()?)?;
            }
            _ => {}
        }
    }
    if offset.is_some() {
        return Err(Error::corrupt(
            at,
            "tar sparse map: the last GNU.sparse.offset has no GNU.sparse.numbytes",
        ));
    }
    Ok(map)
}

/// PAX 0.1: `GNU.sparse.map`, comma-separated offset,length pairs.
pub fn parse_map_01(value: &[u8], at: u64) -> Result<MapBuilder> {
    let mut map = MapBuilder::new(at);
    if value.is_empty() {
        return Ok(map);
    }
    let mut fields = value.split(|&b| b == b',');
    while let Some(offset) = fields.next() {
        let Some(len) = fields.next() else {
            return Err(Error::corrupt(
                at,
                "tar sparse map: GNU.sparse.map has an odd number of fields",
            ));
        };
        let number = |field: &[u8]| {
            parse_decimal(field).ok_or_else(|| {
                Error::corrupt(
                    at,
                    format!(
                        "tar sparse map: GNU.sparse.map field {:?} is not a number",
                        String::from_utf8_lossy(field)
                    ),
                )
            })
        };
        map.push(number(offset)?, number(len)?)?;
    }
    Ok(map)
}

/// PAX 1.0: read the map from the start of the member's data (`data_bytes`
/// long). Returns the runs and the bytes the map takes (whole blocks), after
/// which the runs' data follows.
pub fn read_map_10(input: &mut dyn Read, data_bytes: u64, at: u64) -> Result<(MapBuilder, u64)> {
    let mut lines = Lines {
        input,
        data_bytes,
        block: [0; BLOCK_BYTES as usize],
        pos: BLOCK_BYTES as usize,
        consumed_bytes: 0,
        at,
    };
    let count = lines.number()?;
    if count > MAX_CHUNKS as u64 {
        return Err(Error::corrupt(
            at,
            format!("tar sparse map: {count} runs listed, more than {MAX_CHUNKS}"),
        ));
    }
    let mut map = MapBuilder::new(at);
    for _ in 0..count {
        let offset = lines.number()?;
        let len = lines.number()?;
        map.push(offset, len)?;
    }
    // The rest of the last block is padding.
    Ok((map, lines.consumed_bytes))
}

/// The decimal lines of a PAX 1.0 map, read a block at a time so that no
/// more than the map's own blocks is taken from the member's data.
struct Lines<'a> {
    input: &'a mut dyn Read,
    data_bytes: u64,
    block: [u8; BLOCK_BYTES as usize],
    pos: usize,
    consumed_bytes: u64,
    at: u64,
}

impl Lines<'_> {
    fn byte(&mut self) -> Result<u8> {
        if self.pos == self.block.len() {
            if self.consumed_bytes + BLOCK_BYTES > self.data_bytes {
                return Err(Error::corrupt(
                    self.at,
                    format!(
                        "tar sparse map: the map runs past the member's {} bytes of data",
                        self.data_bytes
                    ),
                ));
            }
            read_exact_or_corrupt(self.input, &mut self.block, self.at)?;
            self.consumed_bytes += BLOCK_BYTES;
            self.pos = 0;
        }
        let b = self.block.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        Ok(b)
    }

    fn number(&mut self) -> Result<u64> {
        let mut digits = [0u8; MAX_DIGITS + 1];
        let mut n = 0;
        loop {
            let b = self.byte()?;
            if b == b'\n' {
                break;
            }
            match digits.get_mut(n) {
                Some(slot) => *slot = b,
                None => {
                    return Err(Error::corrupt(
                        self.at,
                        "tar sparse map: a map line is longer than any number",
                    ));
                }
            }
            n += 1;
        }
        let text = digits.get(..n).unwrap_or_default();
        parse_decimal(text).ok_or_else(|| {
            Error::corrupt(
                self.at,
                format!(
                    "tar sparse map: map line {:?} is not a number",
                    String::from_utf8_lossy(text)
                ),
            )
        })
    }
}

/// `read_exact`, with a short read reported as a truncated archive.
pub fn read_exact_or_corrupt(input: &mut dyn Read, buf: &mut [u8], at: u64) -> Result<()> {
    input.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corrupt(at, "tar archive is truncated")
        } else {
            Error::corrupt(at, format!("reading the tar archive: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_must_ascend_fit_and_add_up() {
        let mut m = MapBuilder::new(0);
        m.push(4096, 4096).unwrap();
        m.push(8192, 100).unwrap();
        m.push(10_000, 0).unwrap();
        let map = m.finish(10_000, 4196).unwrap();
        assert_eq!(map.chunks.len(), 3);

        let mut m = MapBuilder::new(0);
        m.push(4096, 4096).unwrap();
        assert!(m.push(4095, 1).is_err(), "overlap");
        let mut m = MapBuilder::new(0);
        m.push(4096, 4096).unwrap();
        assert!(m.push(0, 512).is_err(), "descending");
        let mut m = MapBuilder::new(0);
        m.push(0, 100).unwrap();
        assert!(m.push(512, 512).is_err(), "data after a partial run");
        assert!(MapBuilder::new(0).push(u64::MAX, 2).is_err(), "overflow");
        let mut m = MapBuilder::new(0);
        m.push(0, 512).unwrap();
        assert!(m.finish(511, 512).is_err(), "past the real size");
        let mut m = MapBuilder::new(0);
        m.push(0, 512).unwrap();
        assert!(m.finish(4096, 1024).is_err(), "stored size mismatch");
        assert!(
            MapBuilder::new(0)
                .finish(MAX_REAL_SIZE_BYTES + 1, 0)
                .is_err()
        );
    }

    #[test]
    fn pax_01_and_00_maps() {
        let m = parse_map_01(b"4096,4096,5242880,4096,10486060,0", 0).unwrap();
        let map = m.finish(10486060, 8192).unwrap();
        assert_eq!(
            map.chunks,
            vec![
                Chunk {
                    offset: 4096,
                    len: 4096
                },
                Chunk {
                    offset: 5242880,
                    len: 4096
                },
                Chunk {
                    offset: 10486060,
                    len: 0
                }
            ]
        );
        assert!(parse_map_01(b"1,2,3", 0).is_err());
        assert!(parse_map_01(b"1,-2", 0).is_err());
        assert!(parse_map_01(b"1, 2", 0).is_err());
        assert!(parse_map_01(b"99999999999999999999999,0", 0).is_err());

        let records: Vec<(&str, &[u8])> = vec![
            ("GNU.sparse.size", b"10486060"),
            ("GNU.sparse.offset", b"4096"),
            ("GNU.sparse.numbytes", b"4096"),
            ("GNU.sparse.offset", b"10486060"),
            ("GNU.sparse.numbytes", b"0"),
        ];
        let map = from_pax_00(records, 0)
            .unwrap()
            .finish(10486060, 4096)
            .unwrap();
        assert_eq!(map.chunks.len(), 2);
        let dangling: Vec<(&str, &[u8])> = vec![("GNU.sparse.offset", b"1")];
        assert!(from_pax_00(dangling, 0).is_err());
        let orphan: Vec<(&str, &[u8])> = vec![("GNU.sparse.numbytes", b"1")];
        assert!(from_pax_00(orphan, 0).is_err());
    }

    #[test]
    fn pax_10_map_from_the_data() {
        let mut data = b"2\n4096\n4096\n8192\n0\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(&[7u8; 4096]);
        let (m, used) = read_map_10(&mut &data[..], data.len() as u64, 0).unwrap();
        assert_eq!(used, 512);
        assert_eq!(m.finish(8192, 4096).unwrap().chunks.len(), 2);

        // More lines claimed than the data holds.
        let mut short = b"3\n4096\n4096\n".to_vec();
        short.resize(512, 0);
        assert!(read_map_10(&mut &short[..], 512, 0).is_err());
        // A huge count is refused before any allocation.
        let mut huge = b"99999999\n".to_vec();
        huge.resize(512, 0);
        assert!(read_map_10(&mut &huge[..], 512, 0).is_err());
        // A line with no end.
        assert!(read_map_10(&mut &[b'1'; 600][..], 1024, 0).is_err());
    }
}
