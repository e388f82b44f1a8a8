//! The searchers against each other and against a naive definition: every
//! (position, rule) whose anchor occurs there, case rules included.

use std::ops::Range;

use super::{Choice, LowerBlock, Prefilter};
use crate::scan::pattern::Lit;
use crate::scan::tests::Gen;
use crate::scan::{RuleSet, Scanner};

/// What the engine sees: `(start, rule)` of every hit whose entry passes its
/// exact-bytes check, over `from..to` of `hay`.
fn seen(p: &Prefilter, hay: &[u8], from: usize, to: usize) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut block = LowerBlock::default();
    let mut pos = from;
    while let Some((s, e, pid)) = p.next_hit(hay, pos, to, &mut block) {
        assert!(
            s >= pos && s < to && e <= hay.len() && s < e,
            "hit {s}..{e} outside {pos}..{to}"
        );
        pos = s + 1;
        for entry in p.entries(pid) {
            let ok = entry
                .exact
                .as_ref()
                .is_none_or(|x| hay.get(s..s + x.len()) == Some(&x[..]));
            if ok {
                out.push((s, entry.rule));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn naive(anchors: &[(Lit, u32)], hay: &[u8], from: usize, to: usize) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    for pos in from..to.min(hay.len()) {
        for (lit, rule) in anchors {
            let Some(w) = hay.get(pos..pos + lit.bytes.len()) else {
                continue;
            };
            let hit = if lit.exact {
                w == lit.bytes.as_slice()
            } else {
                w.eq_ignore_ascii_case(&lit.bytes)
            };
            if hit && !lit.bytes.is_empty() {
                out.push((pos, *rule));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn builtin_anchors() -> Vec<(Lit, u32)> {
    Scanner::new(RuleSet::builtin())
        .expect("built-in rules")
        .prefilter()
        .anchors
        .clone()
}

/// Text and binary noise with anchors planted in random case, some cut
/// short, at random places (so also across 32-byte steps and at the end).
fn haystack(g: &mut Gen, anchors: &[(Lit, u32)], len: usize) -> Vec<u8> {
    let mut hay = Vec::with_capacity(len + 64);
    while hay.len() < len {
        match g.next() % 4 {
            0 => {
                let n = (g.next() % 40) as usize;
                hay.extend((0..n).map(|_| (g.next() % 256) as u8));
            }
            1 => {
                let n = (g.next() % 40) as usize;
                hay.extend((0..n).map(|_| b" aeinorstPASSWORD:/_-.=\"x"[(g.next() % 25) as usize]));
            }
            _ => {
                let Some((lit, _)) = anchors.get((g.next() % anchors.len() as u64) as usize) else {
                    continue;
                };
                let keep = if g.next().is_multiple_of(5) {
                    (g.next() as usize) % lit.bytes.len().max(1)
                } else {
                    lit.bytes.len()
                };
                for &b in lit.bytes.iter().take(keep) {
                    let flip = g.next().is_multiple_of(3);
                    hay.push(if flip { b.to_ascii_uppercase() } else { b });
                }
            }
        }
    }
    hay
}

/// The same anchors in every searcher: AVX2 Teddy (where the CPU has it),
/// portable, scalar Teddy.
fn all_searchers(anchors: &[(Lit, u32)]) -> Vec<Prefilter> {
    [Choice::Best, Choice::Portable, Choice::TeddyScalar]
        .into_iter()
        .map(|choice| Prefilter::build_with(anchors.to_vec(), choice).expect("build"))
        .collect()
}

/// `p` sees exactly `want` in `range` of `hay`.
fn assert_sees(p: &Prefilter, hay: &[u8], range: Range<usize>, want: &[(usize, u32)], what: &str) {
    assert_eq!(
        seen(p, hay, range.start, range.end),
        want,
        "{} {what} range {range:?}",
        p.searcher_name()
    );
}

#[test]
fn searchers_agree_with_the_definition_on_the_builtin_anchors() {
    let anchors = builtin_anchors();
    let mut g = Gen::new(7);
    for round in 0..40 {
        let hay = haystack(&mut g, &anchors, 4096 + round * 97);
        let want = naive(&anchors, &hay, 0, hay.len());
        assert!(want.len() > 20, "round {round}: too few planted hits");
        let what = format!("round {round}");
        for p in all_searchers(&anchors) {
            assert_sees(&p, &hay, 0..hay.len(), &want, &what);
            // Sub-ranges: hits start in from..to but may end past `to`.
            let from = (g.next() as usize) % hay.len();
            let to = from + (g.next() as usize) % (hay.len() - from + 1);
            assert_sees(&p, &hay, from..to, &naive(&anchors, &hay, from, to), &what);
        }
    }
}

#[test]
fn short_prefix_and_overlapping_anchors() {
    // 1- to 3-byte anchors, anchors that are prefixes of others (with
    // different case rules), and one that only occurs overlapping another.
    let lit = |s: &str, exact: bool| Lit {
        bytes: if exact {
            s.as_bytes().to_vec()
        } else {
            s.to_ascii_lowercase().into_bytes()
        },
        exact,
    };
    let anchors = vec![
        (lit("q", false), 0),
        (lit("k=", false), 1),
        (lit("xox", false), 2),
        (lit("PASS", true), 3),
        (lit("pass", false), 4),
        (lit("password", false), 5),
        (lit("://", false), 6),
        (lit("sword", false), 7),
    ];
    let hay = b"PASSWORD=hunter2 pAsSwOrD k=v q Q http://x xoxb- PASS".as_slice();
    let want = naive(&anchors, hay, 0, hay.len());
    assert!(want.contains(&(0, 3)) && want.contains(&(0, 5)) && want.contains(&(3, 7)));
    for p in all_searchers(&anchors) {
        assert_sees(&p, hay, 0..hay.len(), &want, "planted");
        // An anchor cut by the end of the data is no hit.
        assert_eq!(
            seen(&p, &hay[..hay.len() - 1], hay.len() - 4, hay.len() - 1),
            vec![]
        );
    }
}

#[test]
fn too_many_anchors_for_teddy_fall_back_to_portable() {
    let anchors: Vec<(Lit, u32)> = (0..=super::teddy::MAX_PATTERNS as u32)
        .map(|i| {
            (
                Lit {
                    bytes: format!("kw{i:03}z").into_bytes(),
                    exact: false,
                },
                i,
            )
        })
        .collect();
    let p = Prefilter::build_with(anchors.clone(), Choice::Best).expect("build");
    assert_eq!(p.searcher_name(), "portable");
    let hay = b"xx KW064Z yy kw000z".as_slice();
    assert_eq!(seen(&p, hay, 0, hay.len()), vec![(3, 64), (13, 0)]);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn builtin_anchors_use_simd_teddy_when_the_cpu_has_avx2() {
    let p = Prefilter::build_with(builtin_anchors(), Choice::Best).expect("build");
    let want = if std::arch::is_x86_feature_detected!("avx2") {
        "teddy-avx2"
    } else {
        "portable"
    };
    assert_eq!(p.searcher_name(), want);
}

#[test]
fn searchers_agree_with_the_definition_on_random_anchor_sets() {
    // Anchors of 1 to 12 bytes from a small alphabet (so they share
    // prefixes, nibbles and buckets), some exact, up to the Teddy limit;
    // haystacks from the same alphabet with case flips and noise.
    let alphabet = b"aAbB:/_-.=x\x00\xff";
    let mut g = Gen::new(4242);
    for round in 0..150 {
        let count = 1 + (g.next() % super::teddy::MAX_PATTERNS as u64) as usize;
        let anchors: Vec<(Lit, u32)> = (0..count)
            .map(|i| {
                let len = 1 + (g.next() % 12) as usize;
                let bytes: Vec<u8> = (0..len)
                    .map(|_| alphabet[(g.next() % alphabet.len() as u64) as usize])
                    .collect();
                let exact = g.next().is_multiple_of(3);
                let bytes = if exact {
                    bytes
                } else {
                    bytes.to_ascii_lowercase()
                };
                (Lit { bytes, exact }, i as u32)
            })
            .collect();
        let len = 1 + (g.next() % 700) as usize;
        let hay: Vec<u8> = (0..len)
            .map(|_| alphabet[(g.next() % alphabet.len() as u64) as usize])
            .collect();
        let want = naive(&anchors, &hay, 0, hay.len());
        for p in all_searchers(&anchors) {
            assert_sees(&p, &hay, 0..hay.len(), &want, &format!("round {round}"));
        }
    }
}
