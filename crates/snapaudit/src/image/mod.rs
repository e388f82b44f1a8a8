//! `Image`: the read-only bytes of a raw disk image.
//!
//! An image is opened once and shared (`Arc<Image>`) by every partition,
//! filesystem and scanner thread; everything downstream works on
//! [`Image::bytes`], a plain `&[u8]`, so that a file's extents can be scanned
//! in place without copying.
//!
//! Compressed inputs (`.gz`, `.zst`, `.xz`, and `.tar`/`.tar.gz` holding one
//! raw image, as cloud exports arrive) are recognised by their magic bytes,
//! expanded once into an unlinked, sparse temporary file, and mapped from
//! there; see [`expand`].

mod backing;
mod expand;

pub use expand::Compression;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// compressed input.
    pub progress: Option<ProgressFn<'a>>,
}

impl std::fmt::Debug for OpenOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("strategy", &self.strategy)
            .field("progress", &self.progress.is_some())
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
        let backing = Backing::load(&file, size, options.strategy, path)?;
        Ok(Image::new(path.to_path_buf(), compression, backing))
    }

    /// An image held in memory (tests, fuzzing, Python byte strings).
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Image {
        Image::new(name.into(), Compression::None, Backing::Owned(bytes))
    }

    fn new(path: PathBuf, compression: Compression, backing: Backing) -> Image {
        Image {
            inner: Arc::new(Inner {
                path,
                compression,
                backing,
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
