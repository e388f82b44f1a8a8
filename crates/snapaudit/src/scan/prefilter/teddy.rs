//! Teddy with case folding: finds the anchors in the data as it is, with no
//! lowercased copy.
//!
//! Teddy (from Intel's Hyperscan; aho-corasick has the best-known Rust
//! version) puts the patterns into 8 buckets and looks at the first
//! [`FINGERPRINT`] bytes of each. For each fingerprint position `i` it keeps
//! two 16-entry tables, indexed by a byte's low and high nibble, holding the
//! bit of every bucket that has a pattern whose byte `i` has that nibble. A
//! position `p` of the data is a candidate for bucket `b` when bit `b` is set
//! in `lo[i][hay[p+i] & 15] & hi[i][hay[p+i] >> 4]` for every `i`. With
//! SIMD byte shuffles that is a handful of instructions per 32 bytes; only
//! candidates are compared with the bucket's patterns.
//!
//! ASCII letters differ between cases only in bit 5, which lies in the high
//! nibble: a case-insensitive pattern byte sets its bucket bit under the
//! high nibbles of both cases. Patterns shorter than the fingerprint leave
//! their missing positions open (every nibble).
//!
//! The masks of a bucket admit every combination of its patterns' nibbles,
//! so which patterns share a bucket decides how many false candidates there
//! are. [`assign`] places them greedily by the expected candidate rate under
//! the byte frequencies of a real system disk ([`byte_freq`]).
//!
//! [`Teddy::find_scalar`] is the plain-Rust definition; `teddy_avx2` runs the
//! same masks 32 bytes at a time and ends with it.

use super::byte_freq::PER_65536;
use super::{Hit, Pattern};

/// Number of buckets: one bit each in a mask byte.
const BUCKETS: usize = 8;

/// Bytes of each pattern the masks look at.
pub(super) const FINGERPRINT: usize = 4;

/// Beyond this many patterns, 8 buckets hold so many nibble combinations
/// that nearly every position is a candidate; the portable searcher (an
/// automaton) is then the better tool. aho-corasick uses the same limit.
pub(crate) const MAX_PATTERNS: usize = 64;

/// Whether to use SIMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Simd {
    /// AVX2 if the CPU has it; without it, [`Teddy::build`] declines.
    Detect,
    /// The scalar loop (tests).
    #[cfg(test)]
    Off,
}

/// Nibble tables: `[position][nibble]` → bucket bits.
pub(super) type Table = [[u8; 16]; FINGERPRINT];

/// The first (up to) 4 bytes of a pattern as a masked little-endian word:
/// a position can only match if `word & mask == value`. One compare rejects
/// most of the candidates that the nibble tables let through.
#[derive(Debug, Clone, Copy)]
struct Head {
    mask: u32,
    value: u32,
}

impl Head {
    fn of(p: &Pattern) -> Head {
        let mut mask = [0u8; 4];
        let mut value = [0u8; 4];
        for ((m, v), &b) in mask.iter_mut().zip(&mut value).zip(p.bytes.iter()) {
            // Case differs in bit 5 only, and only for letters.
            *m = if p.nocase && b.is_ascii_alphabetic() {
                !0x20
            } else {
                0xff
            };
            *v = b & *m;
        }
        Head {
            mask: u32::from_le_bytes(mask),
            value: u32::from_le_bytes(value),
        }
    }
}

#[derive(Debug)]
pub(super) struct Teddy {
    patterns: Vec<Pattern>,
    heads: Vec<Head>,
    /// Pattern ids in each bucket.
    buckets: [Vec<usize>; BUCKETS],
    lo: Table,
    hi: Table,
    #[cfg(target_arch = "x86_64")]
    avx2: Option<super::teddy_avx2::Avx2>,
}

