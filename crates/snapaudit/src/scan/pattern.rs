//! Regex compilation for rules: byte semantics like gitleaks, a computed
//! upper bound on the match length (the engine's window), and extraction of
//! the literals every match must contain (the prefilter's anchors).

use regex_automata::meta;
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};

/// Unbounded repetitions (`+`, `*`, `{n,}`) are rewritten to at most this
/// many extra repetitions, so that every rule has a finite maximum match
/// length: `\S+` becomes `\S{1,257}`. 256 bytes is longer than any
/// password, token or key line the rules look for; a longer run is matched
/// in its first 257 bytes (the secret is still reported, just cut).
pub(crate) const UNBOUNDED_REPEAT_CAP: u32 = 256;

/// The longest match any rule regex may have. The engine re-scans this many
/// bytes around each anchor hit, and chunked callers overlap by it, so it
/// bounds both the work per hit and the memory per worker.
pub(crate) const MAX_REGEX_LEN: usize = 16 * 1024;

/// A checked rule regex, ready to compile, and what the engine needs to
/// know about it.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Upper bound on the length of a match, in bytes.
    pub(crate) max_len: usize,
    /// Number of explicit capture groups.
    pub(crate) groups: usize,
    /// The bounded HIR: what [`build`] compiles, and where literals come
    /// from.
    pub(crate) hir: Hir,
}

/// Parses `pattern` with byte semantics (`unicode(false)`, `utf8(false)`:
/// `\w`, `\s`, `\b` and `(?i)` are ASCII, `.` matches any byte but `\n`),
/// which is what gitleaks' Go `regexp` does on the ASCII part and what a
/// scanner over binary data needs.
pub(crate) fn parse(pattern: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())
}

/// Parses and checks a rule regex (compiling it is [`build`]'s job):
/// unbounded repetitions are capped (see [`UNBOUNDED_REPEAT_CAP`]), and the
/// result must not match the empty string and must have a maximum length of
/// at most [`MAX_REGEX_LEN`].
pub(crate) fn prepare_rule_regex(pattern: &str) -> Result<Prepared, String> {
    let hir = bound_repetitions(parse(pattern)?);
    let props = hir.properties();
    if props.minimum_len().unwrap_or(0) == 0 {
        return Err("the regex can match the empty string".into());
    }
    let max_len = match props.maximum_len() {
        Some(n) if n <= MAX_REGEX_LEN => n,
        Some(n) => {
            return Err(format!(
                "the regex can match {n} bytes, more than the {MAX_REGEX_LEN}-byte limit; use smaller repetition bounds"
            ));
        }
        None => return Err("the regex has no finite maximum match length".into()),
    };
    let groups = props.explicit_captures_len();
    Ok(Prepared {
        max_len,
        groups,
        hir,
    })
}

/// Compiles a plain search regex (paths, allowlist regexes) with byte
/// semantics, no length bound.
pub(crate) fn compile_search_regex(pattern: &str) -> Result<meta::Regex, String> {
    build(&parse(pattern)?)
}

/// Compiles a regex. No one-pass DFA: it only speeds up reading capture
/// groups, which happens once per match (rare), while building it from a
/// rule with large bounded repetitions took as long as the rest of the
/// compile (36 → 20 ms for the built-in rules).
pub(crate) fn build(hir: &Hir) -> Result<meta::Regex, String> {
    meta::Builder::new()
        .configure(meta::Config::new().utf8_empty(false).onepass(false))
        .build_from_hir(hir)
        .map_err(|e| e.to_string())
}

/// Rewrites every repetition without an upper bound to one with
/// `min + UNBOUNDED_REPEAT_CAP` as its bound.
fn bound_repetitions(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(look),
        HirKind::Repetition(rep) => {
            let max = rep
                .max
                .or_else(|| Some(rep.min.saturating_add(UNBOUNDED_REPEAT_CAP)));
            Hir::repetition(Repetition {
                min: rep.min,
                max,
                greedy: rep.greedy,
                sub: Box::new(bound_repetitions(*rep.sub)),
            })
        }
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name,
            sub: Box::new(bound_repetitions(*cap.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(bound_repetitions).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(bound_repetitions).collect())
        }
    }
}

