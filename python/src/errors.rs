//! From Rust failures to Python exceptions, and the one place where native
//! work runs: without the GIL and behind a panic guard.
//!
//! The exception classes live in pure Python (`snapaudit/_errors.py`) so that
//! `InvalidInputError` can subclass both `SnapauditError` and `ValueError`
//! and every class gets a real `__init__` with an `offset` attribute; this
//! module imports them lazily, when an error is raised.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use snapaudit::Error;

pyo3::import_exception!(snapaudit._errors, SnapauditError);
pyo3::import_exception!(snapaudit._errors, CorruptImageError);
pyo3::import_exception!(snapaudit._errors, UnsupportedError);
pyo3::import_exception!(snapaudit._errors, InvalidInputError);
pyo3::import_exception!(snapaudit._errors, InternalError);
pyo3::import_exception!(snapaudit._errors, ImageNotFoundError);

/// Why a native call did not produce its value.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The core library said no.
    Core(Error),
    /// A path inside the image is a directory where a file was expected
    /// (`EISDIR`) or the other way round (`ENOTDIR`): the core reports both
    /// as invalid input, Python code expects the `os` exception classes.
    Os {
        errno: i32,
        what: &'static str,
        path: String,
    },
    /// Rust code panicked: a bug in snapaudit, never the caller's fault.
    Panic(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

/// The result type of everything that runs under [`run`].
pub(crate) type Native<T> = Result<T, Failure>;

/// Run `work` with the GIL released, turning a panic into
/// [`Failure::Panic`] so that it reaches Python as `InternalError` instead
/// of `pyo3_runtime.PanicException` (a `BaseException` that
/// `except Exception` would not catch).
pub(crate) fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: FnOnce() -> Native<T> + Send,
    T: Send,
{
    py.detach(|| guard(work)).map_err(PyErr::from)
}

/// `work()`, with a panic caught and turned into [`Failure::Panic`]. Used
/// directly by batch worker threads, which hold no GIL to release.
pub(crate) fn guard<T>(work: impl FnOnce() -> Native<T>) -> Native<T> {
    // AssertUnwindSafe: after a panic the closure's state is dropped, never
    // observed again; shared state (the image) is read-only.
    catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|payload| Err(Failure::Panic(panic_message(payload.as_ref()))))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        match f {
            Failure::Core(e) => core_error(e),
            Failure::Os { errno, what, path } => PyOSError::new_err((errno, what, path)),
            Failure::Panic(msg) => InternalError::new_err((format!(
                "internal error (a bug in snapaudit, please report it): {msg}"
            ),)),
        }
    }
}

/// The Python exception for a core error.
///
/// `OSError(errno, strerror, filename)` is constructed through `OSError`
/// itself, which picks the subclass from the errno (`FileNotFoundError` for
/// `ENOENT`, `PermissionError` for `EACCES`, …) exactly as `open()` does.
fn core_error(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::Io { path, source } => {
            let path = path.display().to_string();
            match source.raw_os_error().or_else(|| errno_of(source.kind())) {
                // A host file that does not exist is the image (or a file
                // of its chain): snapaudit's error and FileNotFoundError.
                Some(errno) if errno == libc::ENOENT => {
                    ImageNotFoundError::new_err((errno, strerror(&source), path))
                }
                Some(errno) => PyOSError::new_err((errno, strerror(&source), path)),
                None => PyOSError::new_err(message),
            }
        }
        Error::NotFound { path } => {
            PyOSError::new_err((libc::ENOENT, "no such file or directory in the image", path))
        }
        Error::Corrupt { offset, .. } => CorruptImageError::new_err((message, offset)),
        Error::Unsupported { .. } => UnsupportedError::new_err((message,)),
        Error::InvalidInput { .. } => InvalidInputError::new_err((message,)),
        _ => SnapauditError::new_err((message, e.offset())),
    }
}

/// An errno for io errors built without one (the core's "is a directory,
/// not a disk image" is an `IsADirectory` kind with no OS code).
fn errno_of(kind: std::io::ErrorKind) -> Option<i32> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::NotFound => libc::ENOENT,
        K::PermissionDenied => libc::EACCES,
        K::IsADirectory => libc::EISDIR,
        K::NotADirectory => libc::ENOTDIR,
        K::AlreadyExists => libc::EEXIST,
        _ => return None,
    })
}

/// The OS message without Rust's ` (os error N)` suffix, as `strerror` gives it.
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(cut) => s[..cut].to_string(),
        None => s,
    }
}
