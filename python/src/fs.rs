//! `Filesystem`: read-only access to an ext2/3/4 filesystem inside an image.
//!
//! The Python object holds only a [`Volume`] (an `Arc` of the image and a
//! byte range: `Send + Sync`). `ext4-view`'s reader is `!Send`, so it never
//! goes into a Python object: each call gets one from [`with_fs`], with the
//! GIL released.

use std::cell::RefCell;
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use snapaudit::Error;
use snapaudit::ext4::{FileKind, MAX_WALK_DEPTH, Volume};

use crate::errors::{Failure, Native, run};
use crate::repr::Fields;

/// Whole-file reads refuse files larger than this unless the caller raises
/// the cap: a 1 TiB sparse file must not be pulled into memory by accident.
pub(crate) const DEFAULT_READ_MAX_BYTES: u64 = 256 * 1024 * 1024;
const _: () = assert!(DEFAULT_READ_MAX_BYTES == 268_435_456);

/// Which filesystem a cached reader belongs to: its bytes' address (kept
/// alive by the cached reader's own `Arc`, so it cannot be reused by another
/// image while cached) and the byte range.
type VolumeKey = (usize, u64, u64);

fn volume_key(volume: &Volume) -> VolumeKey {
    (
        volume.bytes().as_ptr() as usize,
        volume.start_bytes(),
        volume.size_bytes(),
    )
}

thread_local! {
    /// The reader this thread loaded last. Loading one costs ~100 µs (ext4-view
    /// allocates a 256 KiB block cache and reads the superblock, the group
    /// descriptors and the journal header), which dominated `stat`/`exists`
    /// calls and made `walk` pay it once per directory. Thread-local, so the
    /// `!Send` reader never leaves the thread that made it.
    static LAST_FS: RefCell<Option<(VolumeKey, Rc<snapaudit::ext4::Fs>)>> = const { RefCell::new(None) };
}

/// Run `work` with a reader of `volume`: this thread's cached one when it is
/// for the same filesystem, else a freshly loaded one (which replaces it).
fn with_fs<T>(volume: &Volume, work: impl FnOnce(&snapaudit::ext4::Fs) -> Native<T>) -> Native<T> {
    /// A panic may leave the reader's caches half-updated: forget it.
    struct ForgetOnPanic;
    impl Drop for ForgetOnPanic {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let _ = LAST_FS.try_with(|c| c.borrow_mut().take());
            }
        }
    }
    let key = volume_key(volume);
    let cached = LAST_FS.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, fs)| Rc::clone(fs))
    });
    let fs = match cached {
        Some(fs) => fs,
        None => {
            let fs = Rc::new(volume.open()?);
            LAST_FS.with(|c| *c.borrow_mut() = Some((key, Rc::clone(&fs))));
            fs
        }
    };
    let _forget = ForgetOnPanic;
    work(&fs)
}

/// Drop this thread's cached reader if it is for `volume` (called when the
/// Python object goes away, so the image is unmapped with it).
fn forget(volume: &Volume) {
    let key = volume_key(volume);
    let _ = LAST_FS.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_some_and(|(k, _)| *k == key) {
            c.take();
        }
    });
}

/// A file's metadata (of the link itself when `follow_symlinks=False`).
#[pyclass(module = "snapaudit", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    path: String,
    /// `file`, `dir`, `symlink`, `char-device`, `block-device`, `fifo`, `socket`.
    kind: &'static str,
    /// Permission bits (`0o7777`), without the file type bits.
    mode: u16,
    uid: u32,
    gid: u32,
    /// Size in bytes.
    size: u64,
    /// Seconds since the epoch.
    atime: i64,
    mtime: i64,
    crtime: Option<i64>,
    symlink_target: Option<String>,
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::CharDevice => "char-device",
        FileKind::BlockDevice => "block-device",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
    }
}

impl From<snapaudit::ext4::Stat> for Stat {
    fn from(s: snapaudit::ext4::Stat) -> Self {
        Stat {
            path: s.path,
            kind: kind_name(s.kind),
            mode: s.mode,
            uid: s.uid,
            gid: s.gid,
            size: s.size_bytes,
            atime: s.atime,
            mtime: s.mtime,
            crtime: s.crtime,
            symlink_target: s.symlink_target,
        }
    }
}