impl Teddy {
    /// `None` when there are too many patterns, or SIMD was asked for and
    /// the CPU has none we use.
    pub(super) fn build(patterns: &[Pattern], simd: Simd) -> Option<Teddy> {
        if patterns.is_empty()
            || patterns.len() > MAX_PATTERNS
            || patterns.iter().any(|p| p.bytes.is_empty())
        {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        let avx2 = match simd {
            Simd::Detect => Some(super::teddy_avx2::Avx2::detect()?),
            #[cfg(test)]
            Simd::Off => None,
        };
        #[cfg(not(target_arch = "x86_64"))]
        if simd == Simd::Detect {
            return None;
        }
        let (buckets, nibbles) = assign(patterns);
        let (lo, hi) = tables(&nibbles);
        Some(Teddy {
            patterns: patterns.to_vec(),
            heads: patterns.iter().map(Head::of).collect(),
            buckets,
            lo,
            hi,
            #[cfg(target_arch = "x86_64")]
            avx2,
        })
    }

    #[cfg(test)]
    pub(super) fn name(&self) -> &'static str {
        #[cfg(target_arch = "x86_64")]
        if self.avx2.is_some() {
            return "teddy-avx2";
        }
        "teddy-scalar"
    }

    pub(super) fn tables(&self) -> (&Table, &Table) {
        (&self.lo, &self.hi)
    }

    /// The first anchor occurrence starting in `from..to` (it may end after
    /// `to`, within `hay`): the longest pattern matching at that position.
    pub(super) fn find(&self, hay: &[u8], from: usize, to: usize) -> Option<Hit> {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = self.avx2 {
            return avx2.find(self, hay, from, to);
        }
        self.find_scalar(hay, from, to)
    }

    /// The definition of [`Teddy::find`], one position at a time. Near the
    /// end of `hay` the missing fingerprint bytes are not checked, which only
    /// adds candidates: verification decides.
    pub(super) fn find_scalar(&self, hay: &[u8], from: usize, to: usize) -> Option<Hit> {
        let end = to.min(hay.len());
        for pos in from..end {
            let mut bits = u8::MAX;
            for (i, (lo, hi)) in self.lo.iter().zip(&self.hi).enumerate() {
                let Some(&b) = hay.get(pos + i) else { break };
                bits &= lo[usize::from(b & 15)] & hi[usize::from(b >> 4)];
                if bits == 0 {
                    break;
                }
            }
            if bits != 0 {
                if let Some(hit) = self.verify(hay, pos, bits) {
                    return Some(hit);
                }
            }
        }
        None
    }

    /// The longest pattern of the buckets in `bits` that occurs at `pos`.
    pub(super) fn verify(&self, hay: &[u8], pos: usize, bits: u8) -> Option<Hit> {
        let word = pos
            .checked_add(4)
            .and_then(|e| hay.get(pos..e))
            .and_then(|w| w.first_chunk::<4>())
            .map(|w| u32::from_le_bytes(*w));
        let mut best: Option<(usize, usize)> = None;
        let mut rest = bits;
        while rest != 0 {
            let b = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            for &id in self.buckets.get(b).into_iter().flatten() {
                let Some(p) = self.patterns.get(id) else {
                    continue;
                };
                if let (Some(w), Some(h)) = (word, self.heads.get(id)) {
                    if w & h.mask != h.value {
                        continue;
                    }
                }
                let len = p.bytes.len();
                if best.is_none_or(|(_, l)| len > l) && p.matches_at(hay, pos) {
                    best = Some((id, len));
                }
            }
        }
        best.map(|(id, len)| (pos, pos + len, id))
    }
}

/// The bytes a pattern admits at fingerprint position `i`: `None` for any
/// byte (the pattern is shorter).
fn admitted(p: &Pattern, i: usize) -> Option<[u8; 2]> {
    let b = *p.bytes.get(i)?;
    Some(if p.nocase {
        [b.to_ascii_lowercase(), b.to_ascii_uppercase()]
    } else {
        [b, b]
    })
}

