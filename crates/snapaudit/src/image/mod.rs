//! `Image`: the read-only bytes of a raw disk image.
//!
//! An image is opened once and shared (`Arc<Image>`) by every partition,
//! filesystem and scanner thread; everything downstream works on
//! [`Image::bytes`], a plain `&[u8]`, so that a file's extents can be scanned
//! in place without copying.
//!
//! Compressed inputs (`.gz`, `.zst`, `.xz`, and `.tar`/`.tar.gz` holding one
//! image, as cloud exports arrive) are recognised by their magic bytes,
//! expanded once into an unlinked, sparse temporary file, and mapped from
//! there; see [`expand`].
//!
//! The file (or its expansion) may then hold a container — qcow2, VHD,
//! VHDX, VMDK, VDI — also recognised by magic. Its virtual disk is read
//! through the [`crate::container`] layer and presented as the same
//! contiguous bytes (see `stitch`), so that nothing above this module knows
//! which container the disk came in. The image's allocation map
//! ([`Image::data_ranges`]) comes from the container's tables, or from the
//! raw file's holes.

mod backing;
mod expand;
pub mod sparse_map;
mod stitch;
pub mod tarball;

pub use expand::Compression;

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::container::{self, ChainOptions, Data, Detected, Extent, Files, Format, HostFile};
use crate::{Error, Result};
use backing::Backing;

/// The smallest logical sector: an image shorter than this holds no disk.
pub const MIN_SECTOR_BYTES: u64 = 512;

/// How the bytes of the image are brought into memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadStrategy {
    /// Memory-map the file (the default): no copy, pages come in on demand.
    ///
    /// Mapping is unsafe in the Rust sense when another process truncates or
    /// rewrites the file while it is mapped (the process may get SIGBUS or see
    /// bytes change). Snapshots being audited are not normally being written;
    /// where they might be (a network filesystem, a live block device), use
    /// [`ReadStrategy::Read`].
    #[default]
    Mmap,
    /// Read the whole file into memory with ordinary reads. Costs memory equal
    /// to the image size, but is immune to concurrent modification.
    Read,
}

/// A callback told how many input bytes have been consumed while a compressed
/// image is expanded (for progress bars).
pub type ProgressFn<'a> = &'a (dyn Fn(u64, Option<u64>) + Sync);

/// Options for [`Image::open_with`].
#[derive(Clone, Copy, Default)]
pub struct OpenOptions<'a> {
    pub strategy: ReadStrategy,
    /// Called as `(consumed_bytes, total_input_bytes)` while expanding a
    /// compressed input, and `(bytes_done, total)` while a container's
    /// compressed clusters are unpacked.
    pub progress: Option<ProgressFn<'a>>,
    /// Where to look for backing files (qcow2 backing chains, differencing
    /// VHD parents) by base name, instead of where the container says.
    pub backing_dir: Option<&'a Path>,
}

impl std::fmt::Debug for OpenOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("strategy", &self.strategy)
            .field("progress", &self.progress.is_some())
            .field("backing_dir", &self.backing_dir)
            .finish()
    }
}

/// A raw disk image, read-only.
///
/// A cheap handle: clones share the same mapping (an `Arc`), so partitions,
/// filesystems and worker threads each hold one.
#[derive(Debug, Clone)]
pub struct Image {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    compression: Compression,
    backing: Backing,
    source: Source,
    /// Computed on first use: most audits never need it.
    data_ranges: OnceLock<Option<Vec<Range<u64>>>>,
}

/// What the bytes of the disk were read from.
#[derive(Debug)]
enum Source {
    /// Bytes handed in by the caller.
    Memory,
    /// A raw file (the input, or the expansion of a compressed input).
    Raw(File),
    /// A container and the host files it is made of.
    Container(ContainerInfo),
}

/// A container's map, kept for the allocation map and `inspect`.
#[derive(Debug)]
struct ContainerInfo {
    format: Format,
    files: Files,
    extents: Vec<Extent>,
    snapshots: Vec<String>,
    backing_chain: Vec<PathBuf>,
}