#[pymethods]
impl Stat {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut f = Fields::new(py, "Stat");
        f.str("path", &self.path)?
            .str("kind", self.kind)?
            .raw("mode", &format!("0o{:o}", self.mode))
            .int("uid", self.uid)?
            .int("gid", self.gid)?
            .int("size", self.size)?
            .int("mtime", self.mtime)?
            .opt_str("symlink_target", self.symlink_target.as_deref())?;
        Ok(f.finish())
    }
}

/// An ext2/3/4 filesystem inside an image (read-only).
#[pyclass(module = "snapaudit", frozen)]
pub(crate) struct Filesystem {
    volume: Volume,
}

impl Filesystem {
    /// Check that the volume loads (so a corrupt superblock is reported by
    /// `Image.root()`, not by the first read) and wrap it.
    pub(crate) fn load(py: Python<'_>, volume: Volume) -> PyResult<Filesystem> {
        let volume = run(py, move || {
            with_fs(&volume, |_| Ok(()))?;
            Ok(volume)
        })?;
        Ok(Filesystem { volume })
    }
}

impl Drop for Filesystem {
    fn drop(&mut self) {
        forget(&self.volume);
    }
}

/// After the core refused `path` as invalid input, tell whether that was
/// because it is a directory (for a read) or not one (for a listing), which
/// Python code expects as `IsADirectoryError` / `NotADirectoryError`.
fn refine(fs: &snapaudit::ext4::Fs, path: &str, e: Error, want_dir: bool) -> Failure {
    if !matches!(e, Error::InvalidInput { .. }) {
        return e.into();
    }
    match fs.stat_follow(path) {
        Ok(st) if !want_dir && st.kind == FileKind::Dir => Failure::Os {
            errno: libc::EISDIR,
            what: "is a directory",
            path: path.to_string(),
        },
        Ok(st) if want_dir && st.kind != FileKind::Dir => Failure::Os {
            errno: libc::ENOTDIR,
            what: "not a directory",
            path: path.to_string(),
        },
        _ => e.into(),
    }
}

/// The entries of directory `path`, split like `os.walk` splits them.
fn list_split(volume: &Volume, path: &str) -> Native<(Vec<String>, Vec<String>)> {
    let entries = with_fs(volume, |fs| {
        fs.read_dir(path).map_err(|e| refine(fs, path, e, true))
    })?;
    let (dirs, files): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|e| e.kind == FileKind::Dir);
    Ok((
        dirs.into_iter().map(|e| e.name).collect(),
        files.into_iter().map(|e| e.name).collect(),
    ))
}

#[pymethods]
impl Filesystem {
    /// Partition number of the filesystem (0 for a disk without a table).
    #[getter]
    fn partition(&self) -> u32 {
        self.volume.partition()
    }

    /// `vg/lv` for a filesystem on an LVM2 logical volume, else `None`.
    #[getter]
    fn volume(&self) -> Option<String> {
        self.volume.name().map(str::to_string)
    }

