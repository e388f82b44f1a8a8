//! The compiled scanner: one literal prefilter over all rules' anchors, and
//! each rule's regex run only in a bounded window around its anchor hits.
//!
//! # Windows and the match-length bound
//!
//! Every rule regex has a finite maximum match length `L` (repetitions are
//! bounded at compile time, see `pattern`), and every match contains one of
//! the rule's anchors. A match containing the anchor occurrence at
//! `[s, e)` therefore lies inside `[s - L, e + L)`; that is the window the
//! regex runs in. Overlapping windows of one rule are merged (up to
//! [`MAX_WINDOW`]), and the regex searches the window with the rest of the
//! buffer visible to look-around (`\b`, `^`), so a window edge never
//! invents a word boundary. A match that touches the window's end may have
//! been cut by it; it is dropped, because its own anchor lies further on and
//! that anchor's window finds it whole.
//!
//! Matches of one rule are non-overlapping (leftmost-first, as a plain
//! `find_iter` over the buffer would give); matches of several rules that
//! share a finding id and report the same secret bytes are reported once
//! (the one that starts first, then the earlier rule).
//!
//! # Chunks
//!
//! [`Scanner::scan_range`] reports the matches whose *start* lies in a
//! given range of the buffer, exactly as a scan of the whole data would,
//! provided the buffer extends [`Scanner::max_match_len`] bytes beyond the
//! range on both sides (or reaches the start/end of the data). Chunks that
//! overlap by that much and report adjoining ranges find every match exactly
//! once; [`StreamScan`](super::StreamScan) does this for a stream of pieces.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;
use rayon::prelude::*;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, meta};
use regex_syntax::hir::Hir;

use super::builtin::private_key_severity;
use super::checks;
use super::pattern::{self, Lit};
use super::prefilter::{LowerBlock, Prefilter};
use super::rule::{Allowlist, Check, RegexTarget, Rule, RuleSet};
use super::text::{LineCounter, is_placeholder, redact, redact_suffix, shannon_entropy};
use crate::report::Severity;
use crate::{Error, Result};

/// Longest window one rule's regex is run over in one search; longer runs
/// of overlapping windows (a file full of anchors) are split, and the
/// per-rule `last_end` keeps the result the same.
const MAX_WINDOW: usize = 256 * 1024;

/// Literals derived from a regex (rules without keywords) must be at least
/// this long: shorter ones hit so often that the prefilter stops filtering.
const MIN_DERIVED_LITERAL: usize = 3;

/// Buffered matches are flushed in offset order whenever this many are
/// waiting, so memory stays bounded on a file full of secrets.
const FLUSH_AT: usize = 1024;

/// Lines around a match considered for an allowlist's `regexTarget = "line"`.
const LINE_CONTEXT: usize = 4096;

/// One secret found in a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Finding rule id: `secret.private-key`, `secret.cloud-access-key`,
    /// `secret.token`, `secret.password`, or a custom rule's id.
    pub rule_id: Arc<str>,
    /// What was found: `alibaba-access-key-id`, `github-token`, … (a custom
    /// rule's id for custom rules).
    pub detector: Arc<str>,
    pub severity: Severity,
    /// The whole regex match, as byte offsets in the buffer.
    pub start: usize,
    pub end: usize,
    /// The secret itself (what a redaction overwrites).
    pub secret_start: usize,
    pub secret_end: usize,
    /// A private key protected by a passphrase.
    pub encrypted: bool,
    /// Redacted evidence, safe to print: see [`redact`].
    pub evidence: String,
    /// 1-based line of `start`, counted from the start of the buffer passed
    /// to the scan call (callers that scan pieces add their running count;
    /// [`StreamScan`](super::StreamScan) does).
    pub line: u64,
}

/// A match waiting to be reported, with the rule that found it.
#[derive(Debug)]
struct Candidate {
    rule: u32,
    m: Match,
}