impl Image {
    /// Open `path` (a raw image file, a block device, or a compressed image)
    /// with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Image> {
        Image::open_with(path, OpenOptions::default())
    }

    /// Open `path` with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions<'_>) -> Result<Image> {
        let path = path.as_ref();
        let file = open_input(path)?;
        let size = input_size(&file, path)?;
        let compression = expand::sniff(&file, path)?;
        let (file, size) = match compression {
            Compression::None => (file, size),
            c => expand::expand(file, size, c, path, options.progress)?,
        };
        check_size(path, size)?;
        match detect_container(&file, size, path)? {
            Detected::Raw => {
                let backing = Backing::load(&file, size, options.strategy, path)?;
                Ok(Image::new(
                    path.to_path_buf(),
                    compression,
                    backing,
                    Source::Raw(file),
                ))
            }
            Detected::Known(format) => {
                let mut files = Files::new();
                let top = files.add(HostFile::new(path.to_path_buf(), file, size))?;
                let chain = ChainOptions {
                    backing_dir: options.backing_dir.map(Path::to_path_buf),
                };
                let resolved = container::resolve(files, top, format, &chain)?;
                check_size(path, resolved.virtual_size)?;
                let assembled = stitch::assemble(
                    &resolved.files,
                    &resolved.extents,
                    resolved.virtual_size,
                    options.strategy,
                    options.progress,
                )?;
                let backing = match assembled {
                    stitch::Assembled::Mapped(m) => Backing::Stitched(m),
                    stitch::Assembled::Owned(v) => Backing::Owned(v),
                };
                let info = ContainerInfo {
                    format: resolved.format,
                    files: resolved.files,
                    extents: resolved.extents,
                    snapshots: resolved.snapshots,
                    backing_chain: resolved.backing_chain,
                };
                Ok(Image::new(
                    path.to_path_buf(),
                    compression,
                    backing,
                    Source::Container(info),
                ))
            }
        }
    }

    /// An image held in memory (tests, fuzzing, Python byte strings).
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Image {
        Image::new(
            name.into(),
            Compression::None,
            Backing::Owned(bytes),
            Source::Memory,
        )
    }

    fn new(path: PathBuf, compression: Compression, backing: Backing, source: Source) -> Image {
        Image {
            inner: Arc::new(Inner {
                path,
                compression,
                backing,
                source,
                data_ranges: OnceLock::new(),
            }),
        }
    }

    /// The whole disk.
    pub fn bytes(&self) -> &[u8] {
        self.inner.backing.bytes()
    }

    /// Size of the (expanded) disk in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// The path the image was opened from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How the input was compressed (`None` for a raw image).
    pub fn compression(&self) -> Compression {
        self.inner.compression
    }

    /// The container the virtual disk came in (`Raw` for a raw image,
    /// compressed or not).
    pub fn container(&self) -> Format {
        match &self.inner.source {
            Source::Container(c) => c.format,
            Source::Memory | Source::Raw(_) => Format::Raw,
        }
    }

    /// The report's `image.format`: the container, then the compression
    /// around it (`raw`, `qcow2`, `vhd-fixed`, `gz` for a gzipped raw disk,
    /// `qcow2.gz` for a gzipped qcow2).
    pub fn format_name(&self) -> String {
        match (self.container(), self.compression()) {
            (Format::Raw, c) => c.format_name().to_string(),
            (f, Compression::None) => f.name().to_string(),
            (f, c) => format!("{}.{}", f.name(), c.format_name()),
        }
    }

    /// Whether the image's bytes are exactly the file at [`Image::path`]
    /// (uncompressed, no container): only then can the kernel copy or
    /// clone that file, or may it be changed in place.
    pub fn is_plain_file(&self) -> bool {
        matches!(self.inner.source, Source::Raw(_)) && self.compression() == Compression::None
    }

    /// The internal snapshots of the container (qcow2); the active state is
    /// what is read.
    pub fn snapshots(&self) -> &[String] {
        match &self.inner.source {
            Source::Container(c) => &c.snapshots,
            _ => &[],
        }
    }

    /// The backing files below the image, nearest first.
    pub fn backing_chain(&self) -> &[PathBuf] {
        match &self.inner.source {
            Source::Container(c) => &c.backing_chain,
            _ => &[],
        }
    }

    /// The allocation map: ascending, disjoint byte ranges of the disk that
    /// may hold data. Everything outside them reads as zeros. `None` when
    /// it cannot be known (a block device, a filesystem without
    /// `SEEK_DATA`, bytes in memory): then any byte may be data.
    pub fn data_ranges(&self) -> Option<&[Range<u64>]> {
        self.inner
            .data_ranges
            .get_or_init(|| match &self.inner.source {
                Source::Memory => None,
                Source::Raw(file) => {
                    let meta = file.metadata().ok()?;
                    if !meta.is_file() {
                        return None;
                    }
                    container::data_segments(file, 0, self.size_bytes())
                }
                Source::Container(c) => Some(container_data_ranges(c)),
            })
            .as_deref()
    }

    /// `bytes[offset..offset+len]`, or a `Corrupt` error naming `what` when
    /// the range runs past the end of the image.
    pub fn range(&self, offset: u64, len: u64, what: &str) -> Result<&[u8]> {
        let end = offset.checked_add(len);
        let size = self.size_bytes();
        match end {
            Some(end) if end <= size => {
                // Both bounds are ≤ size, which is a usize, so the casts are exact.
                Ok(&self.bytes()[offset as usize..end as usize])
            }
            _ => Err(Error::corrupt(
                offset,
                format!(
                    "{what}: {len} bytes at offset {offset} run past the end of the image ({size} bytes)"
                ),
            )),
        }
    }
}

