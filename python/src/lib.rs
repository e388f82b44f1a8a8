//! `snapaudit._native`: the pyo3 binding of the snapaudit core crate.
//!
//! The public Python API is the `snapaudit` package beside this crate; this
//! module is private. Every call into the core runs with the GIL released
//! and behind a panic guard ([`errors::run`]); no `ext4-view` reader (which
//! is `!Send`) is ever stored in a Python object.

mod audit;
mod batch;
mod errors;
mod fs;
mod image;
mod report;
mod repr;
mod sanitize;

use pyo3::prelude::*;

/// Panic inside the guarded, GIL-free section: lets the tests prove that a
/// Rust panic reaches Python as `InternalError` and leaves the interpreter
/// alive.
#[pyfunction]
#[pyo3(name = "_panic_for_test")]
fn panic_for_test(py: Python<'_>, message: String) -> PyResult<()> {
    errors::run(py, move || -> errors::Native<()> { panic!("{message}") })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_READ_MAX_BYTES", fs::DEFAULT_READ_MAX_BYTES)?;
    m.add_function(wrap_pyfunction!(image::open_image, m)?)?;
    m.add_function(wrap_pyfunction!(batch::batch, m)?)?;
    m.add_function(wrap_pyfunction!(panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(to_sarif, m)?)?;
    m.add_class::<image::Image>()?;
    m.add_class::<image::Partition>()?;
    m.add_class::<image::LogicalVolume>()?;
    m.add_class::<fs::Filesystem>()?;
    m.add_class::<fs::Stat>()?;
    m.add_class::<fs::Walk>()?;
    m.add_class::<batch::Batch>()?;
    Ok(())
}

/// `_to_sarif(reports_json)`: SARIF 2.1.0 text for reports given as a JSON
/// array of `snapaudit.report/1` objects, rendered by the same code as
/// `snapaudit check --format sarif`.
#[pyfunction]
#[pyo3(name = "_to_sarif")]
fn to_sarif(reports_json: &str) -> PyResult<String> {
    let reports: Vec<snapaudit::report::Report> =
        serde_json::from_str(reports_json).map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("not a list of snapaudit reports: {e}"))
        })?;
    Ok(snapaudit::report::to_sarif(&reports).to_string())
}
