//! `Image.sanitize`: plan the fixes of a report and write a sanitized copy,
//! through the core's `sanitize` module. The result crosses into Python as
//! the JSON document `snapaudit sanitize --format json` prints
//! (`snapaudit.sanitize/1`) and becomes `snapaudit._sanitize.Sanitized`.

use std::path::PathBuf;

use pyo3::prelude::*;
use serde::Serialize;
use snapaudit::Error;
use snapaudit::image::Image;
use snapaudit::report::Report;
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy};
use snapaudit::sanitize::{
    ApplyOptions, FreeBlockStats, FreeSpacePolicy, LogPolicy, Outcome, OutputFormat, Plan,
    PlanOptions, WriteMode, apply, free_block_stats,
};

use crate::errors::Native;

/// What `Image.sanitize` was asked.
#[derive(Debug)]
pub(crate) struct Request {
    /// Where to write; `None` with `plan_only` or `in_place`.
    pub(crate) out: Option<PathBuf>,
    /// The report to fix, as `snapaudit.report/1` JSON; `None` runs the
    /// audit (rules and scan) first.
    pub(crate) report_json: Option<String>,
    pub(crate) profile: String,
    pub(crate) plan_only: bool,
    pub(crate) in_place: bool,
    pub(crate) wipe_logs: bool,
    pub(crate) zero_free: bool,
}

#[derive(Serialize)]
struct Document {
    schema: &'static str,
    plan: Plan,
    outcome: Option<Outcome>,
    free_blocks_before: Option<Vec<FreeBlockStats>>,
    free_blocks_after: Option<Vec<FreeBlockStats>>,
}

fn invalid(what: String) -> Error {
    Error::InvalidInput { what }
}

/// Plan (and unless `plan_only`, apply) the fixes of `request` on `image`.
/// Runs without the GIL; returns the result document as JSON.
pub(crate) fn sanitize(image: &Image, request: Request) -> Native<String> {
    let report = match &request.report_json {
        Some(json) => serde_json::from_str::<Report>(json)
            .map_err(|e| invalid(format!("report: not a snapaudit.report/1 document: {e}")))?,
        None => snapaudit::rules::check(
            image,
            &CheckOptions {
                profile: Profile::by_name(&request.profile)?,
                scan: ScanPolicy::Scan,
                root_partition: None,
            },
        )?,
    };
    let options = PlanOptions {
        logs: if request.wipe_logs {
            LogPolicy::Wipe
        } else {
            LogPolicy::Keep
        },
        free_space: if request.zero_free {
            FreeSpacePolicy::Zero
        } else {
            FreeSpacePolicy::Keep
        },
    };
    let plan = Plan::from_report(&report, image, &options)?;
    let mut doc = Document {
        schema: "snapaudit.sanitize/1",
        plan,
        outcome: None,
        free_blocks_before: None,
        free_blocks_after: None,
    };
    if !request.plan_only {
        let (out, mode) = match (&request.out, request.in_place) {
            (None, true) => (image.path().to_path_buf(), WriteMode::InPlace),
            (Some(_), true) => {
                return Err(invalid(
                    "in_place=True writes the image itself: give no output path".into(),
                )
                .into());
            }
            (Some(out), false) => (out.clone(), WriteMode::NewFile),
            (None, false) => {
                return Err(invalid(
                    "an output path is needed (or plan_only=True, or in_place=True)".into(),
                )
                .into());
            }
        };
        doc.free_blocks_before = Some(free_block_stats(image)?);
        let format = match mode {
            WriteMode::InPlace => OutputFormat::Raw,
            WriteMode::NewFile => OutputFormat::for_path(&out)?,
        };
        let outcome = apply(image, &doc.plan, &out, &ApplyOptions { mode, format })?;
        let written = Image::open(&out)?;
        doc.free_blocks_after = Some(free_block_stats(&written)?);
        doc.outcome = Some(outcome);
    }
    serde_json::to_string(&doc)
        .map_err(|e| invalid(format!("cannot serialize the result: {e}")).into())
}

/// `snapaudit._sanitize.Sanitized.from_json(<document>)`.
pub(crate) fn to_python<'py>(py: Python<'py>, json: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("snapaudit._sanitize")?
        .getattr("Sanitized")?
        .call_method1("from_json", (json,))
}
