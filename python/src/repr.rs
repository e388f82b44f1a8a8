//! Readable `__repr__`s: `Name(field=value, ...)` with strings quoted the
//! way Python quotes them, and `None` fields left out so the line stays short.

use pyo3::prelude::*;
use pyo3::types::PyString;

/// `repr(s)` as Python writes it (single quotes, escapes).
pub(crate) fn py_str(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_string())
}

/// Builds `Name(a=1, b='x')`.
pub(crate) struct Fields<'py> {
    py: Python<'py>,
    out: String,
    first: bool,
}

impl<'py> Fields<'py> {
    pub(crate) fn new(py: Python<'py>, name: &str) -> Self {
        Fields {
            py,
            out: format!("{name}("),
            first: true,
        }
    }

    pub(crate) fn raw(&mut self, key: &str, value: &str) -> &mut Self {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        self.out.push_str(key);
        self.out.push('=');
        self.out.push_str(value);
        self
    }

    pub(crate) fn int(&mut self, key: &str, value: impl std::fmt::Display) -> PyResult<&mut Self> {
        Ok(self.raw(key, &value.to_string()))
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> PyResult<&mut Self> {
        let quoted = py_str(self.py, value)?;
        Ok(self.raw(key, &quoted))
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> PyResult<&mut Self> {
        match value {
            Some(v) => self.str(key, v),
            None => Ok(self),
        }
    }

    pub(crate) fn finish(&mut self) -> String {
        let mut out = std::mem::take(&mut self.out);
        out.push(')');
        out
    }
}

/// `64.0 MiB`: sizes for people.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match (unit, UNITS.get(unit)) {
        (0, _) => format!("{n} B"),
        (_, Some(u)) => format!("{value:.1} {u}"),
        _ => format!("{n} B"),
    }
}
