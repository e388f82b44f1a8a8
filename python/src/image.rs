//! `Image` (an opened disk image with its partition table and LVM2 volume
//! groups) and the frozen `Partition` and `Volume` records it lists.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use snapaudit::Error;
use snapaudit::ext4::{Volume, find_root_in};
use snapaudit::image::{OpenOptions, ReadStrategy};
use snapaudit::partition;
use snapaudit::report::Report;
use snapaudit::volume::{VolumeId, VolumeRef, Volumes};

use crate::audit;
use crate::errors::{Native, run};
use crate::fs::Filesystem;
use crate::repr::{Fields, human_bytes};

/// One partition, or the whole disk (index 0) when there is no table.
#[pyclass(module = "snapaudit", frozen, eq, hash, get_all)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Partition {
    /// Partition number as Linux names it (`sda1` is 1); 0 is the whole disk.
    index: u32,
    start_bytes: u64,
    size_bytes: u64,
    /// Readable partition type: `linux`, `esp`, `bios-boot`, `swap`, …
    #[pyo3(name = "type")]
    kind: String,
    /// Filesystem found by probing: `ext4`, `xfs`, `vfat`, `swap`, …
    fs: Option<String>,
    uuid: Option<String>,
    label: Option<String>,
    /// GPT partition GUID, or `<disk signature>-<nn>` for MBR.
    partuuid: Option<String>,
    /// GPT partition name.
    name: Option<String>,
    /// `root` for the root filesystem found by content.
    role: Option<String>,
    bootable: bool,
}

impl Partition {
    fn new(p: &partition::Partition, root: Option<u32>) -> Self {
        let info = p.info();
        Partition {
            index: info.index,
            start_bytes: info.start_bytes,
            size_bytes: info.size_bytes,
            kind: info.kind,
            fs: info.fs,
            uuid: info.uuid,
            label: info.label,
            partuuid: info.partuuid,
            name: info.name,
            role: (root == Some(p.index)).then(|| "root".to_string()),
            bootable: p.bootable,
        }
    }
}

#[pymethods]
impl Partition {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut f = Fields::new(py, "Partition");
        f.int("index", self.index)?
            .str("type", &self.kind)?
            .opt_str("fs", self.fs.as_deref())?
            .int("start_bytes", self.start_bytes)?
            .int("size_bytes", self.size_bytes)?
            .opt_str("label", self.label.as_deref())?
            .opt_str("uuid", self.uuid.as_deref())?
            .opt_str("role", self.role.as_deref())?;
        if self.bootable {
            f.raw("bootable", "True");
        }
        Ok(f.finish())
    }
}

/// An LVM2 logical volume whose physical volumes are on the disk.
#[pyclass(module = "snapaudit", name = "Volume", frozen, eq, hash, get_all)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LogicalVolume {
    /// `vg/lv`, as `filesystem(volume=...)` takes it.
    name: String,
    vg: String,
    lv: String,
    size_bytes: u64,
    /// Filesystem found by probing: `ext4`, `swap`, `crypto_LUKS`, …
    fs: Option<String>,
    /// The filesystem's UUID.
    uuid: Option<String>,
    label: Option<String>,
    /// `root` for the root filesystem found by content.
    role: Option<String>,
    /// Why the volume cannot be read (an unsupported type such as a thin
    /// LV, a physical volume missing from this disk), else `None`.
    problem: Option<String>,
    /// `(volume_offset, disk_offset, len_bytes)` runs, in volume order.
    segments: Vec<(u64, u64, u64)>,
}

#[pymethods]
impl LogicalVolume {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut f = Fields::new(py, "Volume");
        f.str("name", &self.name)?
            .opt_str("fs", self.fs.as_deref())?
            .int("size_bytes", self.size_bytes)?
            .opt_str("uuid", self.uuid.as_deref())?
            .opt_str("role", self.role.as_deref())?
            .opt_str("problem", self.problem.as_deref())?;
        Ok(f.finish())
    }
}

/// A disk image, opened read-only, with its partition table read, every
/// partition probed and its LVM2 volume groups read.
#[pyclass(module = "snapaudit", frozen)]
pub(crate) struct Image {
    image: Arc<snapaudit::image::Image>,
    volumes: Volumes,
    /// The volume holding the root filesystem, found by content.
    root: Option<VolumeId>,
}

