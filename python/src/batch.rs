//! `check_many`: audit many images on a pool of Rust threads and hand the
//! reports to Python as they complete.
//!
//! Rust threads rather than a Python `ThreadPoolExecutor`: the workers never
//! touch the interpreter, so they cannot contend for the GIL, and the only
//! Python-side work per image is turning one JSON string into a `Report`.
//! The consumer blocks in `__next__` with the GIL released.
//!
//! Each worker audits its image on a rayon pool of one thread (the scan
//! would otherwise spread every image over all cores): `workers` is then the
//! number of cores the batch uses, and a batch gains from workers=2 on two
//! cores instead of two images fighting over the same global pool. One
//! thread per image is also the cheapest way to use the cores for a batch:
//! no work stealing between threads that read the same image.
//!
//! One image's failure (unreadable, corrupt, a panic) becomes that image's
//! report, carrying the error; the batch goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use snapaudit::image::Image;
use snapaudit::report::{DiskInfo, ImageInfo, Report};

use crate::audit;
use crate::errors::{Native, guard};

/// What each worker does with one image.
#[derive(Debug, Clone)]
enum Job {
    Check {
        profile: String,
        scan: bool,
    },
    Scan,
    /// Open the image and read its table, run no rules: a report with the
    /// image and disk sections only. Private (tests of the batch machinery
    /// and of the thread pool while check is not wired); its reports carry
    /// the profile name `open` so they cannot pass for an audit.
    Open,
}

impl Job {
    fn parse(job: &str, profile: String, scan: bool) -> PyResult<Job> {
        match job {
            "check" => Ok(Job::Check { profile, scan }),
            "scan" => Ok(Job::Scan),
            "open" => Ok(Job::Open),
            other => Err(PyValueError::new_err(format!(
                "unknown batch job {other:?}"
            ))),
        }
    }

    fn profile(&self) -> &str {
        match self {
            Job::Check { profile, .. } => profile,
            Job::Scan => "scan",
            Job::Open => "open",
        }
    }

    fn run(&self, path: &Path) -> Native<Report> {
        let shown = path.display().to_string();
        match self {
            Job::Check { profile, scan } => {
                audit::check_image(&Image::open(path)?, &shown, profile, *scan, None)
            }
            Job::Scan => audit::scan_image(&Image::open(path)?, &shown, None),
            Job::Open => open_report(path),
        }
    }
}

fn open_report(path: &Path) -> Native<Report> {
    let image = Arc::new(Image::open(path)?);
    let volumes = snapaudit::volume::Volumes::read(&image)?;
    let root = snapaudit::ext4::find_root_in(&image, &volumes);
    let info = ImageInfo {
        path: path.display().to_string(),
        size_bytes: image.size_bytes(),
        format: image.format_name(),
    };
    let mut report = Report::new(info, Job::Open.profile());
    report.disk = DiskInfo::from_volumes(&volumes, root.as_ref());
    report.finish();
    Ok(report)
}

/// One finished image: its position in the input and its outcome.
type Done = (usize, PathBuf, Native<Report>);

/// What `Batch.__next__` yields: `(index, report_json, exception_or_None)`.
type Item = (usize, String, Option<Py<PyAny>>);

/// The iterator behind `snapaudit.check_many`: yields
/// `(index, report_json, exception_or_None)`.
#[pyclass(module = "snapaudit", frozen)]
pub(crate) struct Batch {
    results: Mutex<Receiver<Done>>,
    job: Job,
    /// Tells the workers to take no new image (set when the iterator is
    /// dropped before the end).
    stop: Arc<AtomicBool>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `_batch(paths, workers, job, profile, scan)`.
#[pyfunction]
#[pyo3(name = "_batch", signature = (paths, workers = None, job = "check", profile = "alibaba-ecs", scan = true))]
pub(crate) fn batch(
    paths: Vec<PathBuf>,
    workers: Option<usize>,
    job: &str,
    profile: &str,
    scan: bool,
) -> PyResult<Batch> {
    let job = Job::parse(job, profile.to_string(), scan)?;
    let workers = match workers {
        Some(0) => return Err(PyValueError::new_err("workers must be at least 1")),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let paths = Arc::new(paths);
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..workers.min(paths.len()) {
        let worker = Worker {
            paths: Arc::clone(&paths),
            next: Arc::clone(&next),
            stop: Arc::clone(&stop),
            job: job.clone(),
            tx: tx.clone(),
        };
        std::thread::Builder::new()
            .name("snapaudit-batch".to_string())
            .spawn(move || worker.work())
            .map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!(
                    "cannot start a batch worker thread: {e}"
                ))
            })?;
    }
    Ok(Batch {
        results: Mutex::new(rx),
        job,
        stop,
    })
}

struct Worker {
    paths: Arc<Vec<PathBuf>>,
    next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    job: Job,
    tx: Sender<Done>,
}

impl Worker {
    fn work(self) {
        match rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "snapaudit-image".to_string())
            .build()
        {
            Ok(pool) => pool.install(|| self.take_images()),
            // Without a private pool the image still gets audited, only on
            // the global pool shared by all workers.
            Err(_) => self.take_images(),
        }
    }

    fn take_images(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(path) = self.paths.get(i) else {
                return;
            };
            let outcome = guard(|| self.job.run(path));
            if self.tx.send((i, path.clone(), outcome)).is_err() {
                // The iterator is gone: nobody wants the rest.
                return;
            }
        }
    }
}

#[pymethods]
impl Batch {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Item>> {
        // Every worker holds a sender; when all have finished, recv fails
        // and the iteration ends.
        let done = py.detach(|| match self.results.lock() {
            Ok(rx) => rx.recv().ok(),
            Err(poisoned) => poisoned.into_inner().recv().ok(),
        });
        let Some((index, path, outcome)) = done else {
            return Ok(None);
        };
        match outcome {
            Ok(report) => Ok(Some((index, crate::report::to_json(&report)?, None))),
            Err(failure) => {
                let err = PyErr::from(failure);
                let value = err.into_value(py);
                let message = value.bind(py).str()?.to_string();
                let report = crate::report::failed(&path, self.job.profile(), message);
                Ok(Some((
                    index,
                    crate::report::to_json(&report)?,
                    Some(value.into_any()),
                )))
            }
        }
    }
}