#[derive(Debug)]
struct CompiledAllowlist {
    and: bool,
    has_commits: bool,
    paths: Option<meta::Regex>,
    regexes: Option<meta::Regex>,
    target: RegexTarget,
    stopwords: Option<AhoCorasick>,
}

/// A rule's regex, compiled on first use: most built-in rules never see
/// their anchor on a given disk, and building a regex with large bounded
/// repetitions takes milliseconds (a JWT's `{10,8192}`: 7 ms). Built-in
/// regexes are tested to compile; any other is compiled in
/// [`Scanner::new`], so that its errors name the rule up front.
#[derive(Debug)]
struct RuleRegex {
    hir: Hir,
    /// `None` if compiling failed (never for a tested built-in regex).
    compiled: OnceLock<Option<meta::Regex>>,
}

impl RuleRegex {
    fn get(&self) -> Option<&meta::Regex> {
        self.compiled
            .get_or_init(|| pattern::build(&self.hir).ok())
            .as_ref()
    }
}

#[derive(Debug)]
struct CompiledRule {
    id: Arc<str>,
    detector: Arc<str>,
    /// Index of `id` among the distinct ids: the deduplication key.
    dedupe_group: u32,
    severity: Severity,
    regex: Option<RuleRegex>,
    regex_max_len: usize,
    groups: usize,
    secret_group: usize,
    entropy: Option<f64>,
    path: Option<meta::Regex>,
    allowlists: Vec<CompiledAllowlist>,
    check: Check,
    placeholder_filter: bool,
    token_boundary: bool,
    word_start: bool,
    class_skip: usize,
    min_char_classes: u8,
    /// Has prefilter anchors; otherwise it is path-gated and runs over the
    /// whole (path-matching) buffer.
    anchored: bool,
}

/// Distinguishes scanners so that a [`Scratch`] made for one is never used
/// with another's regex caches.
static NEXT_SCANNER_ID: AtomicU64 = AtomicU64::new(1);

/// A compiled rule set. `Send + Sync`: share one between worker threads and
/// give each worker its own [`Scratch`].
#[derive(Debug)]
pub struct Scanner {
    id: u64,
    rules: Vec<CompiledRule>,
    prefilter: Prefilter,
    /// Path-gated rules without anchors.
    unanchored: Vec<u32>,
    /// Path-only rules (no regex).
    path_only: Vec<u32>,
    global: Vec<CompiledAllowlist>,
    max_regex_len: usize,
    max_match_len: usize,
}

/// Per-worker mutable state of a scan: regex caches and the bounded buffers
/// of one call. Reusing one across calls avoids all allocation after the
/// first few calls; its size depends on the rule count, not on the data.
#[derive(Debug, Default)]
pub struct Scratch {
    owner: u64,
    caches: Vec<Option<meta::Cache>>,
    caps: Vec<Option<Captures>>,
    pending: Vec<Option<(usize, usize)>>,
    last_end: Vec<usize>,
    enabled: Vec<bool>,
    out: Vec<Candidate>,
    recent: Vec<(u32, usize, usize)>,
    lines: LineCounter,
    block: LowerBlock,
}

impl Scratch {
    fn prepare(&mut self, scanner: &Scanner) {
        let n = scanner.rules.len();
        if self.owner != scanner.id {
            *self = Scratch {
                owner: scanner.id,
                caches: (0..n).map(|_| None).collect(),
                caps: (0..n).map(|_| None).collect(),
                ..Scratch::default()
            };
        }
        self.pending.clear();
        self.pending.resize(n, None);
        self.last_end.clear();
        self.last_end.resize(n, 0);
        self.enabled.clear();
        self.enabled.resize(n, false);
        self.out.clear();
        self.recent.clear();
        self.lines = LineCounter::new();
        self.block.valid = false;
    }
}

