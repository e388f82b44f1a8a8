//! `snapaudit sanitize IMAGE -o OUT`: audit the image (rules and scan),
//! plan the fixes, write a sanitized copy, and say what was done and what
//! was not.
//!
//! Exit codes: 0 when every error finding was fixed; 1 when error findings
//! remain that need a person; 2 when nothing was written (bad arguments,
//! unreadable image, a refused filesystem).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use snapaudit::report::Severity;
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy};
use snapaudit::sanitize::{
    ApplyOptions, FreeBlockStats, FreeSpacePolicy, LogPolicy, Outcome, OutputFormat, Plan,
    PlanOptions, WriteMode, apply, free_block_stats,
};

use crate::args::{Common, Format, SanitizeArgs};

/// The JSON document `--format json` prints.
#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    plan: &'a Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    free_blocks_before: Option<&'a [FreeBlockStats]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    free_blocks_after: Option<&'a [FreeBlockStats]>,
}

pub fn run(common: &Common, args: &SanitizeArgs) -> Result<ExitCode> {
    if common.format == Format::Sarif {
        bail!("sanitize prints human or JSON output, not SARIF");
    }
    if common.partition.is_some() {
        // The plan fixes the root filesystem the audit finds by content;
        // a chosen partition would audit one filesystem and fix another.
        bail!(
            "sanitize does not take --partition: it fixes the root filesystem it finds by content (see `snapaudit check` for the findings)"
        );
    }
    if let (Some(out), false, false) = (&args.output, args.in_place, args.plan_only) {
        // Refused before the audit, which can take minutes.
        // The input itself as -o gets the core's own refusal ("is the
        // input image"), which --force does not lift.
        let is_input = match (std::fs::metadata(out), std::fs::metadata(&args.image)) {
            (Ok(o), Ok(i)) => {
                use std::os::unix::fs::MetadataExt;
                (o.dev(), o.ino()) == (i.dev(), i.ino())
            }
            _ => false,
        };
        if out.symlink_metadata().is_ok() && !args.force && !is_input {
            bail!("{} exists; pass --force to replace it", out.display());
        }
        remove_partial_on_interrupt(out)?;
    }
    // The output format is decided before any work, so that a format
    // snapaudit cannot write is refused at once.
    let output_format = match (&args.output_format, &args.output) {
        (Some(name), _) => OutputFormat::by_name(name)?,
        (None, Some(out)) if !args.in_place => OutputFormat::for_path(out)?,
        _ => OutputFormat::Raw,
    };
    let image = crate::open::image(common, &args.image)?;
    let report = snapaudit::rules::check(
        &image,
        &CheckOptions {
            profile: Profile::by_name(&args.profile)?,
            scan: ScanPolicy::Scan,
            root_partition: None,
        },
    )
    .with_context(|| format!("cannot audit {}", args.image.display()))?;
    if let Some(error) = &report.error {
        bail!("cannot audit {}: {error}", args.image.display());
    }
    let options = PlanOptions {
        logs: if args.wipe_logs {
            LogPolicy::Wipe
        } else {
            LogPolicy::Keep
        },
        free_space: if args.no_zero_free {
            FreeSpacePolicy::Keep
        } else {
            FreeSpacePolicy::Zero
        },
    };
    let plan = Plan::from_report(&report, &image, &options)?;

    let mut before = None;
    let mut after = None;
    let mut outcome = None;
    if !args.plan_only && !plan.is_refused() {
        before = Some(free_block_stats(&image)?);
        let (out, mode) = match (&args.output, args.in_place) {
            (_, true) => (args.image.as_path(), WriteMode::InPlace),
            (Some(out), false) => (out.as_path(), WriteMode::NewFile),
            (None, false) => bail!("-o OUT is required (or --plan-only, or --in-place)"),
        };
        let apply_options = ApplyOptions {
            mode,
            format: output_format,
        };
        let done = apply(&image, &plan, out, &apply_options)
            .with_context(|| format!("cannot write {}", out.display()))?;
        // Count again on the written image: deleted data left in free blocks.
        drop(image);
        let written = snapaudit::image::Image::open(out)
            .with_context(|| format!("cannot reopen {}", out.display()))?;
        after = Some(free_block_stats(&written)?);
        outcome = Some(done);
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match common.format {
        Format::Json => {
            let doc = Document {
                schema: "snapaudit.sanitize/1",
                plan: &plan,
                outcome: outcome.as_ref(),
                free_blocks_before: before.as_deref(),
                free_blocks_after: after.as_deref(),
            };
            writeln!(out, "{}", serde_json::to_string(&doc)?)?;
        }
        _ => human(
            &mut out,
            &args.image,
            &plan,
            outcome.as_ref(),
            before.as_deref(),
            after.as_deref(),
        )?,
    }
    out.flush()?;
    if let Some(refusal) = plan.refused.first() {
        // The plan was printed; nothing was written.
        bail!(
            "refusing to sanitize {}: {}",
            args.image.display(),
            refusal.reason
        );
    }
    let errors_left = plan
        .not_fixable
        .iter()
        .any(|n| n.finding.severity == Severity::Error);
    Ok(if errors_left {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// On SIGINT, SIGTERM or SIGHUP, delete the `.NAME.*.partial` file the
/// copy to `out` is being written as (the ones that existed before this run
/// belong to someone else and stay), say so, and exit 130. Without this
/// the default action kills the process and leaves a hidden file the size
/// of the disk.
fn remove_partial_on_interrupt(out: &Path) -> Result<()> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let Some(name) = out.file_name() else {
        bail!("{}: not a file name", out.display());
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let partials = move |dir: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".partial"))
            })
            .collect()
    };
    let before = partials(&dir);
    ctrlc::set_handler(move || {
        for p in partials(&dir) {
            if !before.contains(&p) && std::fs::remove_file(&p).is_ok() {
                eprintln!(
                    "snapaudit: interrupted: removed the partial output {}",
                    p.display()
                );
            }
        }
        eprintln!("snapaudit: interrupted");
        std::process::exit(130);
    })
    .context("cannot install the interrupt handler")?;
    Ok(())
}

