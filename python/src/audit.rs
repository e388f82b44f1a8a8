//! The two audits the binding runs on an open image, shared by
//! `Image.check` / `Image.scan` and the batch workers: rules (+ scan) and
//! the scan alone. They take the image, never its path: an image opened
//! with `mmap=False`, or expanded from a `.raw.tar.gz`, is audited as it was
//! opened, not opened a second time.

use snapaudit::image::Image;
use snapaudit::report::Report;

use crate::errors::Native;

/// Rules (profile `profile`) plus, when `scan`, the sensitive-data scan of
/// `image`, reported under the path the caller wrote (`shown_path`).
/// `Err(Failure::Core(_))` only when the image cannot be audited at all;
/// everything else is a finding.
pub(crate) fn check_image(
    image: &Image,
    shown_path: &str,
    profile: &str,
    scan: bool,
    rules: Option<&str>,
) -> Native<Report> {
    let options = snapaudit::rules::CheckOptions {
        profile: snapaudit::rules::Profile::by_name(profile)?,
        scan: if scan {
            snapaudit::rules::ScanPolicy::Scan
        } else {
            snapaudit::rules::ScanPolicy::Skip
        },
        root_partition: None,
    };
    let scan_options = scan_options(rules)?;
    let mut report = snapaudit::rules::check_with(image, &options, scan_options.as_ref())?;
    // As the CLI does: the path as the caller wrote it.
    report.image.path = shown_path.to_string();
    Ok(report)
}

/// The sensitive-data scan alone (data disks: no boot rules), with the
/// built-in rules plus `rules` (gitleaks TOML) when given.
pub(crate) fn scan_image(image: &Image, shown_path: &str, rules: Option<&str>) -> Native<Report> {
    let mut report = match scan_options(rules)? {
        Some(options) => snapaudit::scan::scan_report(image, &options)?,
        None => image.scan()?,
    };
    report.image.path = shown_path.to_string();
    Ok(report)
}

/// The scan options of custom rules (gitleaks TOML text) added to the
/// built-in ones, as `snapaudit check --rules FILE` builds them; `None` for
/// the built-in rules alone.
fn scan_options(rules: Option<&str>) -> Native<Option<snapaudit::scan::ScanOptions>> {
    Ok(match rules {
        None => None,
        Some(text) => {
            let custom = snapaudit::scan::RuleSet::from_gitleaks_toml(text)?;
            Some(snapaudit::scan::ScanOptions::with_rules(custom)?)
        }
    })
}
