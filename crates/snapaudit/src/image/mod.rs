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
    /// How the bytes were brought in; derived views read the same way.
    strategy: ReadStrategy,
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
    /// Ranges laid over the extents by [`Image::derive`]; they hold data.
    patched: Vec<Range<u64>>,
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
        match detect_container(&file, size, path)? {
            Detected::Raw => {
                // A container file may be shorter than a sector (a VMDK
                // descriptor); its virtual disk is checked below.
                check_size(path, size)?;
                let backing = Backing::load(&file, size, options.strategy, path)?;
                let mut image =
                    Image::new(path.to_path_buf(), compression, backing, Source::Raw(file));
                image.set_strategy(options.strategy);
                Ok(image)
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
                    &[],
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
                    patched: Vec::new(),
                    snapshots: resolved.snapshots,
                    backing_chain: resolved.backing_chain,
                };
                let mut image = Image::new(
                    path.to_path_buf(),
                    compression,
                    backing,
                    Source::Container(info),
                );
                image.set_strategy(options.strategy);
                Ok(image)
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
                strategy: ReadStrategy::Read,
                data_ranges: OnceLock::new(),
            }),
        }
    }

    /// Only called on a freshly built image, before it is shared.
    fn set_strategy(&mut self, strategy: ReadStrategy) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.strategy = strategy;
        }
    }

    /// A new image whose bytes are `ranges` of this one laid end to end,
    /// with `patches` — `(offset in the new image, bytes)`, ascending and
    /// disjoint — laid over them. Nothing is written to any input.
    ///
    /// This is how a volume that is not one contiguous window of the disk
    /// gets its own bytes: a logical volume made of several segments, or a
    /// filesystem with its journal replayed in memory. Host data is mapped
    /// in place as for a container; only patched pages are copied.
    pub fn derive(&self, ranges: &[Range<u64>], patches: Vec<(u64, Vec<u8>)>) -> Result<Image> {
        let size = self.size_bytes();
        let mut virtual_size = 0u64;
        for r in ranges {
            if r.start > r.end || r.end > size {
                return Err(Error::invalid(format!(
                    "derived view: range {}..{} is outside the {size}-byte disk",
                    r.start, r.end
                )));
            }
            virtual_size += r.end - r.start;
        }
        let mut end = 0u64;
        for (at, bytes) in &patches {
            let p_end = at.checked_add(bytes.len() as u64);
            if *at < end || p_end.is_none_or(|e| e > virtual_size) {
                return Err(Error::invalid(format!(
                    "derived view: patch of {} bytes at {at} overlaps another or lies outside the {virtual_size}-byte view",
                    bytes.len()
                )));
            }
            end = at + bytes.len() as u64;
        }
        check_size(&self.inner.path, virtual_size)?;
        let (files, source_extents, format) = match &self.inner.source {
            Source::Memory => {
                // No host file to map: copy.
                let mut bytes = Vec::new();
                bytes
                    .try_reserve_exact(virtual_size as usize)
                    .map_err(|_| {
                        Error::unsupported(format!(
                            "cannot allocate {virtual_size} bytes for a derived view"
                        ))
                    })?;
                for r in ranges {
                    bytes.extend_from_slice(&self.bytes()[r.start as usize..r.end as usize]);
                }
                for (at, b) in &patches {
                    bytes[*at as usize..*at as usize + b.len()].copy_from_slice(b);
                }
                return Ok(Image::new(
                    self.inner.path.clone(),
                    self.compression(),
                    Backing::Owned(bytes),
                    Source::Memory,
                ));
            }
            Source::Raw(file) => {
                let mut files = Files::new();
                let clone = file
                    .try_clone()
                    .map_err(|e| Error::io(&self.inner.path, e))?;
                let id = files.add(HostFile::new(self.inner.path.clone(), clone, size))?;
                files.set_passthrough(id);
                (files, container::Layer::raw(id, size).extents, Format::Raw)
            }
            Source::Container(c) => (c.files.try_clone()?, c.extents.clone(), c.format),
        };
        let extents = remap(&source_extents, ranges);
        // Bytes this image itself has patched (a view of a view) are not in
        // any host file: they carry over as patches, under the new ones.
        let patches = match &self.inner.source {
            Source::Container(c) if !c.patched.is_empty() => {
                overlay(inherited_patches(self.bytes(), &c.patched, ranges), patches)
            }
            _ => patches,
        };
        let patched: Vec<Range<u64>> = patches
            .iter()
            .map(|(at, b)| *at..*at + b.len() as u64)
            .collect();
        let assembled = stitch::assemble(
            &files,
            &extents,
            &patches,
            virtual_size,
            self.inner.strategy,
            None,
        )?;
        let backing = match assembled {
            stitch::Assembled::Mapped(m) => Backing::Stitched(m),
            stitch::Assembled::Owned(v) => Backing::Owned(v),
        };
        let info = ContainerInfo {
            format,
            files,
            extents,
            patched,
            snapshots: Vec::new(),
            backing_chain: Vec::new(),
        };
        let mut image = Image::new(
            self.inner.path.clone(),
            self.compression(),
            backing,
            Source::Container(info),
        );
        image.set_strategy(self.inner.strategy);
        Ok(image)
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

    /// The file whose bytes are exactly the disk, when there is one (see
    /// [`Image::is_plain_file`]): the descriptor opened at [`Image::open`],
    /// which the sanitizer hands to the kernel to clone or copy. The path
    /// is never opened a second time.
    pub fn host_file(&self) -> Option<&File> {
        match &self.inner.source {
            Source::Raw(file) if self.is_plain_file() => {
                let meta = file.metadata().ok()?;
                (meta.is_file() && meta.len() == self.size_bytes()).then_some(file)
            }
            _ => None,
        }
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

/// A container's allocated ranges: its compressed units and host extents,
/// less the holes of pass-through files (a hole in a raw backing file, a
/// fixed VHD or a flat VMDK extent is unallocated, as `qemu-img map`
/// reports it).
fn container_data_ranges(c: &ContainerInfo) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    if !c.patched.is_empty() {
        // Patches land inside extents or over zeros: merge both lists.
        let mut all = extent_data_ranges(c);
        all.extend(c.patched.iter().cloned());
        all.sort_unstable_by_key(|r| r.start);
        for r in all {
            match out.last_mut() {
                Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                _ => out.push(r),
            }
        }
        return out;
    }
    extent_data_ranges(c)
}

fn extent_data_ranges(c: &ContainerInfo) -> Vec<Range<u64>> {
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
            Data::Host { file, .. } if !c.files.get(file).passthrough() => push(e.virt..e.end()),
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

/// The bytes of `patched` (ranges of `bytes`) that fall inside `ranges`,
/// as patches of the view that lays `ranges` end to end.
fn inherited_patches(
    bytes: &[u8],
    patched: &[Range<u64>],
    ranges: &[Range<u64>],
) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut base = 0u64;
    for r in ranges {
        let first = patched.partition_point(|p| p.end <= r.start);
        for p in &patched[first..] {
            if p.start >= r.end {
                break;
            }
            let lo = p.start.max(r.start);
            let hi = p.end.min(r.end);
            out.push((
                base + (lo - r.start),
                bytes[lo as usize..hi as usize].to_vec(),
            ));
        }
        base += r.end - r.start;
    }
    out.sort_unstable_by_key(|p| p.0);
    out
}

/// `base` patches with `top` laid over them: the parts of `base` that `top`
/// covers are cut away. Both inputs are ascending and disjoint.
fn overlay(base: Vec<(u64, Vec<u8>)>, top: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    let top_ranges: Vec<Range<u64>> = top.iter().map(|(a, b)| *a..*a + b.len() as u64).collect();
    let mut out = Vec::with_capacity(base.len() + top.len());
    for (at, bytes) in base {
        let end = at + bytes.len() as u64;
        let mut start = at;
        let first = top_ranges.partition_point(|t| t.end <= start);
        for t in &top_ranges[first..] {
            if t.start >= end {
                break;
            }
            if t.start > start {
                out.push((
                    start,
                    bytes[(start - at) as usize..(t.start - at) as usize].to_vec(),
                ));
            }
            start = start.max(t.end);
        }
        if start < end {
            out.push((start, bytes[(start - at) as usize..].to_vec()));
        }
    }
    out.extend(top);
    out.sort_unstable_by_key(|p| p.0);
    out
}

/// The extents of `ranges` of a disk laid end to end, from the disk's
/// `extents`; what the disk has no extent for stays unlisted (zeros).
fn remap(extents: &[Extent], ranges: &[Range<u64>]) -> Vec<Extent> {
    let mut out = Vec::new();
    let mut base = 0u64;
    for r in ranges {
        let first = extents.partition_point(|e| e.end() <= r.start);
        for e in &extents[first..] {
            if e.virt >= r.end {
                break;
            }
            let lo = e.virt.max(r.start);
            let hi = e.end().min(r.end);
            let clipped = container::chain::clip(e, lo, hi);
            container::push_merged(
                &mut out,
                Extent {
                    virt: base + (lo - r.start),
                    ..clipped
                },
            );
        }
        base += r.end - r.start;
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