/// Per fingerprint position, the nibbles a set of patterns admits: bit `n`
/// of `.0` for low nibble `n`, of `.1` for high nibble `n`.
#[derive(Debug, Clone, Copy, Default)]
struct Nibbles([(u16, u16); FINGERPRINT]);

impl Nibbles {
    fn add(&mut self, p: &Pattern) {
        for (i, (lo, hi)) in self.0.iter_mut().enumerate() {
            match admitted(p, i) {
                Some(bytes) => {
                    for b in bytes {
                        *lo |= 1 << (b & 15);
                        *hi |= 1 << (b >> 4);
                    }
                }
                None => {
                    *lo = u16::MAX;
                    *hi = u16::MAX;
                }
            }
        }
    }

    /// Expected share of data positions that pass these masks: the product
    /// over positions of the frequency of the admitted bytes (every low
    /// nibble combined with every high one, as the tables do).
    fn candidate_rate(&self) -> f64 {
        let mut rate = 1.0;
        for &(lo, hi) in &self.0 {
            let mut per = 0u32;
            for (byte, &f) in (0u8..=u8::MAX).zip(PER_65536.iter()) {
                if lo & (1 << (byte & 15)) != 0 && hi & (1 << (byte >> 4)) != 0 {
                    per += u32::from(f);
                }
            }
            rate *= f64::from(per) / 65536.0;
        }
        rate
    }
}

/// Greedy bucket choice: noisiest patterns first (short ones, common
/// letters), each into the bucket whose expected candidate rate grows
/// least. An empty bucket's rate is 0, so the first patterns spread out
/// unless one shares nibbles with another almost exactly (`ghp_`, `gho_`).
///
/// Returns each bucket's patterns and the nibbles they admit.
fn assign(patterns: &[Pattern]) -> ([Vec<usize>; BUCKETS], [Nibbles; BUCKETS]) {
    let alone: Vec<f64> = patterns
        .iter()
        .map(|p| {
            let mut n = Nibbles::default();
            n.add(p);
            n.candidate_rate()
        })
        .collect();
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = alone.get(a).copied().unwrap_or(0.0);
        let rb = alone.get(b).copied().unwrap_or(0.0);
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut buckets: [Vec<usize>; BUCKETS] = Default::default();
    let mut masks = [Nibbles::default(); BUCKETS];
    for id in order {
        let Some(p) = patterns.get(id) else { continue };
        let mut best: Option<(f64, usize)> = None;
        for (b, (mask, members)) in masks.iter().zip(&buckets).enumerate() {
            let before = if members.is_empty() {
                0.0
            } else {
                mask.candidate_rate()
            };
            let mut with = *mask;
            with.add(p);
            let growth = with.candidate_rate() - before;
            if best.is_none_or(|(g, _)| growth < g) {
                best = Some((growth, b));
            }
        }
        let b = best.map_or(0, |(_, b)| b);
        if let (Some(mask), Some(members)) = (masks.get_mut(b), buckets.get_mut(b)) {
            mask.add(p);
            members.push(id);
        }
    }
    (buckets, masks)
}

/// The nibble tables of the buckets: bit `b` of `lo[i][n]` (`hi[i][n]`)
/// is set when bucket `b` admits low (high) nibble `n` at position `i`.
fn tables(nibbles: &[Nibbles; BUCKETS]) -> (Table, Table) {
    let mut lo: Table = [[0; 16]; FINGERPRINT];
    let mut hi: Table = [[0; 16]; FINGERPRINT];
    for (b, bucket) in nibbles.iter().enumerate() {
        let bit = 1u8 << b;
        for (&(lo_set, hi_set), (lo_i, hi_i)) in bucket.0.iter().zip(lo.iter_mut().zip(&mut hi)) {
            for (n, (l, h)) in lo_i.iter_mut().zip(hi_i.iter_mut()).enumerate() {
                if lo_set & (1 << n) != 0 {
                    *l |= bit;
                }
                if hi_set & (1 << n) != 0 {
                    *h |= bit;
                }
            }
        }
    }
    (lo, hi)
}