    /// The whole contents of a regular file (symlinks followed inside the
    /// image). Files larger than `max_bytes` raise `InvalidInputError`.
    // The default is spelled as a literal so that `__text_signature__` (and
    // stubtest) show the number; `DEFAULT_READ_MAX_BYTES` is asserted equal.
    #[pyo3(signature = (path, *, max_bytes = 268_435_456))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        path: String,
        max_bytes: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let volume = self.volume.clone();
        let data = run(py, move || {
            with_fs(&volume, |fs| {
                fs.read_limited(&path, max_bytes)
                    .map_err(|e| refine(fs, &path, e, false))
            })
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Names in directory `path`, without `.` and `..`, sorted.
    fn listdir(&self, py: Python<'_>, path: String) -> PyResult<Vec<String>> {
        let volume = self.volume.clone();
        run(py, move || {
            let entries = with_fs(&volume, |fs| {
                fs.read_dir(&path).map_err(|e| refine(fs, &path, e, true))
            })?;
            Ok(entries.into_iter().map(|e| e.name).collect())
        })
    }

    /// Metadata of `path`; of the link itself when `follow_symlinks=False`.
    #[pyo3(signature = (path, *, follow_symlinks = true))]
    fn stat(&self, py: Python<'_>, path: String, follow_symlinks: bool) -> PyResult<Stat> {
        let volume = self.volume.clone();
        run(py, move || {
            with_fs(&volume, |fs| {
                let st = if follow_symlinks {
                    fs.stat_follow(&path)?
                } else {
                    fs.stat(&path)?
                };
                Ok(Stat::from(st))
            })
        })
    }

    /// The target of symlink `path`, as stored.
    fn readlink(&self, py: Python<'_>, path: String) -> PyResult<String> {
        let volume = self.volume.clone();
        run(py, move || with_fs(&volume, |fs| Ok(fs.read_link(&path)?)))
    }

    /// Whether `path` exists (symlinks followed inside the image). A path
    /// through a regular file (`/etc/passwd/x`) does not exist; a corrupt
    /// directory on the way raises `CorruptImageError`.
    fn exists(&self, py: Python<'_>, path: String) -> PyResult<bool> {
        let volume = self.volume.clone();
        run(py, move || {
            with_fs(&volume, |fs| match fs.exists(&path) {
                Ok(found) => Ok(found),
                Err(Error::NotFound { .. } | Error::InvalidInput { .. }) => Ok(false),
                Err(e) => Err(e.into()),
            })
        })
    }

    /// Walk the tree under `top` like `os.walk(top)` (top-down): yields
    /// `(dirpath, dirnames, filenames)`; removing names from `dirnames`
    /// prunes the walk. Symlinks are never followed and always count as
    /// files. A directory that cannot be read is passed to `onerror` (an
    /// exception instance) when given, and skipped.
    #[pyo3(signature = (top = "/", *, onerror = None))]
    fn walk(&self, top: &str, onerror: Option<Py<PyAny>>) -> Walk {
        Walk {
            volume: self.volume.clone(),
            stack: vec![(top.to_string(), 0)],
            last: None,
            onerror,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let path = self.volume.image().path().display().to_string();
        let what = match self.volume.name() {
            Some(name) => format!("volume {name}"),
            None => format!("partition {}", self.volume.partition()),
        };
        Ok(format!(
            "<snapaudit.Filesystem {what} of {}>",
            crate::repr::py_str(py, &path)?
        ))
    }
}

/// The iterator returned by `Filesystem.walk`.
#[pyclass(module = "snapaudit")]
pub(crate) struct Walk {
    volume: Volume,
    /// Directories still to read, with their depth below `top`.
    stack: Vec<(String, usize)>,
    /// The directory yielded last, with the `dirnames` list handed out: its
    /// children are pushed only on the next step, after the caller has had
    /// the chance to prune the list.
    last: Option<(String, usize, Py<PyList>)>,
    onerror: Option<Py<PyAny>>,
}

impl Drop for Walk {
    fn drop(&mut self) {
        forget(&self.volume);
    }
}

impl Walk {
    fn report(&self, py: Python<'_>, err: PyErr) -> PyResult<()> {
        match &self.onerror {
            Some(cb) => cb.call1(py, (err.into_value(py),)).map(drop),
            None => Ok(()),
        }
    }

    /// Push the (possibly pruned) children of the directory yielded last.
    fn descend(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some((dir, depth, names)) = self.last.take() else {
            return Ok(());
        };
        let names: Vec<String> = names.bind(py).extract()?;
        for name in names.iter().rev() {
            let path = join(&dir, name);
            if depth + 1 >= MAX_WALK_DEPTH {
                let err = Failure::Core(Error::Corrupt {
                    offset: self.volume.start_bytes(),
                    what: format!(
                        "{path}: directories nested deeper than {MAX_WALK_DEPTH} levels (a directory loop?) were not walked"
                    ),
                });
                self.report(py, err.into())?;
            } else {
                self.stack.push((path, depth + 1));
            }
        }
        Ok(())
    }
}

#[pymethods]
impl Walk {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.descend(py)?;
        while let Some((dir, depth)) = self.stack.pop() {
            let volume = self.volume.clone();
            let path = dir.clone();
            match run(py, move || list_split(&volume, &path)) {
                Ok((dirs, files)) => {
                    let dirnames = PyList::new(py, dirs)?;
                    let filenames = PyList::new(py, files)?;
                    self.last = Some((dir.clone(), depth, dirnames.clone().unbind()));
                    let item = (dir, dirnames, filenames).into_pyobject(py)?;
                    return Ok(Some(item));
                }
                Err(e) => self.report(py, e)?,
            }
        }
        Ok(None)
    }
}

/// `dir` + `/` + `name` without doubling the root slash.
fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
