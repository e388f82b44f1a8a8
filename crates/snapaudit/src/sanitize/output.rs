//! The output format of a sanitized image: chosen by `--output-format`,
//! else by the extension of `-o`, and produced from the sanitized raw copy.
//!
//! | choice | written as |
//! |---|---|
//! | `raw`, `.raw`, `.img`, any other extension | a sparse raw file |
//! | `qcow2`, `.qcow2` | qcow2 v3, uncompressed 64 KiB clusters |
//! | `vhd`, `.vhd` | fixed VHD (raw + footer: what Azure imports) |
//! | `.zst`, `.gz`, `.xz` | the raw disk compressed |
//! | `vhd-dynamic`, `vmdk-stream`, `.vmdk`, `.vhdx` | refused, with the reason |

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::container::write::{append_vhd_footer, write_qcow2};
use crate::{Error, Result};

/// What [`super::apply`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    #[default]
    Raw,
    Qcow2,
    /// Fixed VHD.
    Vhd,
    Zstd,
    Gzip,
    Xz,
}

impl OutputFormat {
    /// The `--output-format` names.
    pub const NAMES: &'static [&'static str] = &[
        "raw",
        "qcow2",
        "vhd",
        "vhd-dynamic",
        "vmdk-stream",
        "zst",
        "gz",
        "xz",
    ];

    /// An explicit `--output-format` value.
    pub fn by_name(name: &str) -> Result<OutputFormat> {
        match name {
            "raw" => Ok(OutputFormat::Raw),
            "qcow2" => Ok(OutputFormat::Qcow2),
            "vhd" | "vhd-fixed" => Ok(OutputFormat::Vhd),
            "zst" | "zstd" => Ok(OutputFormat::Zstd),
            "gz" | "gzip" => Ok(OutputFormat::Gzip),
            "xz" => Ok(OutputFormat::Xz),
            "vhd-dynamic" | "vmdk-stream" | "vmdk" | "vhdx" => Err(not_written(name)),
            other => Err(Error::invalid(format!(
                "unknown output format {other:?}; choose one of {}",
                Self::NAMES.join(", ")
            ))),
        }
    }

    /// The format `path`'s extension asks for.
    pub fn for_path(path: &Path) -> Result<OutputFormat> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "qcow2" => Ok(OutputFormat::Qcow2),
            "vhd" => Ok(OutputFormat::Vhd),
            "zst" => Ok(OutputFormat::Zstd),
            "gz" => Ok(OutputFormat::Gzip),
            "xz" => Ok(OutputFormat::Xz),
            "vmdk" => Err(not_written("vmdk-stream")),
            "vhdx" => Err(not_written("vhdx")),
            _ => Ok(OutputFormat::Raw),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Raw => "raw",
            OutputFormat::Qcow2 => "qcow2",
            OutputFormat::Vhd => "vhd",
            OutputFormat::Zstd => "zst",
            OutputFormat::Gzip => "gz",
            OutputFormat::Xz => "xz",
        }
    }
}

fn not_written(name: &str) -> Error {
    Error::unsupported(format!(
        "snapaudit does not write {name} images yet; write raw, qcow2 or a fixed VHD (-o OUT.raw|OUT.qcow2|OUT.vhd) and convert with `qemu-img convert -O vmdk -o subformat=streamOptimized` or `-O vpc`"
    ))
}

/// Turn the sanitized raw copy in `raw` (`size` bytes, data in `data`)
/// into `format`. `Ok(None)`: the raw file itself is the output (raw, or a
/// fixed VHD, whose footer is appended to it). `Ok(Some(file))`: the output
/// was written to `encoded`, which the caller renames into place.
pub(super) fn encode(
    format: OutputFormat,
    raw: &File,
    raw_path: &Path,
    size: u64,
    data: &[(u64, u64)],
    encoded: &File,
    encoded_path: &Path,
) -> Result<bool> {
    let out_err = |e: io::Error| Error::io(encoded_path, e);
    match format {
        OutputFormat::Raw => Ok(false),
        OutputFormat::Vhd => {
            if !size.is_multiple_of(512) {
                return Err(Error::unsupported(format!(
                    "a VHD holds whole 512-byte sectors; the disk is {size} bytes"
                )));
            }
            let stamp = creation_time();
            let uuid = disk_uuid(size, stamp, data);
            append_vhd_footer(raw, size, uuid, stamp).map_err(|e| Error::io(raw_path, e))?;
            Ok(false)
        }
        OutputFormat::Qcow2 => {
            write_qcow2(raw, size, data, encoded).map_err(out_err)?;
            Ok(true)
        }
        OutputFormat::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(encoded, 3).map_err(out_err)?;
            copy_raw(raw, raw_path, size, &mut enc)?;
            enc.finish().map_err(out_err)?;
            Ok(true)
        }
        OutputFormat::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(encoded, flate2::Compression::fast());
            copy_raw(raw, raw_path, size, &mut enc)?;
            enc.finish().map_err(out_err)?;
            Ok(true)
        }
        OutputFormat::Xz => {
            let mut enc = xz2::write::XzEncoder::new(encoded, 3);
            copy_raw(raw, raw_path, size, &mut enc)?;
            enc.finish().map_err(out_err)?;
            Ok(true)
        }
    }
}

/// The creation time written into containers: `$SOURCE_DATE_EPOCH` when
/// set (reproducible outputs), else now.
fn creation_time() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// A container's unique id, derived from what is written (so the same
/// input and time give the same output), shaped as a version-4 UUID.
fn disk_uuid(size: u64, stamp: u64, data: &[(u64, u64)]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    h.update(stamp.to_le_bytes());
    for (a, b) in data {
        h.update(a.to_le_bytes());
        h.update(b.to_le_bytes());
    }
    let d = h.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&d[..16]);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// The whole raw disk, holes as zeros, into a compressor.
fn copy_raw(raw: &File, raw_path: &Path, size: u64, out: &mut dyn Write) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < size {
        let n = (size - at).min(buf.len() as u64) as usize;
        raw.read_exact_at(&mut buf[..n], at)
            .map_err(|e| Error::io(raw_path, e))?;
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(raw_path, e))?;
        at += n as u64;
    }
    Ok(())
}
