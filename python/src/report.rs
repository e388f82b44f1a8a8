//! Reports cross into Python as their JSON form (`snapaudit.report/1`, the
//! same bytes the CLI prints) and become the pure-Python `Report` class, so
//! that a report from `Image.check`, from `check_many` and from a JSON file
//! are the same object with the same fields.

use std::path::Path;

use pyo3::prelude::*;
use snapaudit::report::{ImageInfo, Report};

/// Serialize `report` for Python.
pub(crate) fn to_json(report: &Report) -> PyResult<String> {
    serde_json::to_string(report).map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialize the report: {e}"))
    })
}

/// `snapaudit._report.Report.from_json(<report as JSON>)`.
pub(crate) fn to_python<'py>(py: Python<'py>, report: &Report) -> PyResult<Bound<'py, PyAny>> {
    let json = to_json(report)?;
    py.import("snapaudit._report")?
        .getattr("Report")?
        .call_method1("from_json", (json,))
}

/// The report of an image that could not be audited: what is known about
/// the input (its size when it can be stat'ed) and the error.
pub(crate) fn failed(path: &Path, profile: &str, message: String) -> Report {
    let image = ImageInfo {
        path: path.display().to_string(),
        size_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        // The format is learned by opening the image, which failed.
        format: "unknown".to_string(),
    };
    let mut report = Report::new(image, profile);
    report.error = Some(message);
    report.finish();
    report
}