fn compile_allowlist(a: &Allowlist, ctx: &str) -> Result<CompiledAllowlist> {
    let joined = |items: &[String], what: &str| -> Result<Option<meta::Regex>> {
        if items.is_empty() {
            return Ok(None);
        }
        let alternation = items
            .iter()
            .map(|r| format!("(?:{r})"))
            .collect::<Vec<_>>()
            .join("|");
        pattern::compile_search_regex(&alternation)
            .map(Some)
            .map_err(|e| Error::invalid(format!("rules: {ctx}: allowlist {what}: {e}")))
    };
    let stopwords = if a.stopwords.is_empty() {
        None
    } else {
        Some(
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&a.stopwords)
                .map_err(|e| Error::invalid(format!("rules: {ctx}: allowlist stopwords: {e}")))?,
        )
    };
    Ok(CompiledAllowlist {
        and: a.and,
        has_commits: !a.commits.is_empty(),
        paths: joined(&a.paths, "paths")?,
        regexes: joined(&a.regexes, "regexes")?,
        target: a.regex_target,
        stopwords,
    })
}

impl CompiledAllowlist {
    /// Whether this allowlist drops every finding in a file at `path`,
    /// whatever the finding (a paths-only criterion that matches).
    fn allows_path_outright(&self, path: Option<&str>) -> bool {
        let Some(paths) = &self.paths else {
            return false;
        };
        let hit = path.is_some_and(|p| paths.is_match(p.as_bytes()));
        if self.and {
            hit && self.regexes.is_none() && self.stopwords.is_none() && !self.has_commits
        } else {
            hit
        }
    }

    fn allows(&self, path: Option<&str>, secret: &[u8], matched: &[u8], line: &[u8]) -> bool {
        let target = match self.target {
            RegexTarget::Secret => secret,
            RegexTarget::Match => matched,
            RegexTarget::Line => line,
        };
        let checks = [
            self.has_commits.then_some(false),
            self.paths
                .as_ref()
                .map(|re| path.is_some_and(|p| re.is_match(p.as_bytes()))),
            self.regexes.as_ref().map(|re| re.is_match(target)),
            self.stopwords.as_ref().map(|ac| ac.is_match(secret)),
        ];
        let mut set = checks.iter().flatten().peekable();
        if self.and {
            set.peek().is_some() && set.all(|&c| c)
        } else {
            set.any(|&c| c)
        }
    }
}

/// The compiled parts of one rule: everything [`Scanner::new`] does per
/// rule that does not depend on the other rules.
struct BuiltRule {
    regex: Option<RuleRegex>,
    regex_max_len: usize,
    groups: usize,
    /// Prefilter anchors; empty for path-gated rules without any.
    lits: Vec<Lit>,
    path: Option<meta::Regex>,
    allowlists: Vec<CompiledAllowlist>,
}