/// `snapaudit.open(path, *, mmap=True, backing_dir=None)`.
#[pyfunction]
#[pyo3(name = "open", signature = (path, *, mmap = true, backing_dir = None))]
pub(crate) fn open_image(
    py: Python<'_>,
    path: PathBuf,
    mmap: bool,
    backing_dir: Option<PathBuf>,
) -> PyResult<Image> {
    run(py, move || {
        let options = OpenOptions {
            strategy: if mmap {
                ReadStrategy::Mmap
            } else {
                ReadStrategy::Read
            },
            backing_dir: backing_dir.as_deref(),
            ..Default::default()
        };
        let image = Arc::new(snapaudit::image::Image::open_with(&path, options)?);
        let volumes = Volumes::read(&image)?;
        let root = find_root_in(&image, &volumes).map(|v| match v.name() {
            Some(name) => VolumeId::Logical(name.to_string()),
            None => VolumeId::Partition(v.partition()),
        });
        Ok(Image {
            image,
            volumes,
            root,
        })
    })
}

impl Image {
    fn volume(&self, id: &VolumeId) -> Native<Volume> {
        let v = self.volumes.get(id)?;
        match v.fs().map(|probe| probe.kind) {
            Some(kind) if kind.is_ext() => Ok(v.volume(&self.image)?),
            Some(kind) => Err(Error::Unsupported {
                what: format!(
                    "{} holds {}; only ext2/3/4 filesystems can be read",
                    v.describe(),
                    kind.as_str()
                ),
            }
            .into()),
            None => match v {
                // An LV of a type snapaudit does not read says why.
                VolumeRef::Logical(lv) if lv.problem.is_some() => Ok(v.volume(&self.image)?),
                _ => Err(Error::Unsupported {
                    what: format!("{} holds no filesystem snapaudit recognises", v.describe()),
                }
                .into()),
            },
        }
    }

    /// The root filesystem, else the only ext filesystem on the disk (as the
    /// CLI chooses when neither `--partition` nor `--volume` is given).
    fn root_volume(&self) -> Native<Volume> {
        if let Some(id) = &self.root {
            return self.volume(id);
        }
        let ext: Vec<VolumeId> = self
            .volumes
            .list()
            .into_iter()
            .filter(|v| v.fs().is_some_and(|f| f.kind.is_ext()))
            .map(|v| v.id())
            .collect();
        match ext.as_slice() {
            [only] => self.volume(only),
            [] => Err(Error::Unsupported {
                what: format!("{}: no ext2/3/4 filesystem on this disk", self.image.path().display()),
            }
            .into()),
            _ => Err(Error::InvalidInput {
                what: format!(
                    "{}: no root filesystem found and several ext filesystems exist; choose one with filesystem(partition=N) or filesystem(volume=\"vg/lv\")",
                    self.image.path().display()
                ),
            }
            .into()),
        }
    }

    /// Hand the report to the pure-Python `Report` class.
    fn to_report<'py>(py: Python<'py>, report: &Report) -> PyResult<Bound<'py, PyAny>> {
        crate::report::to_python(py, report)
    }
}

#[pymethods]
impl Image {
    /// The path the image was opened from.
    #[getter]
    fn path(&self) -> String {
        self.image.path().display().to_string()
    }

    /// Size of the (expanded) disk in bytes.
    #[getter]
    fn size_bytes(&self) -> u64 {
        self.image.size_bytes()
    }

    /// The container and the compression around it: `raw`, `qcow2`,
    /// `vhd-fixed`, `vmdk-stream`, …; `gz`, `tar.gz`, … for compressed raw
    /// disks; `qcow2.gz` for a gzipped qcow2.
    #[getter]
    fn format(&self) -> String {
        self.image.format_name()
    }

