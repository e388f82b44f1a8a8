//! `snapaudit rules`, `explain`, `completions` and `manpage`: what the
//! tool checks and how to call it, from the rule catalogue
//! (`snapaudit::rules::catalogue`) and docs/RULES.md.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::CommandFactory;
use serde::Serialize;
use snapaudit::report::{Finding, Severity};
use snapaudit::rules::Profile;
use snapaudit::rules::catalogue::{RULES, RuleInfo, Scope};

use crate::args::{Cli, Common, CompletionsArgs, ExplainArgs, Format, RulesArgs, Shell};

/// The rule catalogue document, for `explain`'s "fires when" rows.
const RULES_MD: &str = include_str!("../../../docs/RULES.md");

#[derive(Serialize)]
struct RuleRow {
    id: &'static str,
    summary: &'static str,
    /// `system-disk` (`check` only) or `any-disk` (`check` and `scan`).
    scope: &'static str,
    /// Set when the profile reports the rule's findings at most at this
    /// severity (e.g. `generic`'s SELinux as `info`).
    #[serde(skip_serializing_if = "Option::is_none")]
    max_severity: Option<&'static str>,
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::SystemDisk => "system-disk",
        Scope::AnyDisk => "any-disk",
    }
}

/// The catalogue as `profile` runs it: dropped rules left out, re-graded
/// ones marked (probed through the profile's own policy).
fn rows(profile: &Profile) -> Vec<RuleRow> {
    RULES
        .iter()
        .filter_map(|r: &RuleInfo| {
            let probe = profile.adjust(Finding::new(r.id, Severity::Error, ""))?;
            Some(RuleRow {
                id: r.id,
                summary: r.summary,
                scope: scope_name(r.scope),
                max_severity: (probe.severity != Severity::Error).then(|| probe.severity.as_str()),
            })
        })
        .collect()
}

pub fn list(common: &Common, args: &RulesArgs) -> Result<ExitCode> {
    let profile = Profile::by_name(&args.profile)?;
    let rows = rows(&profile);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match common.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&rows)?)?,
        Format::Markdown => {
            writeln!(out, "| id | scope | checks |")?;
            writeln!(out, "|---|---|---|")?;
            for r in &rows {
                let note = r
                    .max_severity
                    .map(|s| format!(" (at most {s} under `{}`)", profile.name()))
                    .unwrap_or_default();
                writeln!(out, "| `{}` | {} | {}{note} |", r.id, r.scope, r.summary)?;
            }
        }
        Format::Human => {
            let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(0);
            for r in &rows {
                let note = r
                    .max_severity
                    .map(|s| format!(" [at most {s}]"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<width$}  {:<11}  {}{note}",
                    r.id, r.scope, r.summary
                )?;
            }
        }
        Format::Sarif => bail!("rules prints human, markdown or JSON output, not SARIF"),
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let Some(rule) = snapaudit::rules::catalogue::info(&args.rule) else {
        let near = closest(&args.rule);
        bail!(
            "unknown rule {:?}{}; `snapaudit rules` lists them all",
            args.rule,
            if near.is_empty() {
                String::new()
            } else {
                format!(" (closest: {})", near.join(", "))
            }
        );
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}: {}", rule.id, rule.summary)?;
    writeln!(
        out,
        "runs in: {}",
        match rule.scope {
            Scope::SystemDisk => "check (system disks)",
            Scope::AnyDisk => "check and scan (any disk)",
        }
    )?;
    let fires = fires_when(rule.id);
    if !fires.is_empty() {
        writeln!(out, "\nfires when (severity under alibaba-ecs):")?;
        for (when, severity) in fires {
            writeln!(out, "  - {when} [{severity}]")?;
        }
    }
    for name in Profile::names() {
        let profile = Profile::by_name(name)?;
        match profile.adjust(Finding::new(rule.id, Severity::Error, "")) {
            None => writeln!(out, "\nprofile {name}: does not run this rule")?,
            Some(f) if f.severity != Severity::Error => {
                writeln!(out, "\nprofile {name}: reported at most as {}", f.severity)?
            }
            Some(_) => {}
        }
    }
    writeln!(
        out,
        "\nsee docs/RULES.md for the rule group and its sources"
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The RULES.md table rows of `id`: (fires when, severity), the id's own
/// row and the continuation rows (empty first cell) after it.
fn fires_when(id: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in RULES_MD.lines() {
        let Some(row) = line.strip_prefix('|') else {
            inside = false;
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let [first, when, severity, ..] = cells.as_slice() else {
            continue;
        };
        if first.trim_matches('`') == id && first.starts_with('`') {
            inside = true;
        } else if !first.is_empty() {
            inside = false;
        }
        if inside && !when.is_empty() {
            out.push((when.to_string(), severity.to_string()));
        }
    }
    out
}

/// Up to three catalogue ids nearest `wanted` (edit distance, or sharing
/// its group prefix).
fn closest(wanted: &str) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = RULES
        .iter()
        .map(|r| (edit_distance(wanted, r.id), r.id))
        .filter(|(d, id)| *d <= (wanted.len() / 3).max(3) || id.starts_with(&format!("{wanted}.")))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, id)| id).collect()
}

/// Levenshtein distance over chars (ids are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            let del = prev[j + 1] + 1;
            let ins = cur[j] + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "snapaudit", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn manpage() -> Result<ExitCode> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = std::io::stdout().lock();
    man.render(&mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance, fires_when};

    #[test]
    fn near_misses_find_their_rule() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("fstab.datadisk")[0], "fstab.data-disk");
        assert!(closest("fstab").iter().all(|id| id.starts_with("fstab.")));
        assert!(closest("zzzzzzzzzzzzzzzzzzzzzzz").is_empty());
    }

    #[test]
    fn rules_md_rows_are_found() {
        let rows = fires_when("disk.partition-table");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].1, "error");
        assert_eq!(rows[1].1, "warning");
    }
}