/// A disk must hold at least one sector.
fn check_size(path: &Path, size: u64) -> Result<()> {
    if size == 0 {
        return Err(Error::corrupt(
            0,
            format!("{}: empty file (0 bytes), not a disk image", path.display()),
        ));
    }
    if size < MIN_SECTOR_BYTES {
        return Err(Error::corrupt(
            0,
            format!(
                "{}: {size} bytes is shorter than one {MIN_SECTOR_BYTES}-byte sector, not a disk image",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// What container, if any, `file` holds: its first sector and last sector
/// decide (see [`container::detect`]).
fn detect_container(file: &File, size: u64, path: &Path) -> Result<Detected> {
    let mut head = vec![0u8; (container::DETECT_HEAD_BYTES as u64).min(size) as usize];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| Error::io(path, e))?;
    let mut tail = [0u8; 512];
    let tail = if size >= 1024 {
        file.read_exact_at(&mut tail, size - 512)
            .map_err(|e| Error::io(path, e))?;
        Some(&tail[..])
    } else {
        None
    };
    container::detect(&head, tail, &path.display().to_string())
}

/// A container's allocated ranges: its compressed units, and its host
/// extents where the host file holds data (a hole in a fixed VHD or a flat
/// VMDK extent reads as zeros, as `qemu-img map` reports it).
fn container_data_ranges(c: &ContainerInfo) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    let mut push = |r: Range<u64>| {
        if r.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => out.push(r),
        }
    };
    for e in &c.extents {
        match e.data {
            Data::Zero => {}
            Data::Compressed { .. } => push(e.virt..e.end()),
            Data::Host { file, offset } => {
                let host = c.files.get(file);
                match container::data_segments(host.file(), offset, offset + e.len) {
                    Some(segments) => {
                        for s in segments {
                            push(e.virt + (s.start - offset)..e.virt + (s.end - offset));
                        }
                    }
                    None => push(e.virt..e.end()),
                }
            }
        }
    }
    out
}

fn open_input(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a disk image",
            ),
        ));
    }
    File::open(path).map_err(|e| Error::io(path, e))
}

/// Size of a regular file or a block device (whose metadata length is 0).
fn input_size(file: &File, path: &Path) -> Result<u64> {
    use std::io::{Seek, SeekFrom};
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    // Block devices report their size only through seeking to the end.
    let mut f = file;
    let end = f.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
    Ok(end)
}

#[cfg(test)]
mod tests;
