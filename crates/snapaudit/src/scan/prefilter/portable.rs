//! The portable searcher: aho-corasick's Teddy over a lowercased copy of
//! the data, for CPUs without AVX2 and anchor sets too large for our Teddy.
//!
//! Anchors of 4 bytes or more go into one Aho-Corasick automaton, which
//! aho-corasick runs with its Teddy SIMD searcher. Teddy fingerprints the
//! first min(4, shortest pattern) bytes of each pattern; a single 3-byte
//! anchor such as `://` would shrink every fingerprint to 3 bytes and, on
//! text, multiply the false candidates it must verify (measured: ~2× slower
//! on real text). So anchors shorter than 4 bytes get a `memchr::memmem`
//! finder each, and the streams are merged by offset.
//!
//! Case: everything is searched in a lowercased copy of the data, made 64
//! KiB at a time ([`LowerBlock`]), with lowercased patterns; the engine
//! verifies case-sensitive anchors on the original data. With
//! aho-corasick's own `ascii_case_insensitive`, Teddy is not available and
//! the search fell to 50–400 MB/s on text.

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;

use super::{Hit, Pattern};
use crate::{Error, Result};

/// Anchors shorter than this get their own memmem finder.
const TEDDY_MIN_LEN: usize = 4;

/// Size of the blocks lowercased at a time: small enough to stay in L2
/// cache, large enough that per-block overhead does not show.
const LOWER_BLOCK: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct Portable {
    /// Anchors of at least [`TEDDY_MIN_LEN`] bytes (lowercased).
    ac: Option<AhoCorasick>,
    /// Pattern id of each automaton pattern.
    ac_ids: Vec<usize>,
    /// Shorter anchors (lowercased) and their pattern ids.
    short: Vec<(memmem::Finder<'static>, usize)>,
    longest: usize,
}

impl Portable {
    /// The automaton searches leftmost-longest and the caller restarts one
    /// byte after each hit's start, so every position where some anchor
    /// starts is visited (the prefixes' entries ride on the longest one).
    pub(super) fn build(patterns: &[Pattern]) -> Result<Portable> {
        let mut long: Vec<Vec<u8>> = Vec::new();
        let mut ac_ids = Vec::new();
        let mut short = Vec::new();
        for (id, p) in patterns.iter().enumerate() {
            let lower = p.bytes.to_ascii_lowercase();
            if lower.len() >= TEDDY_MIN_LEN {
                long.push(lower);
                ac_ids.push(id);
            } else if !lower.is_empty() {
                short.push((memmem::Finder::new(&lower).into_owned(), id));
            }
        }
        let longest = patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0);
        let ac = if long.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&long)
                    .map_err(|e| {
                        Error::invalid(format!("rules: cannot build the prefilter: {e}"))
                    })?,
            )
        };
        Ok(Portable {
            ac,
            ac_ids,
            short,
            longest,
        })
    }

    fn streams(&self) -> usize {
        1 + self.short.len()
    }

    /// First occurrence of stream `k` in `block` at or after `rel`:
    /// `(start, end, pattern)` relative to the block.
    fn find_in(&self, k: usize, bytes: &[u8], rel: usize) -> Option<Hit> {
        if k == 0 {
            let ac = self.ac.as_ref()?;
            let m = ac.find(aho_corasick::Input::new(bytes).span(rel..bytes.len()))?;
            let id = self.ac_ids.get(m.pattern().as_usize()).copied()?;
            Some((m.start(), m.end(), id))
        } else {
            let (finder, id) = self.short.get(k - 1)?;
            let tail = bytes.get(rel..)?;
            let at = rel + finder.find(tail)?;
            Some((at, at + finder.needle().len(), *id))
        }
    }

    /// See [`Prefilter::next_hit`](super::Prefilter::next_hit).
    pub(super) fn next_hit(
        &self,
        hay: &[u8],
        mut from: usize,
        to: usize,
        block: &mut LowerBlock,
    ) -> Option<Hit> {
        while from < to {
            if !(block.valid && block.start <= from && from < block.end) {
                block.load(hay, from, to, self.longest, self.streams());
            }
            let rel = from - block.start;
            let mut best: Option<Hit> = None;
            for k in 0..self.streams() {
                // Each stream's next occurrence is cached until `from`
                // passes it, so a frequent anchor does not make a rare one
                // rescan the block on every hit.
                let cached = block.next.get(k).copied().flatten();
                let found = match cached {
                    Some((searched_from, hit))
                        if searched_from <= rel && hit.is_none_or(|h| h.0 >= rel) =>
                    {
                        hit
                    }
                    _ => {
                        let hit = self.find_in(k, &block.bytes, rel);
                        if let Some(slot) = block.next.get_mut(k) {
                            *slot = Some((rel, hit));
                        }
                        hit
                    }
                };
                // On a tie the longer anchor wins: it carries the entries
                // of its prefixes, and the caller moves past this start.
                if let Some(h) = found {
                    if best.is_none_or(|b| h.0 < b.0 || (h.0 == b.0 && h.1 > b.1)) {
                        best = Some(h);
                    }
                }
            }
            if let Some((s, e, p)) = best {
                if block.start + s < block.end {
                    return Some((block.start + s, block.start + e, p));
                }
            }
            from = block.end;
        }
        None
    }
}

/// A lowercased copy of `hay[start..end + longest anchor - 1]`: occurrences
/// that start before `end` are complete in it. Lives in the per-worker
/// scratch so that it is allocated once.
#[derive(Default)]
pub(crate) struct LowerBlock {
    pub(crate) valid: bool,
    start: usize,
    end: usize,
    bytes: Vec<u8>,
    /// Per stream: the block offset a search started from and what it found.
    next: Vec<Option<(usize, Option<Hit>)>>,
}

/// Without the bytes: they are scanned data and may hold a secret.
impl std::fmt::Debug for LowerBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LowerBlock")
            .field("valid", &self.valid)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl LowerBlock {
    fn load(&mut self, hay: &[u8], from: usize, to: usize, longest: usize, streams: usize) {
        let end = from.saturating_add(LOWER_BLOCK).min(to);
        let copy_end = end.saturating_add(longest.saturating_sub(1)).min(hay.len());
        self.bytes.clear();
        self.bytes.extend(
            hay.get(from..copy_end)
                .unwrap_or(&[])
                .iter()
                .map(u8::to_ascii_lowercase),
        );
        self.start = from;
        self.end = end;
        self.valid = true;
        self.next.clear();
        self.next.resize(streams, None);
    }
}
