//! `snapaudit inspect`: the partition table and what each partition holds.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use snapaudit::partition::PartitionTable;
use snapaudit::report::{DiskInfo, ImageInfo, Severity};

use crate::args::{Common, Format, InspectArgs};

/// Schema tag of `inspect --format json`.
const INSPECT_SCHEMA: &str = "snapaudit.inspect/1";

#[derive(Serialize)]
struct Inspect {
    schema: &'static str,
    image: ImageInfo,
    disk: DiskInfo,
    /// Table problems (what `disk.partition-table` reports).
    problems: Vec<Problem>,
    /// The container's internal snapshots (qcow2); the active state is read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    snapshots: Vec<String>,
    /// Backing files below the image, nearest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    backing_chain: Vec<String>,
}

#[derive(Serialize)]
struct Problem {
    severity: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset_bytes: Option<u64>,
}

pub fn run(common: &Common, args: &InspectArgs) -> Result<ExitCode> {
    let image = crate::open::image(common, &args.image)?;
    let mut volumes = snapaudit::volume::Volumes::read_disk(&image)
        .with_context(|| args.image.display().to_string())?;
    let root = snapaudit::ext4::find_root_in(&image, &volumes);
    if let Some(n) = common.partition {
        // Only that partition (0: the whole disk, probed from byte 0).
        volumes.table.partitions = vec![volumes.table.select(&image, n)?];
    }
    let table = &volumes.table;
    let out = Inspect {
        schema: INSPECT_SCHEMA,
        image: ImageInfo {
            path: args.image.display().to_string(),
            size_bytes: image.size_bytes(),
            format: image.format_name(),
        },
        disk: DiskInfo::from_volumes(&volumes, root.as_ref()),
        problems: table
            .problems
            .iter()
            .map(|p| Problem {
                severity: p.severity.to_string(),
                message: p.message.clone(),
                offset_bytes: p.offset_bytes,
            })
            .chain(volumes.lvm.problems.iter().map(|p| Problem {
                severity: "error".to_string(),
                message: p.message.clone(),
                offset_bytes: Some(p.offset_bytes),
            }))
            .collect(),
        snapshots: image.snapshots().to_vec(),
        backing_chain: image
            .backing_chain()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    };
    match common.format {
        Format::Json | Format::Sarif | Format::Markdown => {
            println!("{}", serde_json::to_string(&out)?)
        }
        Format::Human => print_human(&out, table),
    }
    // A table snapaudit could only partly read is a failure of inspect's
    // one job: said on stderr too, exit 2.
    let errors: Vec<&Problem> = out
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error.as_str())
        .collect();
    for p in &errors {
        eprintln!("snapaudit: error: {}: {}", out.image.path, p.message);
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print_human(out: &Inspect, table: &PartitionTable) {
    for b in &out.backing_chain {
        println!("backing file: {b}");
    }
    if !out.snapshots.is_empty() {
        println!(
            "internal snapshots (not read; the active state is): {}",
            out.snapshots.join(", ")
        );
    }
    println!(
        "{}: {} bytes ({}), {}{}",
        out.image.path,
        out.image.size_bytes,
        out.image.format,
        match out.disk.table.as_str() {
            "none" => "no partition table".to_string(),
            t => format!("partition table: {t}"),
        },
        match (&table.disk_id, table.sector_bytes) {
            (Some(id), s) => format!(" (id {id}, {s}-byte sectors)"),
            (None, _) => String::new(),
        }
    );
    println!(
        "{:>3}  {:>14}  {:>14}  {:<20} {:<8} {:<38} {:<16} role",
        "#", "start", "size", "type", "fs", "uuid", "label"
    );
    for p in &out.disk.partitions {
        println!(
            "{:>3}  {:>14}  {:>14}  {:<20} {:<8} {:<38} {:<16} {}",
            p.index,
            p.start_bytes,
            p.size_bytes,
            p.kind,
            p.fs.as_deref().unwrap_or("-"),
            p.uuid.as_deref().unwrap_or("-"),
            p.label.as_deref().unwrap_or("-"),
            p.role.as_deref().unwrap_or("")
        );
    }
    if !out.disk.volumes.is_empty() {
        println!(
            "{:<24}  {:>14}  {:<8} {:<38} {:<16} role",
            "logical volume", "size", "fs", "uuid", "label"
        );
    }
    for v in &out.disk.volumes {
        println!(
            "{:<24}  {:>14}  {:<8} {:<38} {:<16} {}",
            v.name,
            v.size_bytes,
            v.fs.as_deref().unwrap_or("-"),
            v.fs_uuid.as_deref().unwrap_or("-"),
            v.label.as_deref().unwrap_or("-"),
            v.role
                .as_deref()
                .unwrap_or(v.problem.as_deref().unwrap_or(""))
        );
    }
    for p in &out.problems {
        println!("{}: {}", p.severity, p.message);
    }
}
