//! The core entry points this binding calls but that have not landed in the
//! core crate yet. Each returns `Err(Failure::NotWired)` (raised in Python as
//! `NotImplementedError`) until the lead wires it: replace the body with the
//! call into `snapaudit`, wrapped in `Ok`/`?`; nothing else in the binding
//! changes. Results are never faked.

use std::path::Path;

use snapaudit::report::Report;

use crate::errors::{Failure, Native};

/// Rules (profile `profile`) plus, when `scan`, the sensitive-data scan of
/// the image at `path`. `Err(Failure::Core(_))` only when the image cannot be
/// audited at all; everything else is a finding.
///
/// Wiring (issue 3): `Ok(snapaudit::check_image(path, profile, scan)?)`.
pub(crate) fn check_image(path: &Path, profile: &str, scan: bool) -> Native<Report> {
    let options = snapaudit::rules::CheckOptions {
        profile: snapaudit::rules::Profile::by_name(profile)?,
        scan: if scan {
            snapaudit::rules::ScanPolicy::Scan
        } else {
            snapaudit::rules::ScanPolicy::Skip
        },
    };
    let image = snapaudit::image::Image::open(path)?;
    let mut report = snapaudit::rules::check(&image, &options)?;
    // As the CLI does: the path as the caller wrote it.
    report.image.path = path.display().to_string();
    Ok(report)
}

/// The sensitive-data scan alone (data disks: no boot rules).
///
/// Wiring (issue 7): `Ok(snapaudit::scan::scan_image(path)?)`.
pub(crate) fn scan_image(path: &Path) -> Native<Report> {
    let _ = path;
    Err(Failure::NotWired("scan lands with issue 7"))
}
