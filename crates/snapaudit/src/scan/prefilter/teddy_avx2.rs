//! [`Teddy::find`] with AVX2: 32 positions per step.
//!
//! The crate's second and last module with `unsafe` (after the image's
//! memory map), for two reasons only: calling a `#[target_feature]`
//! function, which is sound once the CPU is known to have the feature, and
//! the SIMD load and store intrinsics, which take raw pointers (each read
//! is bounds-checked against the haystack first).
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
    _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16,
    _mm256_storeu_si256,
};

use super::Hit;
use super::teddy::{FINGERPRINT, Table, Teddy};

/// Positions per step.
const STEP: usize = 32;

/// Bytes one step reads: the last position's fingerprint reaches this far.
const READ: usize = STEP + FINGERPRINT - 1;

/// Proof that this CPU has AVX2: only [`Avx2::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2(());

impl Avx2 {
    pub(super) fn detect() -> Option<Avx2> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }

    pub(super) fn find(self, teddy: &Teddy, hay: &[u8], from: usize, to: usize) -> Option<Hit> {
        // SAFETY: `self` exists only if `detect` found AVX2 on this CPU, the
        // one requirement of calling a function compiled for it.
        unsafe { find(teddy, hay, from, to) }
    }
}

/// The nibble tables of `teddy`, each in both 128-bit lanes (the byte
/// shuffle looks up each lane separately).
#[target_feature(enable = "avx2")]
fn masks(teddy: &Teddy) -> [[__m256i; FINGERPRINT]; 2] {
    let (lo, hi): (&Table, &Table) = teddy.tables();
    [lo, hi].map(|table| {
        table.map(|t| {
            let mut both = [0u8; 32];
            both[..16].copy_from_slice(&t);
            both[16..].copy_from_slice(&t);
            // SAFETY: reads the 32 bytes of `both`; no alignment needed.
            unsafe { _mm256_loadu_si256(both.as_ptr().cast()) }
        })
    })
}

/// Candidate bucket bits of the 32 positions starting at `at`.
///
/// # Safety
///
/// `at + READ <= hay.len()`.
#[target_feature(enable = "avx2")]
unsafe fn classify(masks: &[[__m256i; FINGERPRINT]; 2], hay: &[u8], at: usize) -> __m256i {
    let nibble = _mm256_set1_epi8(0x0f);
    let mut bits = _mm256_set1_epi8(-1);
    for (i, (&lo, &hi)) in masks[0].iter().zip(&masks[1]).enumerate() {
        // SAFETY: at + i + 32 <= at + READ <= hay.len() (caller), so the 32
        // bytes read lie in `hay`; no alignment needed.
        let v = unsafe { _mm256_loadu_si256(hay.as_ptr().add(at + i).cast()) };
        let low = _mm256_shuffle_epi8(lo, _mm256_and_si256(v, nibble));
        let high = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
        bits = _mm256_and_si256(bits, _mm256_and_si256(low, high));
    }
    bits
}

/// Bit `j` set when position `j` of `bits` has a candidate bucket.
#[target_feature(enable = "avx2")]
fn candidates(bits: __m256i) -> u32 {
    !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bits, _mm256_setzero_si256())) as u32)
}

/// What the candidates of one step came to.
enum Step {
    Hit(Hit),
    /// A candidate at or after `end`: there is no hit before it.
    End,
    Next,
}

/// Verifies the candidates (`found`, a bit per position) of the step at
/// `at`, in position order; `bits` holds each position's buckets.
fn verify_step(
    teddy: &Teddy,
    hay: &[u8],
    (at, end): (usize, usize),
    mut found: u32,
    bits: [u8; STEP],
) -> Step {
    while found != 0 {
        let j = found.trailing_zeros() as usize;
        found &= found - 1;
        let pos = at + j;
        if pos >= end {
            return Step::End;
        }
        if let Some(hit) = teddy.verify(hay, pos, bits.get(j).copied().unwrap_or(0)) {
            return Step::Hit(hit);
        }
    }
    Step::Next
}

#[target_feature(enable = "avx2")]
fn to_bytes(bits: __m256i) -> [u8; STEP] {
    let mut out = [0u8; STEP];
    // SAFETY: writes the 32 bytes of `out`; no alignment needed.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), bits) };
    out
}

#[target_feature(enable = "avx2")]
fn find(teddy: &Teddy, hay: &[u8], from: usize, to: usize) -> Option<Hit> {
    let masks = masks(teddy);
    let end = to.min(hay.len());
    // Positions whose READ bytes lie in `hay`; the rest go to the scalar loop.
    let simd_end = end.min(hay.len().saturating_sub(READ - 1));
    let mut at = from;
    // Two steps per round: one branch per 64 bytes when nothing is found.
    while at + STEP < simd_end {
        // SAFETY: at + STEP < simd_end <= hay.len() - (READ - 1), so both
        // steps' READ bytes lie in `hay`.
        let (first, second) =
            unsafe { (classify(&masks, hay, at), classify(&masks, hay, at + STEP)) };
        let (found_first, found_second) = (candidates(first), candidates(second));
        if found_first | found_second != 0 {
            for (base, found, bits) in [(at, found_first, first), (at + STEP, found_second, second)]
            {
                if found == 0 {
                    continue;
                }
                match verify_step(teddy, hay, (base, end), found, to_bytes(bits)) {
                    Step::Hit(hit) => return Some(hit),
                    Step::End => return None,
                    Step::Next => {}
                }
            }
        }
        at += 2 * STEP;
    }
    while at < simd_end {
        // SAFETY: at < simd_end <= hay.len() - (READ - 1), so at + READ <= hay.len().
        let bits = unsafe { classify(&masks, hay, at) };
        let found = candidates(bits);
        if found != 0 {
            match verify_step(teddy, hay, (at, end), found, to_bytes(bits)) {
                Step::Hit(hit) => return Some(hit),
                Step::End => return None,
                Step::Next => {}
            }
        }
        at += STEP;
    }
    teddy.find_scalar(hay, at, to)
}