/// A literal the prefilter looks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Lit {
    /// The bytes; lowercased when `exact` is false.
    pub(crate) bytes: Vec<u8>,
    /// Whether the bytes must match exactly (case-sensitively).
    pub(crate) exact: bool,
}

/// Limits that keep literal extraction small: cross products of
/// alternations stop growing past these.
const MAX_LITS: usize = 64;
const MAX_LIT_LEN: usize = 32;

/// What a sub-expression tells about literals.
#[derive(Debug, Clone)]
struct Info {
    /// If the sub-expression only ever matches one of these strings: the
    /// set. `None` when it matches too many different strings.
    exact: Option<Vec<Lit>>,
    /// A set of literals of which every match contains at least one
    /// (`None`: no such set known).
    required: Option<Vec<Lit>>,
}

/// The literals of which every match of `hir` contains at least one, chosen
/// to be as long and as few as possible; `None` when no set with literals of
/// at least `min_len` bytes exists (then the rule needs keywords).
pub(crate) fn required_literals(hir: &Hir, min_len: usize) -> Option<Vec<Lit>> {
    let info = analyse(hir);
    let mut best = info.required;
    if let Some(exact) = info.exact {
        best = better(best, Some(exact));
    }
    best.filter(|set| !set.is_empty() && set.iter().all(|l| l.bytes.len() >= min_len))
}

fn score(set: &[Lit]) -> (usize, std::cmp::Reverse<usize>) {
    let min_len = set.iter().map(|l| l.bytes.len()).min().unwrap_or(0);
    (min_len.min(8), std::cmp::Reverse(set.len()))
}

fn better(a: Option<Vec<Lit>>, b: Option<Vec<Lit>>) -> Option<Vec<Lit>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

fn analyse(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info {
            exact: Some(vec![Lit {
                bytes: Vec::new(),
                exact: true,
            }]),
            required: None,
        },
        HirKind::Literal(lit) => Info {
            exact: Some(vec![Lit {
                bytes: lit.0.to_vec(),
                exact: true,
            }]),
            required: None,
        },
        HirKind::Class(class) => Info {
            exact: class_literals(class),
            required: None,
        },
        HirKind::Capture(cap) => analyse(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = analyse(&rep.sub);
            if rep.min == 0 {
                return Info {
                    exact: None,
                    required: None,
                };
            }
            // `x{n}` with a small n is exact: x repeated n times.
            let exact = match (&sub.exact, rep.max) {
                (Some(set), Some(max)) if max == rep.min && rep.min <= 8 => {
                    let mut acc = Some(vec![Lit {
                        bytes: Vec::new(),
                        exact: true,
                    }]);
                    for _ in 0..rep.min {
                        acc = acc.and_then(|a| cross(&a, set));
                    }
                    acc
                }
                _ => None,
            };
            Info {
                exact,
                required: better(sub.required, sub.exact),
            }
        }
        HirKind::Alternation(subs) => {
            let infos: Vec<Info> = subs.iter().map(analyse).collect();
            let exact = union(infos.iter().map(|i| i.exact.clone()));
            let required = union(
                infos
                    .iter()
                    .map(|i| better(i.required.clone(), i.exact.clone())),
            );
            Info { exact, required }
        }
        HirKind::Concat(subs) => {
            let mut best: Option<Vec<Lit>> = None;
            // Runs of exact children multiply into longer literals.
            let mut run: Option<Vec<Lit>> = Some(vec![Lit {
                bytes: Vec::new(),
                exact: true,
            }]);
            let mut all_exact = true;
            for sub in subs {
                let info = analyse(sub);
                best = better(best, info.required.clone());
                match (&run, &info.exact) {
                    (Some(r), Some(e)) => match cross(r, e) {
                        Some(next) => run = Some(next),
                        None => {
                            // Too many combinations: keep what the run had,
                            // start a new run at this child.
                            best = better(best, run.take());
                            run = Some(e.clone());
                            all_exact = false;
                        }
                    },
                    (_, Some(e)) => {
                        best = better(best, run.take());
                        run = Some(e.clone());
                    }
                    (_, None) => {
                        best = better(best, run.take());
                        all_exact = false;
                    }
                }
            }
            if all_exact {
                Info {
                    exact: run,
                    required: best,
                }
            } else {
                Info {
                    exact: None,
                    required: better(best, run),
                }
            }
        }
    }
}

