//! Custom rules in gitleaks' configuration format (`--rules FILE`).
//!
//! Supported, with gitleaks' meaning:
//! - `[[rules]]`: `id` (required), `description`, `regex`, `secretGroup`,
//!   `entropy`, `keywords`, `path`, `tags`, `skipReport` (such rules are
//!   dropped: they only feed composite rules), the rule allowlist as
//!   `[rules.allowlist]` (old form) or `[[rules.allowlists]]` (not both).
//! - allowlists: `description`, `condition` (`OR`/`AND`), `paths`,
//!   `regexes`, `regexTarget` (`secret`, `match`, `line`), `stopwords`,
//!   `commits` (never match: a disk image has no commits).
//! - global `[allowlist]` or `[[allowlists]]` (with `targetRules`).
//! - `[extend]`: `useDefault` is accepted and has no effect (snapaudit's own
//!   rules are always on; merge with [`RuleSet::builtin`]), `disabledRules`
//!   removes those ids from the set this one is merged into; `path`/`url`
//!   are refused (concatenate the files instead).
//!
//! Keys are matched case-insensitively, as gitleaks' config loader (viper)
//! does. Refused with an error: `[[rules.required]]` composite rules, a rule
//! with neither `regex` nor `path`, a `secretGroup` beyond the regex's
//! groups, an allowlist with no criterion.
//!
//! Differences from gitleaks, both forced by scanning a disk image at memory
//! speed in bounded windows: a rule's keywords are its prefilter anchors, so
//! a match is reported only if it lies within the rule's maximum match
//! length of a keyword (gitleaks: anywhere in the same file); and a rule
//! without keywords gets its anchors from the literals its regex requires
//! (`ocid1.` in `ocid[123]\.…`) — if there are none of at least 3 bytes,
//! `Scanner::new` refuses the rule rather than run its regex over every
//! byte of the image.

use toml::{Table, Value};

use super::rule::{Allowlist, Keyword, RegexTarget, Rule, RuleSet};
use crate::{Error, Result};

fn get<'a>(table: &'a Table, key: &str) -> Option<&'a Value> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn err(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("gitleaks rules: {what}"))
}

fn string(table: &Table, key: &str, ctx: &str) -> Result<Option<String>> {
    match get(table, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(err(format!(
            "{ctx}: `{key}` must be a string, not {}",
            other.type_str()
        ))),
    }
}

fn strings(table: &Table, key: &str, ctx: &str) -> Result<Vec<String>> {
    match get(table, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(err(format!(
                    "{ctx}: `{key}` must hold strings, not {}",
                    other.type_str()
                ))),
            })
            .collect(),
        Some(other) => Err(err(format!(
            "{ctx}: `{key}` must be an array, not {}",
            other.type_str()
        ))),
    }
}

fn tables<'a>(table: &'a Table, key: &str, ctx: &str) -> Result<Vec<&'a Table>> {
    match get(table, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Table(t) => Ok(t),
                other => Err(err(format!(
                    "{ctx}: `{key}` must hold tables, not {}",
                    other.type_str()
                ))),
            })
            .collect(),
        Some(Value::Table(t)) => Ok(vec![t]),
        Some(other) => Err(err(format!(
            "{ctx}: `{key}` must be a table, not {}",
            other.type_str()
        ))),
    }
}

fn boolean(table: &Table, key: &str, ctx: &str) -> Result<bool> {
    match get(table, key) {
        None => Ok(false),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(other) => Err(err(format!(
            "{ctx}: `{key}` must be a boolean, not {}",
            other.type_str()
        ))),
    }
}

pub(crate) fn parse(text: &str) -> Result<RuleSet> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.to_string().trim_end()))?;
    let mut set = RuleSet::empty();

    if let Some(extend) = tables(&doc, "extend", "[extend]")?.first() {
        if get(extend, "path").is_some() || get(extend, "url").is_some() {
            return Err(err(
                "[extend] path/url is not supported; concatenate the files instead",
            ));
        }
        set.disabled = strings(extend, "disabledRules", "[extend]")?;
    }

    for rule in tables(&doc, "rules", "[[rules]]")? {
        if let Some(rule) = parse_rule(rule)? {
            set.rules.push(rule);
        }
    }

    let old = get(&doc, "allowlist").is_some();
    let new = get(&doc, "allowlists").is_some();
    if old && new {
        return Err(err(
            "[allowlist] is deprecated and cannot be used alongside [[allowlists]]",
        ));
    }
    for table in tables(&doc, "allowlist", "[allowlist]")?
        .into_iter()
        .chain(tables(&doc, "allowlists", "[[allowlists]]")?)
    {
        let mut allowlist = parse_allowlist(table, "global allowlist")?;
        allowlist.target_rules = strings(table, "targetRules", "global allowlist")?;
        set.allowlists.push(allowlist);
    }
    for allowlist in &set.allowlists {
        for target in &allowlist.target_rules {
            if !set.rules.iter().any(|r| r.id == *target) {
                // gitleaks checks this after `extend`; built-in detectors are
                // valid targets too, so only unknown-everywhere ids fail.
                let builtin = super::builtin::rules();
                if !builtin
                    .iter()
                    .any(|r| r.id == *target || r.detector == *target)
                {
                    return Err(err(format!(
                        "allowlist target rule `{target}` does not exist"
                    )));
                }
            }
        }
    }
    Ok(set)
}

