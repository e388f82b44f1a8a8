//! [`apply`]: write a plan's changes into a copy of the image (or, on
//! request, into the input itself).

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::copy::{CopyMethod, copy_image, data_segments, zero_ranges};
use super::output::{self, OutputFormat};
use super::plan::Plan;
use crate::image::{Compression, Image};
use crate::{Error, Result};

/// Where the sanitized image goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    /// A new file at `out` (the default): written as `.OUT.*.partial` in
    /// the same directory and renamed to `out` once complete and synced,
    /// so an interrupted run never leaves a finished-looking `out`.
    #[default]
    NewFile,
    /// The input image itself (`--in-place`; `out` must name it). Refused
    /// for compressed inputs, whose mapped bytes are a temporary expansion.
    InPlace,
}

/// Options of [`apply`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    pub mode: WriteMode,
    /// The container (or compression) of the output; see
    /// [`OutputFormat::for_path`] for the choice by file name.
    pub format: OutputFormat,
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The sanitized image.
    pub output: String,
    pub method: CopyMethod,
    /// Data bytes copied from the input (holes and zeroed ranges are not).
    pub bytes_copied: u64,
    /// Bytes that read as zeros because of the plan.
    pub bytes_zeroed: u64,
    /// Bytes written by the plan's edits (metadata blocks, `#`, `*`).
    pub bytes_patched: u64,
    /// Actions of the plan carried out.
    pub actions: usize,
    pub elapsed_ms: u64,
}

/// Whether `a` and `b` name the same file (same device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Write `plan`, made for `image`, to `out`.
///
/// Fails without writing anything when the plan refuses a filesystem
/// (journal needing recovery), when `out` is the input in
/// [`WriteMode::NewFile`], or when [`WriteMode::InPlace`] is asked for a
/// compressed input or with an `out` that is not the input.
pub fn apply(image: &Image, plan: &Plan, out: &Path, options: &ApplyOptions) -> Result<Outcome> {
    let started = Instant::now();
    if let Some(refusal) = plan.refused.first() {
        return Err(Error::unsupported(format!(
            "refusing to sanitize {}: {}",
            image.path().display(),
            refusal.reason
        )));
    }
    if plan.image != image.path().display().to_string() {
        return Err(Error::invalid(format!(
            "the plan was made for {}, not {}",
            plan.image,
            image.path().display()
        )));
    }
    let writes = &plan.writes;
    let (method, bytes_copied) = match options.mode {
        WriteMode::InPlace if options.format != OutputFormat::Raw => {
            return Err(Error::invalid(format!(
                "--in-place writes the input as it is; it cannot also change its format to {}",
                options.format.name()
            )));
        }
        WriteMode::InPlace => {
            if image.compression() != Compression::None {
                return Err(Error::invalid(format!(
                    "--in-place is refused for {}: it is {}-compressed, and what snapaudit reads is a temporary expansion; write a new image with -o OUT",
                    image.path().display(),
                    image.compression().format_name()
                )));
            }
            if !image.is_plain_file() {
                return Err(Error::invalid(format!(
                    "--in-place is refused for {}: it is a {} container, whose clusters snapaudit does not rewrite; write a new image with -o OUT",
                    image.path().display(),
                    image.format_name()
                )));
            }
            if !same_file(out, image.path()) {
                return Err(Error::invalid(format!(
                    "in-place sanitizing writes the input image itself: {} is not {}",
                    out.display(),
                    image.path().display()
                )));
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(image.path())
                .map_err(|e| Error::io(image.path(), e))?;
            write_changes(&file, out, image, plan)?;
            file.sync_all().map_err(|e| Error::io(out, e))?;
            (CopyMethod::InPlace, 0)
        }
        WriteMode::NewFile => {
            if same_file(out, image.path()) {
                return Err(Error::invalid(format!(
                    "{} is the input image: write the sanitized copy elsewhere, or ask for --in-place",
                    out.display()
                )));
            }
            let dir = match out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let name = out
                .file_name()
                .ok_or_else(|| Error::invalid(format!("{}: not a file name", out.display())))?;
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".{}.", name.to_string_lossy()))
                .suffix(".partial")
                .tempfile_in(dir)
                .map_err(|e| Error::io(dir, e))?;
            let tmp_path = tmp.path().to_path_buf();
            let stats = copy_image(image, tmp.as_file(), &tmp_path, &writes.zero)?;
            write_patches(tmp.as_file(), &tmp_path, plan)?;
            // Another container or a compressed stream: encoded from the
            // sanitized raw copy into a second partial file.
            let encoded = tempfile::Builder::new()
                .prefix(&format!(".{}.", name.to_string_lossy()))
                .suffix(".partial")
                .tempfile_in(dir)
                .map_err(|e| Error::io(dir, e))?;
            let data = data_segments(tmp.as_file(), image.size_bytes());
            let tmp = if output::encode(
                options.format,
                tmp.as_file(),
                &tmp_path,
                image.size_bytes(),
                &data,
                encoded.as_file(),
                encoded.path(),
            )? {
                encoded
            } else {
                drop(encoded);
                tmp
            };
            let tmp_path = tmp.path().to_path_buf();
            // The copy keeps the input's permission bits (tempfile makes
            // 0600 files).
            if let Ok(meta) = std::fs::metadata(image.path()) {
                let _ = tmp.as_file().set_permissions(meta.permissions());
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| Error::io(&tmp_path, e))?;
            tmp.persist(out).map_err(|e| Error::io(out, e.error))?;
            // Make the rename itself durable.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            (stats.method, stats.bytes_copied)
        }
    };
    Ok(Outcome {
        output: out.display().to_string(),
        method,
        bytes_copied,
        bytes_zeroed: plan.zeroed_bytes(),
        bytes_patched: plan.patched_bytes(),
        actions: plan.actions.len(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// In-place: zero the ranges (the file's current content is the image's
/// mapped bytes), then write the patches.
fn write_changes(file: &File, path: &Path, image: &Image, plan: &Plan) -> Result<()> {
    zero_ranges(file, path, image.bytes(), &plan.writes.zero)?;
    write_patches(file, path, plan)
}

fn write_patches(file: &File, path: &Path, plan: &Plan) -> Result<()> {
    for (offset, bytes) in &plan.writes.patches {
        file.write_all_at(bytes, *offset)
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}