fn build_rule(rule: &Rule, allowlists: &[Allowlist], builtin: &[Rule]) -> Result<BuiltRule> {
    let ctx = format!("rule `{}` ({})", rule.id, rule.detector);
    let fail = |what: String| Error::invalid(format!("rules: {ctx}: {what}"));
    let path = match &rule.path {
        Some(p) => Some(pattern::compile_search_regex(p).map_err(|e| fail(format!("path: {e}")))?),
        None => None,
    };
    let mut rule_allowlists = Vec::new();
    for a in &rule.allowlists {
        rule_allowlists.push(compile_allowlist(a, &ctx)?);
    }
    for a in allowlists.iter().filter(|a| {
        a.target_rules
            .iter()
            .any(|t| *t == rule.id || *t == rule.detector)
    }) {
        rule_allowlists.push(compile_allowlist(a, &ctx)?);
    }
    let Some(src) = &rule.regex else {
        return Ok(BuiltRule {
            regex: None,
            regex_max_len: 0,
            groups: 0,
            lits: Vec::new(),
            path,
            allowlists: rule_allowlists,
        });
    };
    let c = pattern::prepare_rule_regex(src).map_err(|e| fail(format!("regex: {e}")))?;
    let tested = builtin
        .iter()
        .any(|b| b.regex.as_deref() == Some(src.as_str()));
    let compiled = if tested {
        OnceLock::new()
    } else {
        OnceLock::from(Some(
            pattern::build(&c.hir).map_err(|e| fail(format!("regex: {e}")))?,
        ))
    };
    if rule.secret_group > c.groups {
        return Err(fail(format!(
            "secretGroup {} but the regex has {} group(s)",
            rule.secret_group, c.groups
        )));
    }
    let lits: Vec<Lit> = if rule.keywords.is_empty() {
        pattern::required_literals(&c.hir, MIN_DERIVED_LITERAL).unwrap_or_default()
    } else {
        rule.keywords
            .iter()
            .filter(|k| !k.text.is_empty())
            .map(|k| Lit {
                bytes: if k.case_sensitive {
                    k.text.as_bytes().to_vec()
                } else {
                    k.text.to_ascii_lowercase().into_bytes()
                },
                exact: k.case_sensitive,
            })
            .collect()
    };
    if lits.is_empty() && path.is_none() {
        return Err(fail(
            "no keywords, and the regex has no literal of at least 3 bytes that every match \
             contains; add `keywords = [...]` (snapaudit runs regexes only around literal \
             anchors, so that a whole disk image scans at memory speed)"
                .into(),
        ));
    }
    Ok(BuiltRule {
        regex: Some(RuleRegex {
            hir: c.hir,
            compiled,
        }),
        regex_max_len: c.max_len,
        groups: c.groups,
        lits,
        path,
        allowlists: rule_allowlists,
    })
}

impl Scanner {
    /// Compiles a rule set. Fails, naming the rule, on an invalid regex, a
    /// regex that can match the empty string or more than 16 KiB, a
    /// `secretGroup` the regex does not have, or a rule with neither
    /// keywords nor a literal of at least 3 bytes that every match contains
    /// (unless the rule is restricted to a path) — such a rule would have to
    /// run its regex over every byte of the image.
    pub fn new(set: RuleSet) -> Result<Scanner> {
        let RuleSet {
            rules, allowlists, ..
        } = set;
        // Compiling a regex with large bounded repetitions (a JWT segment of
        // up to 8 KiB) takes milliseconds; the rules compile in parallel so
        // that a one-image scan does not wait ~20 ms on one core first.
        let builtin = super::builtin::rules();
        let built: Vec<Result<BuiltRule>> = rules
            .par_iter()
            .map(|rule| build_rule(rule, &allowlists, &builtin))
            .collect();
        let mut ids: Vec<Arc<str>> = Vec::new();
        let mut compiled = Vec::with_capacity(rules.len());
        let mut anchors: Vec<(Lit, u32)> = Vec::new();
        let mut unanchored = Vec::new();
        let mut path_only = Vec::new();
        for (index, (rule, built)) in rules.iter().zip(built).enumerate() {
            let index =
                u32::try_from(index).map_err(|_| Error::invalid("rules: too many rules"))?;
            let BuiltRule {
                regex,
                regex_max_len,
                groups,
                lits,
                path,
                allowlists: rule_allowlists,
            } = built?;
            let dedupe_group = match ids.iter().position(|i| **i == *rule.id) {
                Some(p) => p,
                None => {
                    ids.push(Arc::from(rule.id.as_str()));
                    ids.len() - 1
                }
            };
            let id = ids
                .get(dedupe_group)
                .cloned()
                .unwrap_or_else(|| Arc::from(rule.id.as_str()));
            let anchored = !lits.is_empty();
            if regex.is_none() {
                path_only.push(index);
            } else if !anchored {
                unanchored.push(index);
            }
            anchors.extend(lits.into_iter().map(|l| (l, index)));
            compiled.push(CompiledRule {
                id,
                detector: Arc::from(rule.detector.as_str()),
                dedupe_group: u32::try_from(dedupe_group).unwrap_or(u32::MAX),
                severity: rule.severity,
                regex,
                regex_max_len,
                groups,
                secret_group: rule.secret_group,
                entropy: rule.entropy,
                path,
                allowlists: rule_allowlists,
                check: rule.check,
                placeholder_filter: rule.placeholder_filter,
                token_boundary: rule.token_boundary,
                word_start: rule.word_start,
                class_skip: rule.class_skip,
                min_char_classes: rule.min_char_classes,
                anchored,
            });
        }
        let mut global = Vec::new();
        for a in allowlists.iter().filter(|a| a.target_rules.is_empty()) {
            global.push(compile_allowlist(a, "global")?);
        }
        let max_regex_len = compiled.iter().map(|r| r.regex_max_len).max().unwrap_or(0);
        let max_match_len = compiled
            .iter()
            .map(|r| r.regex_max_len + r.check.reach())
            .max()
            .unwrap_or(0);
        Ok(Scanner {
            id: NEXT_SCANNER_ID.fetch_add(1, Ordering::Relaxed),
            rules: compiled,
            prefilter: Prefilter::build(anchors)?,
            unanchored,
            path_only,
            global,
            max_regex_len,
            max_match_len,
        })
    }

