//! Backing chains: a layer's unallocated ranges read from the image below
//! it (a qcow2 backing file, a differencing VHD's parent), down to a layer
//! with no backing, below which everything reads as zeros.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{DETECT_HEAD_BYTES, Data, Detected, Extent, FileId, Files, Format};
use crate::{Error, Result};

/// More layers than this is a loop the identity check missed or a
/// pathological chain.
const MAX_CHAIN_DEPTH: usize = 64;

/// How backing files are found.
#[derive(Debug, Clone, Default)]
pub struct ChainOptions {
    /// Look for each backing file by its base name in this directory,
    /// instead of where the container says it is (images copied out of the
    /// directory they were made in).
    pub backing_dir: Option<PathBuf>,
}

/// The virtual disk of a whole chain.
#[derive(Debug)]
pub struct Resolved {
    /// The top layer's format.
    pub format: Format,
    pub virtual_size: u64,
    /// Allocated ranges of the joined chain, ascending and disjoint.
    pub extents: Vec<Extent>,
    pub files: Files,
    /// The top layer's internal snapshots.
    pub snapshots: Vec<String>,
    /// The backing files below the top, top first.
    pub backing_chain: Vec<PathBuf>,
}

/// Parse the container in `top` (already in `files`) and everything below
/// it.
pub fn resolve(
    mut files: Files,
    top: FileId,
    format: Format,
    options: &ChainOptions,
) -> Result<Resolved> {
    let mut seen = HashSet::new();
    seen.insert(identity(files.get(top).path())?);
    let layer = super::parse(&mut files, top, format)?;
    // The reader may refine what detection saw (a VHD's footer says fixed,
    // dynamic or differencing).
    let format = layer.format;
    let virtual_size = layer.virtual_size;
    let snapshots = layer.snapshots.clone();
    let mut extents = layer.extents;
    let mut backing = layer.backing;
    let mut holder = top;
    let mut backing_chain = Vec::new();
    while let Some(reference) = backing {
        if backing_chain.len() >= MAX_CHAIN_DEPTH {
            return Err(Error::unsupported(format!(
                "{}: the backing chain is deeper than {MAX_CHAIN_DEPTH} images",
                files.get(top).display()
            )));
        }
        let path = locate(&files, holder, &reference.name, options)?;
        let id = identity(&path)?;
        if !seen.insert(id) {
            return Err(Error::corrupt(
                0,
                format!(
                    "{}: backing file loop: {} is already part of the chain",
                    files.get(holder).display(),
                    path.display()
                ),
            ));
        }
        let file = files.open(&path)?;
        let format = backing_format(&files, file, reference.format.as_deref())?;
        let lower = super::parse(&mut files, file, format)?;
        extents = fill_gaps(&extents, &lower.extents, virtual_size);
        backing = lower.backing;
        holder = file;
        backing_chain.push(path);
    }
    Ok(Resolved {
        format,
        virtual_size,
        extents,
        files,
        snapshots,
        backing_chain,
    })
}

/// Where the backing file `name`, named by `holder`, is.
fn locate(files: &Files, holder: FileId, name: &str, options: &ChainOptions) -> Result<PathBuf> {
    let path = match &options.backing_dir {
        Some(dir) => match Path::new(name).file_name() {
            Some(base) => dir.join(base),
            None => dir.join(name),
        },
        None => files.resolve_name(holder, name),
    };
    if !path.exists() {
        let hint = if options.backing_dir.is_some() {
            ""
        } else {
            "; pass --backing-dir DIR if it was moved"
        };
        return Err(Error::invalid(format!(
            "{}: its backing file {name:?} is missing (looked for {}){hint}",
            files.get(holder).display(),
            path.display()
        )));
    }
    Ok(path)
}

/// Device and inode of `path`: the same file reached by two names is the
/// same layer.
fn identity(path: &Path) -> Result<(u64, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok((meta.dev(), meta.ino()))
}

/// The format of a backing file: the one its holder records when it is one
/// we know (qemu trusts the recorded format and does not probe), else what
/// the file's magic says.
fn backing_format(files: &Files, file: FileId, recorded: Option<&str>) -> Result<Format> {
    match recorded {
        Some("raw") => return Ok(Format::Raw),
        Some("qcow2") => return Ok(Format::Qcow2),
        _ => {}
    }
    let host = files.get(file);
    let head_len = host.size().min(DETECT_HEAD_BYTES as u64);
    let head = host.read_vec(0, head_len, "file header")?;
    let tail = if host.size() >= 512 {
        Some(host.read_vec(host.size() - 512, 512, "last sector")?)
    } else {
        None
    };
    match super::detect(&head, tail.as_deref(), &host.display())? {
        Detected::Known(f) => Ok(f),
        Detected::Raw => Ok(Format::Raw),
    }
}

/// `upper`'s extents, plus `lower`'s wherever `upper` has none, clipped to
/// `virtual_size` (a backing file smaller than the disk reads as zeros past
/// its end).
pub(crate) fn fill_gaps(upper: &[Extent], lower: &[Extent], virtual_size: u64) -> Vec<Extent> {
    let mut out = Vec::with_capacity(upper.len() + lower.len());
    let mut u = upper.iter().peekable();
    for low in lower {
        if low.virt >= virtual_size {
            break;
        }
        let mut start = low.virt;
        let end = low.end().min(virtual_size);
        while start < end {
            // Emit every upper extent that begins before this point.
            while let Some(up) = u.peek() {
                if up.virt <= start {
                    out.push(**up);
                    start = start.max(up.end());
                    u.next();
                } else {
                    break;
                }
            }
            if start >= end {
                break;
            }
            let gap_end = u.peek().map_or(end, |up| up.virt.min(end));
            if gap_end > start {
                out.push(clip(low, start, gap_end));
            }
            start = gap_end;
        }
    }
    out.extend(u.copied());
    out
}

/// The part `[start, end)` of `e`.
fn clip(e: &Extent, start: u64, end: u64) -> Extent {
    let delta = start - e.virt;
    let data = match e.data {
        Data::Zero => Data::Zero,
        Data::Host { file, offset } => Data::Host {
            file,
            offset: offset + delta,
        },
        Data::Compressed {
            file,
            offset,
            stored_len,
            unit_len,
            skip,
            codec,
        } => Data::Compressed {
            file,
            offset,
            stored_len,
            unit_len,
            skip: skip + delta,
            codec,
        },
    };
    Extent {
        virt: start,
        len: end - start,
        data,
    }
}
