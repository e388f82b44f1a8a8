//! SARIF 2.1.0 output, so code-scanning dashboards can show reports.
//!
//! One run per image. Findings with a path point at that path inside the
//! image (`image.raw#/etc/fstab` would not be a valid URI, so the path is the
//! artifact and the image is named in the run's properties); findings
//! without one point at the image file with a byte region.

use serde_json::{Value, json};

use super::suppress::SARIF_FINGERPRINT_KEY;
use super::{Finding, Report, Severity};
use crate::rules::catalogue;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn result(report: &Report, f: &Finding) -> Value {
    let mut region = serde_json::Map::new();
    if let Some(line) = f.location.line {
        region.insert("startLine".into(), json!(line));
    }
    if f.location.path.is_none() || f.location.line.is_none() {
        if let Some(off) = f.location.offset_bytes {
            region.insert("byteOffset".into(), json!(off));
            region.insert(
                "byteLength".into(),
                json!(f.location.length_bytes.unwrap_or(0)),
            );
        }
    }
    let uri = match &f.location.path {
        Some(p) if p != "unallocated" => p.trim_start_matches('/').to_string(),
        _ => report.image.path.clone(),
    };
    let mut physical = json!({ "artifactLocation": { "uri": uri } });
    if !region.is_empty() {
        physical["region"] = Value::Object(region);
    }
    let mut text = f.message.clone();
    if let Some(r) = &f.remediation {
        text.push_str(" Fix: ");
        text.push_str(r);
    }
    let fingerprint = f
        .fingerprint
        .clone()
        .unwrap_or_else(|| f.compute_fingerprint());
    let mut res = json!({
        "ruleId": f.rule,
        "level": level(f.severity),
        "message": { "text": text },
        "locations": [ { "physicalLocation": physical } ],
        "partialFingerprints": { SARIF_FINGERPRINT_KEY: fingerprint },
    });
    let mut props = serde_json::Map::new();
    if let Some(p) = f.location.partition {
        props.insert("partition".into(), json!(p));
    }
    if let Some(e) = &f.evidence {
        props.insert("evidence".into(), json!(e));
    }
    if f.vendor {
        props.insert("vendor".into(), json!(true));
    }
    if !props.is_empty() {
        res["properties"] = Value::Object(props);
    }
    res
}

fn run(report: &Report) -> Value {
    let mut ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| {
            let summary = catalogue::info(id).map_or("custom rule", |r| r.summary);
            json!({ "id": id, "shortDescription": { "text": summary } })
        })
        .collect();
    let mut run = json!({
        "tool": { "driver": {
            "name": "snapaudit",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "results": report.findings.iter().map(|f| result(report, f)).collect::<Vec<_>>(),
        "properties": {
            "image": report.image.path,
            "profile": report.profile,
            "verdict": report.summary.verdict,
            // A qcow2 or compressed input is read as the disk it expands
            // to; byteOffset regions count from byte 0 of that disk.
            "byteOffsets": "into the expanded virtual disk (after decompression and container mapping), not into the image file",
        },
    });
    if let Some(err) = &report.error {
        run["invocations"] = json!([{ "executionSuccessful": false,
            "toolExecutionNotifications": [{ "level": "error", "message": { "text": err } }] }]);
    }
    run
}

/// One SARIF log with a run per report.
pub fn to_sarif(reports: &[Report]) -> Value {
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": reports.iter().map(run).collect::<Vec<_>>(),
    })
}