    /// The longest stretch of bytes one match can depend on: a chunked
    /// caller must give each chunk this much context before and after the
    /// range it reports (see [`Scanner::scan_range`]).
    pub fn max_match_len(&self) -> usize {
        self.max_match_len
    }

    /// Number of compiled rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Distinct prefilter literals of 4 bytes or more (the Teddy searcher's
    /// patterns; more than 32 makes it switch to its slower variant).
    #[cfg(test)]
    pub(crate) fn long_anchor_count(&self) -> usize {
        self.prefilter.long_count()
    }

    #[cfg(test)]
    pub(crate) fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// Fresh per-worker state for [`Scanner::scan_range_with`].
    pub fn scratch(&self) -> Scratch {
        let mut s = Scratch::default();
        s.prepare(self);
        s
    }

    /// Scans a whole buffer (a file, or a contiguous run of the image);
    /// `path` is the file's path inside the filesystem, `None` for raw or
    /// unallocated data (then path-restricted rules do not run). Matches
    /// arrive in offset order.
    pub fn scan(&self, hay: &[u8], path: Option<&str>, sink: &mut impl FnMut(Match)) {
        let mut scratch = Scratch::default();
        self.scan_range_with(&mut scratch, hay, 0..hay.len(), path, sink);
    }

    /// Reports the matches of `hay` whose start lies in `report`, exactly as
    /// a scan of the whole data would report them, provided `hay` extends
    /// [`Scanner::max_match_len`] bytes before `report.start` and after
    /// `report.end` (or starts/ends where the data does).
    pub fn scan_range(
        &self,
        hay: &[u8],
        report: Range<usize>,
        path: Option<&str>,
        sink: &mut impl FnMut(Match),
    ) {
        let mut scratch = Scratch::default();
        self.scan_range_with(&mut scratch, hay, report, path, sink);
    }

    /// [`Scanner::scan_range`] with caller-owned scratch state (no allocation
    /// once the scratch has warmed up).
    pub fn scan_range_with(
        &self,
        scratch: &mut Scratch,
        hay: &[u8],
        report: Range<usize>,
        path: Option<&str>,
        sink: &mut impl FnMut(Match),
    ) {
        self.scan_inner(scratch, hay, report, path, sink);
    }

