//! Human-readable reports: grouped by severity, coloured when stdout is a
//! terminal, one line per finding plus its remediation, a verdict at the end.

use std::io::Write;

use owo_colors::OwoColorize;
use snapaudit::report::{Finding, Report, Severity};

pub fn human(out: &mut dyn Write, report: &Report, color: bool) -> std::io::Result<()> {
    let paint = |s: &str, sev: Severity| -> String {
        if !color {
            return s.to_string();
        }
        match sev {
            Severity::Error => s.red().bold().to_string(),
            Severity::Warning => s.yellow().bold().to_string(),
            Severity::Info => s.cyan().to_string(),
        }
    };
    writeln!(
        out,
        "{} ({} bytes, {}), profile {}",
        report.image.path, report.image.size_bytes, report.image.format, report.profile
    )?;
    if let Some(err) = &report.error {
        writeln!(out, "  {}: {err}", paint("cannot audit", Severity::Error))?;
        return Ok(());
    }
    let root = report
        .disk
        .partitions
        .iter()
        .find(|p| p.role.as_deref() == Some("root"));
    let os = report
        .system
        .as_ref()
        .and_then(|s| s.os.as_ref())
        .and_then(|o| o.pretty_name.clone().or_else(|| o.id.clone()));
    writeln!(
        out,
        "  disk: {}, {} partition(s){}{}",
        table_words(&report.disk.table),
        report.disk.partitions.len(),
        root.map(|r| format!(
            ", root = partition {} ({})",
            r.index,
            r.fs.as_deref().unwrap_or("?")
        ))
        .or_else(|| {
            let lv = report
                .disk
                .volumes
                .iter()
                .find(|v| v.role.as_deref() == Some("root"))?;
            Some(format!(
                ", root = logical volume {} ({})",
                lv.name,
                lv.fs.as_deref().unwrap_or("?")
            ))
        })
        .unwrap_or_default(),
        os.map(|o| format!(", {o}")).unwrap_or_default()
    )?;
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .collect();
        if group.is_empty() {
            continue;
        }
        writeln!(out)?;
        let title = match sev {
            Severity::Error => "errors",
            Severity::Warning => "warnings",
            Severity::Info => "info",
        };
        writeln!(out, "{} ({})", paint(title, sev), group.len())?;
        for f in group {
            let loc = location(f);
            writeln!(out, "  {} {}{}", paint(&f.rule, sev), f.message, loc)?;
            if let Some(e) = &f.evidence {
                writeln!(out, "      evidence: {e}")?;
            }
            if let Some(r) = &f.remediation {
                writeln!(out, "      fix: {r}")?;
            }
        }
    }
    writeln!(out)?;
    let s = &report.summary;
    let verdict = match s.verdict.as_str() {
        "pass" => paint("PASS", Severity::Info),
        _ => paint("FAIL", Severity::Error),
    };
    let suppressed = if s.suppressed > 0 {
        format!(", {} suppressed", s.suppressed)
    } else {
        String::new()
    };
    writeln!(
        out,
        "verdict: {verdict} — {} error(s), {} warning(s), {} info{suppressed}; {} ms",
        s.errors, s.warnings, s.infos, report.stats.elapsed_ms
    )?;
    Ok(())
}

/// The table kind for people: "gpt table", "no partition table".
pub(crate) fn table_words(kind: &str) -> String {
    match kind {
        "none" => "no partition table".to_string(),
        k => format!("{k} table"),
    }
}

fn location(f: &Finding) -> String {
    location_suffix(&f.location, Some(&f.message))
}

/// ` [path:line, byte N]` for a location. With `message`, the path is left
/// out when the message already names it (and its line, if any).
pub(crate) fn location_suffix(l: &snapaudit::report::Location, message: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &l.volume
        && !message.is_some_and(|m| m.contains(v.as_str()))
    {
        parts.push(format!("volume {v}"));
    }
    if let Some(p) = &l.path {
        let said = message
            .is_some_and(|m| m.contains(p.as_str()) && (l.line.is_none() || m.contains("line")));
        if !said {
            parts.push(match l.line {
                Some(n) => format!("{p}:{n}"),
                None => p.clone(),
            });
        }
    }
    if let Some(o) = l.offset_bytes {
        parts.push(format!("byte {o}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

/// `-q`: one line per finding (`IMAGE: SEVERITY RULE message [where]`),
/// or the error; nothing else.
pub fn quiet(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    if let Some(err) = &report.error {
        return writeln!(out, "{}: cannot audit: {err}", report.image.path);
    }
    for f in &report.findings {
        writeln!(
            out,
            "{}: {} {} {}{}",
            report.image.path,
            f.severity,
            f.rule,
            f.message,
            location(f)
        )?;
    }
    Ok(())
}

/// The line across a batch: images passed, failed, not audited; findings.
pub fn batch_summary(out: &mut dyn Write, reports: &[Report]) -> std::io::Result<()> {
    let failed_audit = reports.iter().filter(|r| r.error.is_some()).count();
    let passed = reports.iter().filter(|r| r.passed()).count();
    let failed = reports.len() - passed - failed_audit;
    let sum = |f: fn(&Report) -> usize| reports.iter().map(f).sum::<usize>();
    let suppressed = sum(|r| r.summary.suppressed);
    writeln!(
        out,
        "{} images: {passed} passed, {failed} failed, {failed_audit} could not be audited; {} error(s), {} warning(s){}",
        reports.len(),
        sum(|r| r.summary.errors),
        sum(|r| r.summary.warnings),
        if suppressed > 0 {
            format!(", {suppressed} suppressed")
        } else {
            String::new()
        }
    )
}