    /// `gpt`, `mbr` or `none`.
    #[getter]
    fn table(&self) -> &'static str {
        self.volumes.table.kind.as_str()
    }

    #[getter]
    fn partitions(&self) -> Vec<Partition> {
        let root = match &self.root {
            Some(VolumeId::Partition(n)) => Some(*n),
            _ => None,
        };
        self.volumes
            .table
            .partitions
            .iter()
            .map(|p| Partition::new(p, root))
            .collect()
    }

    /// The LVM2 logical volumes whose physical volumes are on this disk.
    #[getter]
    fn volumes(&self) -> Vec<LogicalVolume> {
        self.volumes
            .lvm
            .lvs()
            .map(|lv| {
                let info = lv.info(self.root == Some(VolumeId::Logical(lv.name())));
                LogicalVolume {
                    name: info.name,
                    vg: lv.vg.clone(),
                    lv: lv.lv.clone(),
                    size_bytes: info.size_bytes,
                    fs: info.fs,
                    uuid: info.fs_uuid,
                    label: info.label,
                    role: info.role,
                    problem: info.problem,
                    segments: info
                        .segments
                        .iter()
                        .map(|s| (s.volume_offset, s.disk_offset, s.len_bytes))
                        .collect(),
                }
            })
            .collect()
    }

    /// The root filesystem (found by content), or the only ext filesystem.
    fn root(&self, py: Python<'_>) -> PyResult<Filesystem> {
        let volume = self.root_volume()?;
        Filesystem::load(py, volume)
    }

    /// The filesystem in partition `partition` (0 for a disk without a
    /// table), or on the logical volume `volume` (`"vg0/root"`).
    #[pyo3(signature = (partition = None, *, volume = None))]
    fn filesystem(
        &self,
        py: Python<'_>,
        partition: Option<u32>,
        volume: Option<String>,
    ) -> PyResult<Filesystem> {
        let id = match (partition, volume) {
            (Some(n), None) => VolumeId::Partition(n),
            (None, Some(name)) => VolumeId::Logical(name),
            _ => {
                return Err(crate::errors::Failure::from(Error::InvalidInput {
                    what: "filesystem() takes one of partition=N or volume=\"vg/lv\"".into(),
                })
                .into());
            }
        };
        let volume = self.volume(&id)?;
        Filesystem::load(py, volume)
    }

    /// The audit: rules of `profile`, plus the sensitive-data scan when
    /// `scan`, with custom scan `rules` (gitleaks TOML text) added to the
    /// built-in ones.
    #[pyo3(signature = (*, profile = "alibaba-ecs", scan = true, rules = None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        profile: &str,
        scan: bool,
        rules: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // The image as it was opened (mmap or not, expanded once): the
        // audit never reopens the path.
        let image = self.image.clone();
        let shown = image.path().display().to_string();
        let profile = profile.to_string();
        let report = run(py, move || {
            audit::check_image(&image, &shown, &profile, scan, rules.as_deref())
        })?;
        Self::to_report(py, &report)
    }

    /// The sensitive-data scan alone, with custom `rules` (gitleaks TOML
    /// text) added to the built-in ones.
    #[pyo3(signature = (*, rules = None))]
    fn scan<'py>(&self, py: Python<'py>, rules: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let image = self.image.clone();
        let shown = image.path().display().to_string();
        let report = run(py, move || {
            audit::scan_image(&image, &shown, rules.as_deref())
        })?;
        Self::to_report(py, &report)
    }

    /// Fix what `report` found (default: audit first) and write the
    /// sanitized image to `out`; see `snapaudit._sanitize`.
    #[pyo3(signature = (out = None, *, report = None, plan_only = false, in_place = false, wipe_logs = false, zero_free = true, profile = "alibaba-ecs"))]
    #[allow(clippy::too_many_arguments)]
    fn sanitize<'py>(
        &self,
        py: Python<'py>,
        out: Option<PathBuf>,
        report: Option<Bound<'py, PyAny>>,
        plan_only: bool,
        in_place: bool,
        wipe_logs: bool,
        zero_free: bool,
        profile: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        // A Report object, or its JSON text.
        let report_json = match report {
            None => None,
            Some(r) => match r.extract::<String>() {
                Ok(text) => Some(text),
                Err(_) => Some(r.call_method0("to_json")?.extract::<String>()?),
            },
        };
        let request = crate::sanitize::Request {
            out,
            report_json,
            profile: profile.to_string(),
            plan_only,
            in_place,
            wipe_logs,
            zero_free,
        };
        let image = Arc::clone(&self.image);
        let json = run(py, move || crate::sanitize::sanitize(&image, request))?;
        crate::sanitize::to_python(py, &json)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let path = self.image.path().display().to_string();
        let path = crate::repr::py_str(py, &path)?;
        let n = self.volumes.table.partitions.len();
        Ok(format!(
            "<snapaudit.Image {path} {} {}, {} table, {n} partition{}>",
            human_bytes(self.image.size_bytes()),
            self.format(),
            self.table(),
            if n == 1 { "" } else { "s" }
        ))
    }
}