    /// Path-only rules (a gitleaks rule with `path` and no `regex`) that
    /// match `path`: one match each, with empty spans.
    pub fn scan_path(&self, path: &str, sink: &mut impl FnMut(Match)) {
        for &i in &self.path_only {
            let Some(rule) = self.rules.get(i as usize) else {
                continue;
            };
            let hit = rule
                .path
                .as_ref()
                .is_some_and(|re| re.is_match(path.as_bytes()));
            let allowed = self
                .global
                .iter()
                .chain(&rule.allowlists)
                .any(|a| a.allows_path_outright(Some(path)));
            if hit && !allowed {
                sink(Match {
                    rule_id: rule.id.clone(),
                    detector: rule.detector.clone(),
                    severity: rule.severity,
                    start: 0,
                    end: 0,
                    secret_start: 0,
                    secret_end: 0,
                    encrypted: false,
                    evidence: format!("path matches rule `{}`", rule.detector),
                    line: 0,
                });
            }
        }
    }

    fn scan_inner(
        &self,
        scratch: &mut Scratch,
        hay: &[u8],
        report: Range<usize>,
        path: Option<&str>,
        sink: &mut dyn FnMut(Match),
    ) {
        let len = hay.len();
        let report = report.start.min(len)..report.end.min(len);
        if report.is_empty() {
            return;
        }
        scratch.prepare(self);
        if self.global.iter().any(|a| a.allows_path_outright(path)) {
            return;
        }
        let mut any_enabled = false;
        for (i, rule) in self.rules.iter().enumerate() {
            let on = rule.regex.is_some()
                && match (&rule.path, path) {
                    (None, _) => true,
                    (Some(re), Some(p)) => re.is_match(p.as_bytes()),
                    (Some(_), None) => false,
                }
                && !rule.allowlists.iter().any(|a| a.allows_path_outright(path));
            if let Some(e) = scratch.enabled.get_mut(i) {
                *e = on;
            }
            any_enabled |= on;
        }
        if !any_enabled {
            return;
        }

        // Matches can start at most max_regex_len before the first reported
        // byte and still matter (as duplicates that suppress a later one),
        // and anchors of matches starting in the range lie before
        // report.end + max_regex_len.
        let ctx_start = report.start.saturating_sub(self.max_regex_len);
        let hits_end = report.end.saturating_add(self.max_regex_len).min(len);

        for &i in &self.unanchored {
            let i = i as usize;
            if scratch.enabled.get(i).copied().unwrap_or(false) {
                let max = self.rules.get(i).map_or(0, |r| r.regex_max_len);
                let we = report.end.saturating_add(max).min(len);
                self.run_window(scratch, i, ctx_start, we, hay, path);
            }
        }

        let mut pos = ctx_start;
        while let Some((s, e, pid)) =
            self.prefilter
                .next_hit(hay, pos, hits_end, &mut scratch.block)
        {
            pos = s + 1;
            for entry in self.prefilter.entries(pid) {
                let i = entry.rule as usize;
                if !scratch.enabled.get(i).copied().unwrap_or(false) {
                    continue;
                }
                if let Some(exact) = &entry.exact {
                    if hay.get(s..s + exact.len()) != Some(&exact[..]) {
                        continue;
                    }
                }
                let Some(rule) = self.rules.get(i) else {
                    continue;
                };
                if !rule.anchored {
                    continue;
                }
                let ws = s.saturating_sub(rule.regex_max_len);
                let we = e.saturating_add(rule.regex_max_len).min(len);
                let pending = scratch.pending.get(i).copied().flatten();
                match pending {
                    Some((ps, pe)) if ws <= pe && we.saturating_sub(ps) <= MAX_WINDOW => {
                        if let Some(p) = scratch.pending.get_mut(i) {
                            *p = Some((ps, pe.max(we)));
                        }
                    }
                    Some((ps, pe)) => {
                        self.run_window(scratch, i, ps, pe, hay, path);
                        if let Some(p) = scratch.pending.get_mut(i) {
                            *p = Some((ws, we));
                        }
                    }
                    None => {
                        if let Some(p) = scratch.pending.get_mut(i) {
                            *p = Some((ws, we));
                        }
                    }
                }
            }
            if scratch.out.len() >= FLUSH_AT {
                // No match found from now on starts before the earliest
                // pending window or before the next hit's earliest window.
                let low = scratch
                    .pending
                    .iter()
                    .flatten()
                    .map(|&(ws, _)| ws)
                    .min()
                    .unwrap_or(usize::MAX)
                    .min(pos.saturating_sub(self.max_regex_len))
                    .saturating_sub(Check::KEY_REACH);
                self.emit(scratch, hay, &report, low, sink);
            }
        }
        for i in 0..self.rules.len() {
            if let Some((ws, we)) = scratch.pending.get_mut(i).and_then(Option::take) {
                self.run_window(scratch, i, ws, we, hay, path);
            }
        }
        self.emit(scratch, hay, &report, usize::MAX, sink);
    }

