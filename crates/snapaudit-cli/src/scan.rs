//! `snapaudit scan`: the sensitive-data scan of data disks (secrets and the
//! hygiene rules that apply to any disk; no boot rules), and the pieces
//! `check` shares with it: custom rules (`--rules`) and the byte progress
//! bar.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::rules::Profile;
use snapaudit::scan::{RuleSet, ScanOptions, ScanProgress, scan_report};

use crate::args::{Common, ScanArgs};
use crate::check::audit_all;

pub fn run(common: &Common, args: &ScanArgs) -> Result<ExitCode> {
    let accept = crate::accept::Accept::load(&args.accept)?;
    let progress = ByteProgress::start(common, &args.images);
    let options = scan_options(args.rules.as_deref(), progress.as_ref())?;
    let audit = |image: &Image| {
        let mut report = scan_report(image, &options)?;
        // --partition N: the findings inside partition N (0, the whole
        // disk, is all of them). The scan itself still covers the disk, so
        // a secret is found the same way with or without the option.
        if let Some(n) = common.partition {
            PartitionTable::read_disk(image)?.select(image, n)?;
            if n != 0 {
                report.findings.retain(|f| f.location.partition == Some(n));
                report.finish();
            }
        }
        Ok(report)
    };
    let code = audit_all(
        common,
        &args.images,
        Profile::default().name(),
        &audit,
        progress.as_ref(),
        &accept,
    );
    if let Some(p) = progress {
        p.finish();
    }
    code
}

/// The scan's rules: the built-in ones, plus `rules` (gitleaks TOML) when
/// given; progress goes to `progress`.
pub fn scan_options(rules: Option<&Path>, progress: Option<&ByteProgress>) -> Result<ScanOptions> {
    let options = match rules {
        None => ScanOptions::builtin()?,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read rules file {}", path.display()))?;
            let custom = RuleSet::from_gitleaks_toml(&text)
                .with_context(|| format!("rules file {}", path.display()))?;
            ScanOptions::with_rules(custom)
                .with_context(|| format!("rules file {}", path.display()))?
        }
    };
    Ok(match progress {
        Some(p) => options.with_progress(p.shared.clone()),
        None => options,
    })
}

/// A progress bar of bytes scanned (with bytes/s) on stderr, drawn by a
/// thread of its own that polls the scan's counters: only when stderr is a
/// terminal.
pub struct ByteProgress {
    shared: Arc<ScanProgress>,
    bar: indicatif::ProgressBar,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ByteProgress {
    /// `None` when stderr is not a terminal.
    pub fn start(common: &Common, images: &[PathBuf]) -> Option<ByteProgress> {
        if common.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let shared = ScanProgress::new();
        // Hidden until the scan has planned its work and knows the total.
        let bar = indicatif::ProgressBar::hidden();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(match images {
            [one] => format!("scanning {}", one.display()),
            _ => format!("scanning {} images", images.len()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, bar, stop) = (shared.clone(), bar.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let total = shared.total_bytes();
                    if total > 0 {
                        if bar.is_hidden() {
                            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                        }
                        bar.set_length(total);
                        bar.set_position(shared.done_bytes());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Some(ByteProgress {
            shared,
            bar,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the drawing thread and removes the bar (before the reports
    /// are written).
    pub fn clear(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }

    /// Runs `f` (which prints) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// [`ByteProgress::clear`], taking ownership.
    pub fn finish(self) {
        self.clear();
    }
}
