//! Scanning data that arrives in pieces (a fragmented file's extents, a run
//! of free blocks read block group by block group) with bounded memory.

use super::engine::{Match, Scanner, Scratch};
use super::text::count_newlines;

/// Default amount of new data scanned per step.
pub const DEFAULT_CHUNK_BYTES: usize = 1 << 20;

/// Feeds a stream of byte pieces through a [`Scanner`], chunk by chunk.
///
/// The buffer holds at most `chunk + 2 × max_match_len` bytes: each step
/// scans `max_match_len` bytes of context, `chunk` new bytes, and
/// `max_match_len` bytes of look-ahead, and reports the matches that start
/// in the new bytes — so a secret split across pieces or chunks is found,
/// and found once. Offsets and lines in the reported [`Match`]es count from
/// the start of the stream.
#[derive(Debug)]
pub struct StreamScan<'s> {
    scanner: &'s Scanner,
    scratch: Scratch,
    path: Option<String>,
    chunk: usize,
    overlap: usize,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_offset: usize,
    /// Stream offset up to which matches have been reported.
    reported: usize,
    /// Newlines in the stream before `buf[0]`.
    lines_before_buf: u64,
}

impl<'s> StreamScan<'s> {
    /// `path`: the file's path inside the filesystem, `None` for raw data.
    pub fn new(scanner: &'s Scanner, path: Option<&str>) -> Self {
        Self::with_chunk_size(scanner, path, DEFAULT_CHUNK_BYTES)
    }

    /// Like [`StreamScan::new`] with `chunk_bytes` of new data per step (at
    /// least 1).
    pub fn with_chunk_size(scanner: &'s Scanner, path: Option<&str>, chunk_bytes: usize) -> Self {
        let overlap = scanner.max_match_len();
        StreamScan {
            scanner,
            scratch: scanner.scratch(),
            path: path.map(str::to_owned),
            chunk: chunk_bytes.max(1),
            overlap,
            buf: Vec::new(),
            buf_offset: 0,
            reported: 0,
            lines_before_buf: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.chunk.saturating_add(self.overlap.saturating_mul(2))
    }

    /// Appends the next piece of the stream, reporting the matches that are
    /// complete.
    pub fn push(&mut self, mut data: &[u8], sink: &mut impl FnMut(Match)) {
        while !data.is_empty() {
            let room = self.capacity().saturating_sub(self.buf.len()).max(1);
            let (now, rest) = data.split_at(room.min(data.len()));
            self.buf.extend_from_slice(now);
            data = rest;
            if self.buf.len() >= self.capacity() {
                self.step(false, sink);
            }
        }
    }

    /// Ends the stream and reports the remaining matches.
    pub fn finish(mut self, sink: &mut impl FnMut(Match)) {
        self.step(true, sink);
    }

    fn step(&mut self, last: bool, sink: &mut impl FnMut(Match)) {
        let from = self.reported.saturating_sub(self.buf_offset);
        let to = if last {
            self.buf.len()
        } else {
            self.buf.len().saturating_sub(self.overlap)
        };
        if to > from {
            let (base, lines) = (self.buf_offset, self.lines_before_buf);
            self.scanner.scan_range_with(
                &mut self.scratch,
                &self.buf,
                from..to,
                self.path.as_deref(),
                &mut |mut m: Match| {
                    m.start += base;
                    m.end += base;
                    m.secret_start += base;
                    m.secret_end += base;
                    m.line += lines;
                    sink(m);
                },
            );
            self.reported = self.buf_offset + to;
        }
        if last {
            return;
        }
        // Keep the look-ahead (not yet reported) and one overlap of context.
        let keep_from = to.saturating_sub(self.overlap).min(self.buf.len());
        self.lines_before_buf += count_newlines(self.buf.get(..keep_from).unwrap_or(&[]));
        self.buf.drain(..keep_from);
        self.buf_offset += keep_from;
    }
}