    /// Runs rule `i`'s regex over `hay[ws..we]` and queues what passes.
    fn run_window(
        &self,
        scratch: &mut Scratch,
        i: usize,
        ws: usize,
        we: usize,
        hay: &[u8],
        path: Option<&str>,
    ) {
        let Some(rule) = self.rules.get(i) else {
            return;
        };
        let Some(re) = rule.regex.as_ref().and_then(RuleRegex::get) else {
            return;
        };
        let mut at = ws.max(scratch.last_end.get(i).copied().unwrap_or(0));
        while at < we {
            let found = {
                let Some(slot) = scratch.caches.get_mut(i) else {
                    return;
                };
                let cache = slot.get_or_insert_with(|| re.create_cache());
                re.search_with(cache, &Input::new(hay).range(at..we))
            };
            let Some(m) = found else { break };
            if m.end() == we && we < hay.len() {
                // Possibly cut by the window: its anchor lies beyond, and
                // that anchor's window finds it whole.
                break;
            }
            at = if m.is_empty() { m.end() + 1 } else { m.end() };
            if let Some(last) = scratch.last_end.get_mut(i) {
                *last = m.end();
            }
            if let Some(c) = self.consider(scratch, i, m.start(), m.end(), hay, path) {
                scratch.out.push(c);
            }
        }
    }

    /// Applies a rule's secret extraction, checks and allowlists to one
    /// regex match.
    fn consider(
        &self,
        scratch: &mut Scratch,
        i: usize,
        mut start: usize,
        end: usize,
        hay: &[u8],
        path: Option<&str>,
    ) -> Option<Candidate> {
        let rule = self.rules.get(i)?;
        let re = rule.regex.as_ref()?.get()?;
        if rule.word_start && !checks::word_start_ok(hay, start) {
            return None;
        }
        let (mut ss, mut se) = (start, end);
        if rule.groups > 0 {
            let cache = scratch
                .caches
                .get_mut(i)?
                .get_or_insert_with(|| re.create_cache());
            let caps = scratch
                .caps
                .get_mut(i)?
                .get_or_insert_with(|| re.create_captures());
            let input = Input::new(hay).range(start..end).anchored(Anchored::Yes);
            re.search_captures_with(cache, &input, caps);
            let span = if rule.secret_group > 0 {
                caps.get_group(rule.secret_group)
            } else {
                (1..=rule.groups)
                    .filter_map(|g| caps.get_group(g))
                    .find(|s| !s.is_empty())
            };
            if let Some(span) = span {
                (ss, se) = (span.start, span.end);
            }
        }
        let mut m_end = end;
        let mut encrypted = false;
        let mut evidence = None;
        match rule.check {
            Check::None => {}
            Check::PrivateKey => {
                let block = checks::inspect_private_key(hay, start, end)?;
                let header = String::from_utf8_lossy(hay.get(start..end)?).into_owned();
                (ss, se, m_end) = (start, block.end, block.end);
                encrypted = block.encrypted;
                evidence = Some(format!("{header} {}", redact_suffix(hay.get(ss..se)?)));
            }
            Check::Jwt => {
                if !checks::jwt_ok(hay.get(ss..se)?) {
                    return None;
                }
            }
            Check::DockerAuth => {
                if !checks::docker_auth_ok(hay.get(ss..se)?) {
                    return None;
                }
            }
            Check::ServiceAccount => {
                if !checks::service_account_near(hay, start, end) {
                    return None;
                }
            }
            Check::PasswordAssignment { line_start } => {
                start = checks::password_key_start(hay, start, line_start)?;
                if line_start
                    && !(checks::value_ends_line(hay, se)
                        && checks::config_value_ok(hay.get(ss..se)?))
                {
                    return None;
                }
            }
        }
        let secret = hay.get(ss..se)?;
        if secret.is_empty() {
            return None;
        }
        if rule.token_boundary && !checks::token_bounded(hay, ss, se) {
            return None;
        }
        if rule.min_char_classes > 0
            && checks::char_classes(secret.get(rule.class_skip..).unwrap_or(&[]))
                < rule.min_char_classes
        {
            return None;
        }
        if rule.placeholder_filter && is_placeholder(secret) {
            return None;
        }
        if let Some(min) = rule.entropy {
            if shannon_entropy(secret) <= min {
                return None;
            }
        }
        if !rule.allowlists.is_empty() || !self.global.is_empty() {
            let matched = hay.get(start..m_end)?;
            let line = line_around(hay, start, m_end);
            if self
                .global
                .iter()
                .chain(&rule.allowlists)
                .any(|a| a.allows(path, secret, matched, line))
            {
                return None;
            }
        }
        let severity = if rule.check == Check::PrivateKey {
            private_key_severity(encrypted)
        } else {
            rule.severity
        };
        Some(Candidate {
            rule: u32::try_from(i).ok()?,
            m: Match {
                rule_id: rule.id.clone(),
                detector: rule.detector.clone(),
                severity,
                start,
                end: m_end,
                secret_start: ss,
                secret_end: se,
                encrypted,
                evidence: evidence.unwrap_or_else(|| redact(secret)),
                line: 0,
            },
        })
    }