fn parse_rule(table: &Table) -> Result<Option<Rule>> {
    let id = string(table, "id", "[[rules]]")?.unwrap_or_default();
    if id.trim().is_empty() {
        return Err(err("a [[rules]] entry has no `id`"));
    }
    let ctx = format!("rule `{id}`");
    if !tables(table, "required", &ctx)?.is_empty() {
        return Err(err(format!(
            "{ctx}: composite rules ([[rules.required]]) are not supported"
        )));
    }
    if boolean(table, "skipReport", &ctx)? {
        return Ok(None);
    }
    let regex = string(table, "regex", &ctx)?.filter(|r| !r.is_empty());
    let path = string(table, "path", &ctx)?.filter(|p| !p.is_empty());
    if regex.is_none() && path.is_none() {
        return Err(err(format!(
            "{ctx}: both `regex` and `path` are empty, the rule would have no effect"
        )));
    }
    let secret_group = match get(table, "secretGroup") {
        None => 0,
        Some(Value::Integer(n)) => usize::try_from(*n)
            .map_err(|_| err(format!("{ctx}: `secretGroup` must not be negative")))?,
        Some(other) => {
            return Err(err(format!(
                "{ctx}: `secretGroup` must be an integer, not {}",
                other.type_str()
            )));
        }
    };
    let entropy = match get(table, "entropy") {
        None => None,
        Some(Value::Float(f)) => Some(*f),
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(other) => {
            return Err(err(format!(
                "{ctx}: `entropy` must be a number, not {}",
                other.type_str()
            )));
        }
    }
    .filter(|e| *e != 0.0);

    let old = get(table, "allowlist").is_some();
    let new = get(table, "allowlists").is_some();
    if old && new {
        return Err(err(format!(
            "{ctx}: [rules.allowlist] is deprecated and cannot be used alongside [[rules.allowlists]]"
        )));
    }
    let mut allowlists = Vec::new();
    for t in tables(table, "allowlist", &ctx)?
        .into_iter()
        .chain(tables(table, "allowlists", &ctx)?)
    {
        allowlists.push(parse_allowlist(t, &ctx)?);
    }

    let mut rule = Rule::new(&id, regex.as_deref().unwrap_or(""));
    rule.regex = regex;
    rule.description = string(table, "description", &ctx)?.unwrap_or_default();
    rule.secret_group = secret_group;
    rule.entropy = entropy;
    rule.path = path;
    rule.allowlists = allowlists;
    rule.tags = strings(table, "tags", &ctx)?;
    // gitleaks lowercases keywords and compares them with the lowercased
    // text: they are case-insensitive.
    rule.keywords = strings(table, "keywords", &ctx)?
        .into_iter()
        .filter(|k| !k.is_empty())
        .map(|k| Keyword {
            text: k.to_ascii_lowercase(),
            case_sensitive: false,
        })
        .collect();
    Ok(Some(rule))
}

fn parse_allowlist(table: &Table, ctx: &str) -> Result<Allowlist> {
    let ctx = format!("{ctx} allowlist");
    let and = match string(table, "condition", &ctx)?
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "" | "OR" | "||" => false,
        "AND" | "&&" => true,
        other => {
            return Err(err(format!(
                "{ctx}: unknown condition `{other}` (expected AND or OR)"
            )));
        }
    };
    let regex_target = match string(table, "regexTarget", &ctx)?
        .unwrap_or_default()
        .as_str()
    {
        "" | "secret" => RegexTarget::Secret,
        "match" => RegexTarget::Match,
        "line" => RegexTarget::Line,
        other => {
            return Err(err(format!(
                "{ctx}: unknown regexTarget `{other}` (expected secret, match or line)"
            )));
        }
    };
    let allowlist = Allowlist {
        description: string(table, "description", &ctx)?.unwrap_or_default(),
        and,
        paths: strings(table, "paths", &ctx)?,
        regexes: strings(table, "regexes", &ctx)?,
        regex_target,
        stopwords: strings(table, "stopwords", &ctx)?
            .into_iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        commits: strings(table, "commits", &ctx)?,
        target_rules: Vec::new(),
    };
    if allowlist.paths.is_empty()
        && allowlist.regexes.is_empty()
        && allowlist.stopwords.is_empty()
        && allowlist.commits.is_empty()
    {
        return Err(err(format!(
            "{ctx}: must contain at least one check for: commits, paths, regexes, or stopwords"
        )));
    }
    Ok(allowlist)
}
