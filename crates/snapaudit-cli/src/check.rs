//! `snapaudit check`: audit one or many images in parallel.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use rayon::prelude::*;
use snapaudit::image::{Image, OpenOptions, ReadStrategy};
use snapaudit::report::{Report, to_sarif};
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy, check_with};
use snapaudit::scan::ScanOptions;

use crate::accept::Accept;
use crate::args::{CheckArgs, Common, Format};
use crate::scan::{ByteProgress, scan_options};

pub fn run(common: &Common, args: &CheckArgs) -> Result<ExitCode> {
    let profile = Profile::by_name(&args.profile)?;
    let options = CheckOptions {
        profile,
        scan: if args.no_scan {
            ScanPolicy::Skip
        } else {
            ScanPolicy::Scan
        },
        root_partition: common.partition,
    };
    let accept = Accept::load(&args.accept)?;
    if args.no_scan {
        let audit = |image: &Image| check_with(image, &options, None);
        return audit_all(
            common,
            &args.images,
            options.profile.name(),
            &audit,
            None,
            &accept,
        );
    }
    let progress = ByteProgress::start(common, &args.images);
    let scan: ScanOptions = scan_options(args.rules.as_deref(), progress.as_ref())?;
    let audit = |image: &Image| check_with(image, &options, Some(&scan));
    let code = audit_all(
        common,
        &args.images,
        options.profile.name(),
        &audit,
        progress.as_ref(),
        &accept,
    );
    if let Some(p) = progress {
        p.finish();
    }
    code
}

/// Audits every image with `audit` in parallel and writes the reports in
/// `common.format`; the exit code follows DESIGN.md. Without a byte
/// progress bar, a bar counting images shows when there are several and
/// stderr is a terminal.
pub fn audit_all(
    common: &Common,
    images: &[PathBuf],
    profile: &str,
    audit: &(dyn Fn(&Image) -> snapaudit::Result<Report> + Sync),
    bytes: Option<&ByteProgress>,
    accept: &Accept,
) -> Result<ExitCode> {
    let strategy = if common.no_mmap {
        ReadStrategy::Read
    } else {
        ReadStrategy::Mmap
    };
    let bar =
        (!common.quiet && bytes.is_none() && images.len() > 1 && std::io::stderr().is_terminal())
            .then(|| {
                let bar = indicatif::ProgressBar::new(images.len() as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{pos}/{len} images [{bar:30}] {elapsed} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
    // Printing hides the progress bars for the moment it takes.
    let suspend = |f: &mut dyn FnMut()| match (&bar, bytes) {
        (Some(b), _) => b.suspend(f),
        (None, Some(b)) => b.suspend(f),
        (None, None) => f(),
    };
    let stdout = Mutex::new((std::io::stdout(), 0usize));
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // JSON and human output stream each image's report as it finishes (in
    // completion order; each names its image); SARIF is one document, at
    // the end.
    let emit = |r: &Report| {
        let mut guard = stdout.lock().unwrap_or_else(|e| e.into_inner());
        let (out, printed) = &mut *guard;
        let mut write = || {
            let _ = match common.format {
                Format::Json => serde_json::to_string(r)
                    .map_err(std::io::Error::other)
                    .and_then(|line| writeln!(out, "{line}")),
                Format::Human if common.quiet => crate::render::quiet(out, r),
                Format::Human => (if *printed > 0 { writeln!(out) } else { Ok(()) })
                    .and_then(|()| crate::render::human(out, r, color)),
                Format::Sarif | Format::Markdown => Ok(()),
            };
            let _ = out.flush();
        };
        suspend(&mut write);
        *printed += 1;
    };
    let one = |path: &PathBuf| -> Report {
        let mut report = audit_one(
            path,
            strategy,
            common.backing_dir.as_deref(),
            profile,
            audit,
            common.verbose,
        );
        accept.suppressions.apply(&mut report);
        emit(&report);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        report
    };
    let reports: Vec<Report> = images.par_iter().map(one).collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(b) = bytes {
        b.clear();
    }
    let mut guard = stdout.lock().unwrap_or_else(|e| e.into_inner());
    let out = &mut guard.0;
    match common.format {
        Format::Sarif => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&to_sarif(&reports))?
        )?,
        Format::Human if !common.quiet && reports.len() > 1 => {
            writeln!(out)?;
            crate::render::batch_summary(&mut *out, &reports)?;
        }
        _ => {}
    }
    out.flush()?;
    Ok(exit_code(&reports, accept))
}

fn audit_one(
    path: &Path,
    strategy: ReadStrategy,
    backing_dir: Option<&Path>,
    profile: &str,
    audit: &(dyn Fn(&Image) -> snapaudit::Result<Report> + Sync),
    verbose: bool,
) -> Report {
    let started = Instant::now();
    let opened = Image::open_with(
        path,
        OpenOptions {
            strategy,
            backing_dir,
            ..Default::default()
        },
    );
    let info = snapaudit::report::ImageInfo {
        path: path.display().to_string(),
        size_bytes: 0,
        format: "unknown".into(),
    };
    let phase = |what: &str, since: Instant| {
        if verbose {
            eprintln!(
                "snapaudit: {}: {what} in {} ms",
                path.display(),
                since.elapsed().as_millis()
            );
        }
    };
    let audited = opened.and_then(|img| {
        phase(&format!("opened ({})", img.format_name()), started);
        let audit_started = Instant::now();
        let r = audit(&img);
        phase("audited", audit_started);
        r
    });
    match audited {
        Ok(mut r) => {
            // Report the path as the user wrote it.
            r.image.path = path.display().to_string();
            r
        }
        Err(e) => {
            // The report says it too, but a report may be going to a file.
            let path = path.display().to_string();
            eprintln!(
                "snapaudit: error: {}",
                crate::errors::join_once([path.as_str(), &crate::errors::one_line(&e)])
            );
            Report::failed(info, profile, &e)
        }
    }
}

/// 2 if any image could not be audited, else 1 if any has a finding at
/// `--fail-on`'s level (errors by default) that was not suppressed.
pub fn exit_code(reports: &[Report], accept: &Accept) -> ExitCode {
    if reports.iter().any(|r| r.error.is_some()) {
        ExitCode::from(2)
    } else if reports.iter().any(|r| accept.fails(r)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