    /// Reports queued matches that start before `upto`, in offset order,
    /// dropping duplicates (same finding id, same secret bytes) and those
    /// outside `report` (they were only needed to suppress duplicates).
    fn emit(
        &self,
        scratch: &mut Scratch,
        hay: &[u8],
        report: &Range<usize>,
        upto: usize,
        sink: &mut dyn FnMut(Match),
    ) {
        let out = &mut scratch.out;
        out.sort_by_key(|c| (c.m.start, c.rule, c.m.secret_start, c.m.secret_end));
        let n = out.partition_point(|c| c.m.start < upto);
        for c in out.drain(..n) {
            let group = self
                .rules
                .get(c.rule as usize)
                .map_or(u32::MAX, |r| r.dedupe_group);
            let key = (group, c.m.secret_start, c.m.secret_end);
            if scratch.recent.contains(&key) {
                continue;
            }
            scratch.recent.push(key);
            if report.contains(&c.m.start) {
                let mut m = c.m;
                m.line = scratch.lines.line_at(hay, m.start);
                sink(m);
            }
        }
        // A later match starts at or after `upto`, so its secret does too:
        // keys of secrets that start before can no longer repeat.
        scratch.recent.retain(|&(_, ss, _)| ss >= upto);
    }
}

/// The line(s) around `hay[start..end]`, at most [`LINE_CONTEXT`] bytes
/// either side.
fn line_around(hay: &[u8], start: usize, end: usize) -> &[u8] {
    let from = start.saturating_sub(LINE_CONTEXT);
    let line_start = hay
        .get(from..start)
        .and_then(|w| memchr::memrchr(b'\n', w))
        .map_or(from, |p| from + p + 1);
    let to = end.saturating_add(LINE_CONTEXT).min(hay.len());
    let line_end = hay
        .get(end..to)
        .and_then(|w| memchr::memchr(b'\n', w))
        .map_or(to, |p| end + p);
    hay.get(line_start..line_end).unwrap_or(&[])
}