fn human(
    out: &mut dyn Write,
    image: &Path,
    plan: &Plan,
    outcome: Option<&Outcome>,
    before: Option<&[FreeBlockStats]>,
    after: Option<&[FreeBlockStats]>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} action(s), {} finding(s) not fixable automatically",
        image.display(),
        plan.actions.len(),
        plan.not_fixable.len()
    )?;
    if !plan.actions.is_empty() {
        writeln!(out, "\nactions")?;
        for a in &plan.actions {
            writeln!(out, "  {:<15} {}", a.op.as_str(), a.description)?;
            for f in &a.fixes {
                writeln!(
                    out,
                    "      fixes {} ({}){}",
                    f.rule,
                    f.severity,
                    crate::render::location_suffix(&f.location, None)
                )?;
            }
        }
    }
    if !plan.not_fixable.is_empty() {
        writeln!(out, "\nnot fixable automatically")?;
        for n in &plan.not_fixable {
            writeln!(
                out,
                "  {} ({}){}",
                n.finding.rule,
                n.finding.severity,
                crate::render::location_suffix(&n.finding.location, None)
            )?;
            writeln!(out, "      why: {}", n.reason)?;
        }
    }
    for r in &plan.refused {
        writeln!(out, "\nrefused: {}", r.reason)?;
    }
    if let Some(o) = outcome {
        writeln!(
            out,
            "\nwritten: {} ({}; {} bytes copied, {} bytes zeroed, {} bytes patched) in {} ms",
            o.output,
            o.method.as_str(),
            o.bytes_copied,
            o.bytes_zeroed,
            o.bytes_patched,
            o.elapsed_ms
        )?;
    } else if plan.refused.is_empty() {
        writeln!(out, "\nplan only: nothing written")?;
    }
    if let (Some(before), Some(after)) = (before, after) {
        for b in before {
            let a = after.iter().find(|a| a.partition == b.partition);
            writeln!(
                out,
                "free blocks holding data, partition {}: {} before, {} after (of {} free {}-byte blocks)",
                b.partition,
                b.nonzero_free_blocks,
                a.map_or_else(|| "?".to_string(), |a| a.nonzero_free_blocks.to_string()),
                a.map_or(b.free_blocks, |a| a.free_blocks),
                b.block_size_bytes
            )?;
        }
    }
    Ok(())
}