/// The single-byte strings a small class matches; a class of exactly an
/// ASCII letter in both cases becomes one case-insensitive literal.
fn class_literals(class: &Class) -> Option<Vec<Lit>> {
    let mut bytes: Vec<u8> = Vec::new();
    match class {
        Class::Bytes(c) => {
            for r in c.iter() {
                for b in r.start()..=r.end() {
                    bytes.push(b);
                    if bytes.len() > 8 {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(c) => {
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    let b = u8::try_from(u32::from(ch)).ok().filter(u8::is_ascii)?;
                    bytes.push(b);
                    if bytes.len() > 8 {
                        return None;
                    }
                }
            }
        }
    }
    if let [a, b] = bytes[..] {
        if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b) && a != b {
            return Some(vec![Lit {
                bytes: vec![a.to_ascii_lowercase()],
                exact: false,
            }]);
        }
    }
    Some(
        bytes
            .into_iter()
            .map(|b| Lit {
                bytes: vec![b],
                exact: true,
            })
            .collect(),
    )
}

/// Every concatenation of one literal of `a` with one of `b`, or `None` if
/// that would exceed the size limits.
fn cross(a: &[Lit], b: &[Lit]) -> Option<Vec<Lit>> {
    if a.len().checked_mul(b.len())? > MAX_LITS {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let exact = x.exact && y.exact;
            let mut bytes = Vec::with_capacity(x.bytes.len() + y.bytes.len());
            if exact {
                bytes.extend_from_slice(&x.bytes);
                bytes.extend_from_slice(&y.bytes);
            } else {
                bytes.extend(x.bytes.iter().map(u8::to_ascii_lowercase));
                bytes.extend(y.bytes.iter().map(u8::to_ascii_lowercase));
            }
            if bytes.len() > MAX_LIT_LEN {
                return None;
            }
            out.push(Lit { bytes, exact });
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn union(sets: impl Iterator<Item = Option<Vec<Lit>>>) -> Option<Vec<Lit>> {
    let mut out = Vec::new();
    for set in sets {
        out.extend(set?);
        if out.len() > MAX_LITS {
            return None;
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(pattern: &str) -> Option<Vec<(String, bool)>> {
        let hir = parse(pattern).expect("pattern parses");
        required_literals(&hir, 3).map(|set| {
            set.into_iter()
                .map(|l| (String::from_utf8_lossy(&l.bytes).into_owned(), l.exact))
                .collect()
        })
    }

    #[test]
    fn extracts_prefix_inner_and_case_insensitive_literals() {
        assert_eq!(
            lits(r"ocid[123]\.[a-z]+"),
            Some(vec![
                ("ocid1.".into(), true),
                ("ocid2.".into(), true),
                ("ocid3.".into(), true),
            ])
        );
        assert_eq!(
            lits(r"[a-z]{4}_token_[0-9]+"),
            Some(vec![("_token_".into(), true)])
        );
        assert_eq!(
            lits(r"(?i)heroku[a-z]*"),
            Some(vec![("heroku".into(), false)])
        );
        assert_eq!(
            lits(r"(?:AKIA|ASIA)[A-Z]{16}"),
            Some(vec![("AKIA".into(), true), ("ASIA".into(), true),])
        );
    }

    #[test]
    fn no_literal_means_none() {
        assert_eq!(lits(r"[a-f0-9]{32}"), None);
        assert_eq!(lits(r"(?:ab)?[0-9]{8}"), None);
        assert_eq!(lits(r"ab[0-9]+"), None, "two bytes is below the minimum");
    }

    #[test]
    fn unbounded_repetitions_get_a_bound() {
        let c = prepare_rule_regex(r"password=\S+").expect("compiles");
        assert_eq!(
            c.max_len,
            "password=".len() + 1 + UNBOUNDED_REPEAT_CAP as usize
        );
        assert!(prepare_rule_regex(r"a?").is_err(), "empty match refused");
        assert!(
            prepare_rule_regex(r"(?:\w+\s*)+").is_err(),
            "nested unbounded is too long"
        );
    }
}
