//! The literal prefilter: finds every occurrence of every rule anchor, in
//! offset order, with one SIMD pass over the data.
//!
//! Anchors are matched ASCII-case-insensitively unless every rule using an
//! anchor wants it exactly (the engine re-checks exact entries on the data).
//! Two searchers give the same hits:
//!
//! - [`teddy`]: our own Teddy (the nibble-mask SIMD algorithm of Hyperscan
//!   and aho-corasick) with case folding built into its masks, so it reads
//!   the data in place. aho-corasick has no case-insensitive Teddy: with
//!   `ascii_case_insensitive` it falls back to a DFA at 50–400 MB/s, which
//!   is why [`portable`] searches a lowercased copy. Used with AVX2 and at
//!   most [`teddy::MAX_PATTERNS`] anchors.
//! - [`portable`]: aho-corasick's Teddy over a lowercased copy of the data,
//!   64 KiB at a time, plus a memmem finder per anchor shorter than 4
//!   bytes. Any CPU, any number of anchors.

mod byte_freq;
mod portable;
mod teddy;
#[cfg(target_arch = "x86_64")]
mod teddy_avx2;
#[cfg(test)]
mod tests;

use super::pattern::Lit;
use crate::Result;

pub(crate) use portable::LowerBlock;

/// An anchor occurrence: `(start, end, pattern id)`.
type Hit = (usize, usize, usize);

/// One rule attached to an anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) rule: u32,
    /// For case-sensitive anchors: the bytes the hit must equal.
    pub(crate) exact: Option<Box<[u8]>>,
}

/// A distinct anchor: its bytes (lowercased unless `nocase` is false) and
/// whether case is ignored when searching for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) nocase: bool,
}

impl Pattern {
    /// Whether the pattern occurs in `hay` at `pos`.
    fn matches_at(&self, hay: &[u8], pos: usize) -> bool {
        let Some(window) = pos
            .checked_add(self.bytes.len())
            .and_then(|end| hay.get(pos..end))
        else {
            return false;
        };
        if self.nocase {
            window.eq_ignore_ascii_case(&self.bytes)
        } else {
            *window == *self.bytes
        }
    }
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per scanner; a box would add an indirection to every search"
)]
enum Searcher {
    Teddy(teddy::Teddy),
    Portable(portable::Portable),
}

#[derive(Debug)]
pub(crate) struct Prefilter {
    /// What it was built from (tests build other searchers from it).
    #[cfg(test)]
    pub(crate) anchors: Vec<(Lit, u32)>,
    /// Per pattern id: the rules to run around a hit.
    entries: Vec<Vec<Entry>>,
    searcher: Searcher,
}

/// Which searcher [`Prefilter::build_with`] should use (tests compare them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Teddy with AVX2 when the CPU has it and the anchors fit, else portable.
    Best,
    #[cfg(test)]
    Portable,
    /// Teddy without SIMD (its scalar reference loop); tests only.
    #[cfg(test)]
    TeddyScalar,
}

impl Prefilter {
    pub(crate) fn build(anchors: Vec<(Lit, u32)>) -> Result<Prefilter> {
        Self::build_with(anchors, Choice::Best)
    }

    /// Each hit reports the longest anchor starting at its position, and the
    /// caller restarts one byte after each hit's start; so that the shorter
    /// anchors starting at the same position (its prefixes) are not lost,
    /// each pattern also carries the entries of its prefixes.
    pub(crate) fn build_with(anchors: Vec<(Lit, u32)>, choice: Choice) -> Result<Prefilter> {
        #[cfg(test)]
        let given = anchors.clone();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut own: Vec<Vec<Entry>> = Vec::new();
        for (lit, rule) in anchors {
            let key = lit.bytes.to_ascii_lowercase();
            if key.is_empty() {
                continue;
            }
            let entry = Entry {
                rule,
                exact: lit.exact.then(|| lit.bytes.clone().into_boxed_slice()),
            };
            let idx = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    own.push(Vec::new());
                    keys.len() - 1
                }
            };
            if let Some(list) = own.get_mut(idx) {
                if !list.contains(&entry) {
                    list.push(entry);
                }
            }
        }
        let patterns: Vec<Pattern> = keys
            .iter()
            .zip(&own)
            .map(|(key, entries)| pattern_for(key, entries))
            .collect();
        let mut entries = own.clone();
        for (i, p) in keys.iter().enumerate() {
            for (j, q) in keys.iter().enumerate() {
                if i != j && p.starts_with(q) {
                    for e in own.get(j).into_iter().flatten() {
                        if let Some(list) = entries.get_mut(i) {
                            if !list.contains(e) {
                                list.push(e.clone());
                            }
                        }
                    }
                }
            }
        }
        let searcher = match choice {
            Choice::Best => match teddy::Teddy::build(&patterns, teddy::Simd::Detect) {
                Some(t) => Searcher::Teddy(t),
                None => Searcher::Portable(portable::Portable::build(&patterns)?),
            },
            #[cfg(test)]
            Choice::Portable => Searcher::Portable(portable::Portable::build(&patterns)?),
            #[cfg(test)]
            Choice::TeddyScalar => match teddy::Teddy::build(&patterns, teddy::Simd::Off) {
                Some(t) => Searcher::Teddy(t),
                None => {
                    return Err(crate::Error::invalid("too many anchors for Teddy"));
                }
            },
        };
        Ok(Prefilter {
            #[cfg(test)]
            anchors: given,
            entries,
            searcher,
        })
    }

    /// Which searcher runs, for tests and benchmarks.
    #[cfg(test)]
    pub(crate) fn searcher_name(&self) -> &'static str {
        match &self.searcher {
            Searcher::Teddy(t) => t.name(),
            Searcher::Portable(_) => "portable",
        }
    }

    /// Number of distinct anchors of 4 bytes or more: the portable
    /// searcher's aho-corasick patterns (more than 32 make it use its slower
    /// Fat Teddy).
    #[cfg(test)]
    pub(crate) fn long_count(&self) -> usize {
        let mut long: Vec<Vec<u8>> = self
            .anchors
            .iter()
            .map(|(lit, _)| lit.bytes.to_ascii_lowercase())
            .filter(|key| key.len() >= 4)
            .collect();
        long.sort_unstable();
        long.dedup();
        long.len()
    }

    pub(crate) fn entries(&self, pattern: usize) -> &[Entry] {
        self.entries.get(pattern).map_or(&[], Vec::as_slice)
    }

    /// The next anchor occurrence starting at or after `from` and before
    /// `to`: `(start, end, pattern)`; it may end after `to`, within `hay`.
    /// Occurrences come in increasing start order when `from` only grows
    /// between calls with the same `block`.
    pub(crate) fn next_hit(
        &self,
        hay: &[u8],
        from: usize,
        to: usize,
        block: &mut LowerBlock,
    ) -> Option<Hit> {
        match &self.searcher {
            Searcher::Teddy(t) => t.find(hay, from, to),
            Searcher::Portable(p) => p.next_hit(hay, from, to, block),
        }
    }
}

/// An anchor is searched case-sensitively only if every rule using it wants
/// the same exact bytes; fewer bytes then pass Teddy's masks.
fn pattern_for(key: &[u8], entries: &[Entry]) -> Pattern {
    let exact = entries.first().and_then(|e| e.exact.as_deref());
    match exact {
        Some(bytes) if entries.iter().all(|e| e.exact.as_deref() == Some(bytes)) => Pattern {
            bytes: bytes.into(),
            nocase: false,
        },
        _ => Pattern {
            bytes: key.into(),
            nocase: true,
        },
    }
}
