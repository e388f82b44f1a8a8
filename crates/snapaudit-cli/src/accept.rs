//! `--baseline`, the ignore file and `--fail-on`: which findings a run
//! reports and which make it fail.

use std::path::Path;

use anyhow::{Context, Result};
use snapaudit::report::{Report, Severity, Suppressions};

use crate::args::{AcceptArgs, FailOn};

/// The ignore file read when `--ignore-file` is not given.
pub const DEFAULT_IGNORE_FILE: &str = ".snapauditignore";

/// What the run accepts and when it fails.
#[derive(Debug)]
pub struct Accept {
    pub suppressions: Suppressions,
    pub fail_on: FailOn,
}

impl Accept {
    /// Reads the baseline and the ignore file the arguments name (or
    /// `./.snapauditignore`).
    pub fn load(args: &AcceptArgs) -> Result<Accept> {
        let mut suppressions = Suppressions::new();
        if let Some(path) = &args.baseline {
            let text = read(path, "baseline")?;
            suppressions
                .add_baseline(&text)
                .with_context(|| format!("baseline {}", path.display()))?;
        }
        let default = Path::new(DEFAULT_IGNORE_FILE);
        let ignore = match &args.ignore_file {
            Some(p) => Some(p.as_path()),
            None => default.is_file().then_some(default),
        };
        if let Some(path) = ignore {
            let text = read(path, "ignore file")?;
            suppressions
                .add_ignore_file(&text)
                .with_context(|| format!("ignore file {}", path.display()))?;
        }
        Ok(Accept {
            suppressions,
            fail_on: args.fail_on,
        })
    }

    /// Whether `report`'s (remaining) findings fail the run.
    pub fn fails(&self, report: &Report) -> bool {
        let at_least = match self.fail_on {
            FailOn::Never => return false,
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
        };
        report.findings.iter().any(|f| f.severity >= at_least)
    }
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}
