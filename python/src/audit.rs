//! The two audits the binding runs on a path, shared by `Image.check` /
//! `Image.scan` and the batch workers: rules (+ scan) and the scan alone.

use std::path::Path;

use snapaudit::report::Report;

use crate::errors::Native;

/// Rules (profile `profile`) plus, when `scan`, the sensitive-data scan of
/// the image at `path`. `Err(Failure::Core(_))` only when the image cannot be
/// audited at all; everything else is a finding.
pub(crate) fn check_image(path: &Path, profile: &str, scan: bool) -> Native<Report> {
    let options = snapaudit::rules::CheckOptions {
        profile: snapaudit::rules::Profile::by_name(profile)?,
        scan: if scan {
            snapaudit::rules::ScanPolicy::Scan
        } else {
            snapaudit::rules::ScanPolicy::Skip
        },
        root_partition: None,
    };
    let image = snapaudit::image::Image::open(path)?;
    let mut report = snapaudit::rules::check(&image, &options)?;
    // As the CLI does: the path as the caller wrote it.
    report.image.path = path.display().to_string();
    Ok(report)
}

/// The sensitive-data scan alone (data disks: no boot rules), with the
/// built-in rules.
pub(crate) fn scan_image(path: &Path) -> Native<Report> {
    Ok(snapaudit::scan::scan_image(path)?)
}
