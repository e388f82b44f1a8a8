use ext4_view::{Ext4, Ext4Error, Ext4Read};

use crate::image::Image;
use crate::partition::Partition;
use crate::{Error, Result};

/// What a filesystem lives on: a partition, the whole disk, or a logical
/// volume. Cheap to clone and `Send + Sync`, so it can be handed to worker
/// threads.
///
/// A volume's bytes are a window of a *source*: the disk itself for a
/// partition, or a view derived from the disk ([`Image::derive`]) for a
/// volume that is not one contiguous range of it (a logical volume of
/// several segments) or whose bytes are changed in memory (a journal
/// replayed over the filesystem, [`Volume::with_patches`]). Offsets given
/// to the rest of the crate are volume offsets; [`Volume::image_offset`]
/// turns them into offsets of the disk.
#[derive(Debug, Clone)]
pub struct Volume {
    /// The disk.
    image: Image,
    /// Where the volume's bytes are read from, and where they start in it.
    source: Image,
    base: u64,
    /// Partition number (0 = whole disk; for a logical volume, the
    /// partition of its first segment's physical volume).
    partition: u32,
    /// `vg/lv` for a logical volume.
    name: Option<std::sync::Arc<str>>,
    /// Where the volume's first byte is on the disk.
    start_bytes: u64,
    size_bytes: u64,
    /// Volume offset → disk offset, for a volume of several segments.
    segments: Option<std::sync::Arc<[Segment]>>,
}

/// A run of a volume that lies contiguous on the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub volume_offset: u64,
    pub disk_offset: u64,
    pub len: u64,
}

/// `ext4-view` reads through this: a bounds-checked window on the volume's
/// source.
struct WindowReader {
    image: Image,
    start_bytes: u64,
    size_bytes: u64,
    /// A superblock to show instead of the one on disk (see
    /// [`Volume::open`]): 1024 bytes at volume offset 1024.
    superblock_override: Option<Vec<u8>>,
    symlink_guard: super::symlink_guard::SymlinkGuard,
}

/// ext4's primary superblock: where and how long.
const SB_OFFSET: u64 = 1024;
const SB_BYTES: u64 = 1024;
/// `s_feature_incompat` within the superblock, and its RECOVER bit.
const SB_FEATURE_INCOMPAT: usize = 0x60;
const EXT4_FEATURE_INCOMPAT_RECOVER: u32 = 0x4;
/// `s_log_block_size` of a 64 KiB block, the largest Linux mounts.
const MAX_LOG_BLOCK_SIZE: u64 = 6;
/// `s_feature_ro_compat` and its METADATA_CSUM bit.
const SB_FEATURE_RO_COMPAT: usize = 0x64;
const EXT4_FEATURE_RO_COMPAT_METADATA_CSUM: u32 = 0x400;

impl Ext4Read for WindowReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        let len = dst.len() as u64;
        let in_volume = start_byte
            .checked_add(len)
            .is_some_and(|end| end <= self.size_bytes);
        if !in_volume {
            return Err(format!(
                "read of {len} bytes at volume offset {start_byte} is outside the {}-byte filesystem",
                self.size_bytes
            )
            .into());
        }
        let src = self
            .image
            .range(self.start_bytes + start_byte, len, "filesystem read")
            .map_err(|e| e.to_string())?;
        dst.copy_from_slice(src);
        if let Some(sb) = &self.superblock_override {
            // Overlay the replacement superblock on whatever part of it
            // this read covers.
            let lo = start_byte.max(SB_OFFSET);
            let hi = (start_byte + len).min(SB_OFFSET + SB_BYTES);
            if lo < hi {
                let d = (lo - start_byte) as usize..(hi - start_byte) as usize;
                let s = (lo - SB_OFFSET) as usize..(hi - SB_OFFSET) as usize;
                dst[d].copy_from_slice(&sb[s]);
            }
        }
        self.symlink_guard.patch(start_byte, dst);
        Ok(())
    }
}

impl Volume {
    /// The filesystem in `partition` of `image`; a partition running past
    /// the end of a truncated image is clipped to what is there.
    pub fn new(image: &Image, partition: &Partition) -> Volume {
        let disk = image.size_bytes();
        let start_bytes = partition.start_bytes.min(disk);
        let size_bytes = partition.size_bytes.min(disk - start_bytes);
        Volume {
            image: image.clone(),
            source: image.clone(),
            base: start_bytes,
            partition: partition.index,
            name: None,
            start_bytes,
            size_bytes,
            segments: None,
        }
    }

    /// A named volume made of `segments` of the disk (a logical volume),
    /// laid end to end in the order given; `partition` is the partition
    /// that holds its first segment. One segment is a plain window; several
    /// get a derived view that maps the disk's bytes in place.
    pub fn from_segments(
        image: &Image,
        partition: u32,
        name: &str,
        segments: &[Segment],
    ) -> Result<Volume> {
        let Some(first) = segments.first() else {
            return Err(Error::invalid(format!("volume {name}: no segments")));
        };
        let mut expect = 0u64;
        for s in segments {
            let in_disk = s
                .disk_offset
                .checked_add(s.len)
                .is_some_and(|e| e <= image.size_bytes());
            if s.volume_offset != expect || s.len == 0 || !in_disk {
                return Err(Error::corrupt(
                    s.disk_offset,
                    format!(
                        "volume {name}: segment of {} bytes at volume offset {} (disk offset {}) is out of order or outside the {}-byte disk",
                        s.len,
                        s.volume_offset,
                        s.disk_offset,
                        image.size_bytes()
                    ),
                ));
            }
            expect += s.len;
        }
        let (source, base, map) = if segments.len() == 1 {
            (image.clone(), first.disk_offset, None)
        } else {
            let ranges: Vec<_> = segments
                .iter()
                .map(|s| s.disk_offset..s.disk_offset + s.len)
                .collect();
            (
                image.derive(&ranges, Vec::new())?,
                0,
                Some(segments.to_vec().into()),
            )
        };
        Ok(Volume {
            image: image.clone(),
            source,
            base,
            partition,
            name: Some(name.into()),
            start_bytes: first.disk_offset,
            size_bytes: expect,
            segments: map,
        })
    }

    /// The same volume with `patches` — `(volume offset, bytes)`, ascending
    /// and disjoint — laid over its bytes, in memory (a journal replayed
    /// over the filesystem). The disk is not touched; offsets still map to
    /// the disk as before.
    pub fn with_patches(&self, patches: Vec<(u64, Vec<u8>)>) -> Result<Volume> {
        if patches.is_empty() {
            return Ok(self.clone());
        }
        let range = self.base..self.base + self.size_bytes;
        let source = self.source.derive(std::slice::from_ref(&range), patches)?;
        Ok(Volume {
            source,
            base: 0,
            ..self.clone()
        })
    }

    /// The disk this volume is on.
    pub fn image(&self) -> &Image {
        &self.image
    }

    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// `vg/lv` for a logical volume, `None` for a partition.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the filesystem starts in the image.
    pub fn start_bytes(&self) -> u64 {
        self.start_bytes
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The filesystem's bytes (zero copy).
    pub fn bytes(&self) -> &[u8] {
        // Both bounds lie inside the source: clipped to the disk in `new`,
        // checked in `from_segments`, the whole view after `derive`.
        &self.source.bytes()[self.base as usize..(self.base + self.size_bytes) as usize]
    }

    /// Turn an offset inside the filesystem into an offset of the disk.
    pub fn image_offset(&self, volume_offset: u64) -> u64 {
        match &self.segments {
            None => self.start_bytes.saturating_add(volume_offset),
            Some(segments) => {
                let i = segments.partition_point(|s| s.volume_offset + s.len <= volume_offset);
                match segments.get(i) {
                    Some(s) => s.disk_offset + (volume_offset - s.volume_offset),
                    // Past the end: as for a plain window.
                    None => self.start_bytes.saturating_add(volume_offset),
                }
            }
        }
    }

    /// Load the filesystem with `ext4-view`.
    ///
    /// ext4-view replays a pending journal in memory, but only journals with
    /// the 64bit and checksum-v3 features; it refuses the rest (ext3, and
    /// ext4 without metadata_csum). A snapshot of a mounted filesystem is
    /// then read as it is on disk, without the replay — the same state our
    /// own layout reader sees — by showing ext4-view a superblock whose
    /// "needs recovery" flag is cleared. [`Fs::journal_replayed`] tells
    /// which happened; the `fs.unclean` rule reports it.
    pub fn open(&self) -> Result<Fs> {
        // The fields it checks are the same in the override superblock.
        self.check_superblock_for_ext4_view()?;
        match self.load(None) {
            Err(Ext4Error::Incompatible(i)) if i.to_string().contains("journal") => {
                let sb = self.superblock_without_recover().ok_or_else(|| {
                    Error::unsupported(format!(
                        "partition {}: ext4 filesystem: {i}",
                        self.partition
                    ))
                })?;
                let inner = self.load(Some(sb)).map_err(|e| self.error("/", e))?;
                Ok(Fs {
                    inner,
                    volume: self.clone(),
                    journal_replayed: false,
                    dir_index: Default::default(),
                })
            }
            Err(e) => Err(self.error("/", e)),
            Ok(inner) => Ok(Fs {
                inner,
                volume: self.clone(),
                journal_replayed: true,
                dir_index: Default::default(),
            }),
        }
    }

    fn load(&self, superblock_override: Option<Vec<u8>>) -> std::result::Result<Ext4, Ext4Error> {
        Ext4::load(Box::new(WindowReader {
            image: self.source.clone(),
            start_bytes: self.base,
            size_bytes: self.size_bytes,
            superblock_override,
            symlink_guard: super::symlink_guard::SymlinkGuard::new(self.bytes()),
        }))
    }

    /// Refuse, before ext4-view 1.0 sees them, superblock values that make
    /// it allocate without bound:
    /// - a block size above 64 KiB (Linux's maximum; ext4-view accepts up
    ///   to 2 GiB and allocates 9 blocks of cache up front: 18 GiB);
    /// - a group count whose descriptors (32 or `s_desc_size` bytes each,
    ///   as ext4-view counts them) could not fit in the volume: ext4-view
    ///   reserves one per group before reading any (2^32 with a corrupt
    ///   `s_blocks_count` or `s_blocks_per_group`). A real filesystem's
    ///   descriptors take a tiny fraction of it, even truncated.
    fn check_superblock_for_ext4_view(&self) -> Result<()> {
        use crate::util::{le_u16, le_u32};
        let Some(sb) = self
            .bytes()
            .get(SB_OFFSET as usize..(SB_OFFSET + SB_BYTES) as usize)
        else {
            // Too short for a superblock: ext4-view says so itself.
            return Ok(());
        };
        // The fields ext4-view's Superblock::from_bytes reads, as it reads
        // them (s_blocks_count_hi even without the 64bit feature).
        let field = |off: usize| le_u32(sb, off).map(u64::from).unwrap_or(0);
        let s_log_block_size = field(0x18);
        if s_log_block_size > MAX_LOG_BLOCK_SIZE {
            return Err(Error::corrupt(
                self.start_bytes + SB_OFFSET + 0x18,
                format!(
                    "partition {}: ext4 superblock: s_log_block_size {s_log_block_size} means blocks of 2^{} bytes; at most 64 KiB (2^16) exist",
                    self.partition,
                    10 + s_log_block_size
                ),
            ));
        }
        let blocks_count = field(0x150) << 32 | field(0x4);
        let s_first_data_block = field(0x14);
        let s_blocks_per_group = field(0x20);
        let is_64bit = field(SB_FEATURE_INCOMPAT) & 0x80 != 0;
        let desc_bytes = if is_64bit {
            u64::from(le_u16(sb, 0xFE).unwrap_or(0))
        } else {
            32
        };
        let (Some(data_blocks), Some(per_group)) = (
            blocks_count.checked_sub(s_first_data_block),
            std::num::NonZeroU64::new(s_blocks_per_group),
        ) else {
            // Invalid either way: ext4-view refuses it before allocating.
            return Ok(());
        };
        let groups = data_blocks.div_ceil(per_group.get());
        if groups.saturating_mul(desc_bytes.max(1)) > self.size_bytes {
            return Err(Error::corrupt(
                self.start_bytes + SB_OFFSET,
                format!(
                    "partition {}: ext4 superblock: {blocks_count} blocks in groups of {s_blocks_per_group} make {groups} block groups, whose descriptors cannot fit in the {}-byte volume",
                    self.partition, self.size_bytes
                ),
            ));
        }
        Ok(())
    }

    /// The superblock with INCOMPAT_RECOVER cleared (and its checksum
    /// recomputed under metadata_csum), or `None` if it cannot be read.
    fn superblock_without_recover(&self) -> Option<Vec<u8>> {
        let mut sb = self
            .bytes()
            .get(SB_OFFSET as usize..(SB_OFFSET + SB_BYTES) as usize)?
            .to_vec();
        let incompat =
            crate::util::le_u32(&sb, SB_FEATURE_INCOMPAT)? & !EXT4_FEATURE_INCOMPAT_RECOVER;
        sb.get_mut(SB_FEATURE_INCOMPAT..SB_FEATURE_INCOMPAT + 4)?
            .copy_from_slice(&incompat.to_le_bytes());
        if crate::util::le_u32(&sb, SB_FEATURE_RO_COMPAT)? & EXT4_FEATURE_RO_COMPAT_METADATA_CSUM
            != 0
        {
            super::layout::csum::set_superblock_checksum(&mut sb)?;
        }
        Some(sb)
    }

    fn error(&self, path: &str, e: Ext4Error) -> Error {
        let where_ = format!("partition {}", self.partition);
        match e {
            Ext4Error::NotFound => Error::NotFound {
                path: path.to_string(),
            },
            Ext4Error::Corrupt(c) => Error::corrupt(
                self.start_bytes,
                format!("{where_}: ext4 filesystem: {path}: {c}"),
            ),
            Ext4Error::Incompatible(i) => {
                Error::unsupported(format!("{where_}: ext4 filesystem: {i}"))
            }
            Ext4Error::Encrypted => Error::unsupported(format!(
                "{path}: the file is encrypted (fscrypt); its contents cannot be read"
            )),
            Ext4Error::Io(io) => {
                Error::corrupt(self.start_bytes, format!("{where_}: {path}: {io}"))
            }
            Ext4Error::FileTooLarge => {
                Error::unsupported(format!("{path}: the file is too large to read into memory"))
            }
            other => Error::invalid(format!("{path}: {other}")),
        }
    }
}

/// The kind of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileKind {
    fn from_ext4(t: ext4_view::FileType) -> FileKind {
        use ext4_view::FileType as T;
        match t {
            T::BlockDevice => FileKind::BlockDevice,
            T::CharacterDevice => FileKind::CharDevice,
            T::Directory => FileKind::Dir,
            T::Fifo => FileKind::Fifo,
            T::Socket => FileKind::Socket,
            T::Symlink => FileKind::Symlink,
            _ => FileKind::File,
        }
    }

    /// The `ls -l` type letter.
    pub fn letter(self) -> char {
        match self {
            FileKind::File => '-',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
            FileKind::CharDevice => 'c',
            FileKind::BlockDevice => 'b',
            FileKind::Fifo => 'p',
            FileKind::Socket => 's',
        }
    }
}

/// A file's metadata (of the link itself for symlinks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stat {
    pub path: String,
    pub kind: FileKind,
    /// Permission bits (`0o7777`), without the type bits.
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size_bytes: u64,
    /// Seconds since the epoch.
    pub atime: i64,
    pub mtime: i64,
    pub crtime: Option<i64>,
    /// Target of a symlink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirEntry {
    /// The name as stored (lossily decoded when not UTF-8).
    pub name: String,
    pub kind: FileKind,
}

/// An entry produced by [`Fs::walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    pub path: String,
    pub kind: FileKind,
    pub depth: usize,
}

/// Directories nested deeper than this are not descended into: a directory
/// hard-linked into its own subtree would otherwise be walked forever.
pub const MAX_WALK_DEPTH: usize = 256;

/// `ls -R` gives up beyond this many pending directories (a loop of hard-linked
/// directories would otherwise grow the queue without end).
pub const MAX_LISTED_DIRS: usize = 1_000_000;

/// A loaded ext2/3/4 filesystem (not `Send`: open one per thread).
pub struct Fs {
    inner: Ext4,
    volume: Volume,
    journal_replayed: bool,
    /// Directories our own reader has scanned (for the fallbacks, which
    /// look files up by path one at a time).
    dir_index: super::layout::DirIndex,
}

impl std::fmt::Debug for Fs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fs")
            .field("volume", &self.volume)
            .finish_non_exhaustive()
    }
}

impl Fs {
    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    /// False when a pending journal could not be replayed and the
    /// filesystem is read as it is on disk (see [`Volume::open`]).
    pub fn journal_replayed(&self) -> bool {
        self.journal_replayed
    }

    /// The filesystem UUID.
    pub fn uuid(&self) -> String {
        self.inner.uuid().to_string()
    }

    /// Whether `path` exists (symlinks followed, inside the image).
    pub fn exists(&self, path: &str) -> Result<bool> {
        self.inner
            .exists(path)
            .map_err(|e| self.volume.error(path, e))
    }

    /// Whether `path` exists; unreadable paths count as absent.
    pub fn exists_lossy(&self, path: &str) -> bool {
        self.exists(path).unwrap_or(false)
    }

    /// The contents of a regular file, refusing files over `max_bytes`
    /// (so a 1 TiB sparse file is never pulled into memory).
    ///
    /// When ext4-view cannot read the file although the filesystem is
    /// sound enough for our own reader (it rejects timestamps past 2038 and
    /// htree directories with the legacy hash, for instance), the file is
    /// read through [`super::layout`] instead: a file must not escape the
    /// audit or the scan because of a metadata quirk.
    pub fn read_limited(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>> {
        match self.read_limited_ext4_view(path, max_bytes) {
            Err(e @ (Error::Corrupt { .. } | Error::Unsupported { .. })) => {
                read_via_layout(&self.volume, &self.dir_index, path, max_bytes).map_err(|_| e)
            }
            other => other,
        }
    }

    fn read_limited_ext4_view(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let mut file = self
            .inner
            .open(path)
            .map_err(|e| self.volume.error(path, e))?;
        let size = file.metadata().len();
        if size > max_bytes {
            return Err(Error::invalid(format!(
                "{path}: {size} bytes is larger than the {max_bytes}-byte limit for reading a whole file"
            )));
        }
        let mut out = vec![0u8; size as usize];
        let mut filled = 0;
        while filled < out.len() {
            let n = file
                .read_bytes(&mut out[filled..])
                .map_err(|e| self.volume.error(path, e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        out.truncate(filled);
        Ok(out)
    }

    /// Stream a file's contents to `sink` in chunks (any size of file),
    /// falling back to our own reader like [`Fs::read_limited`].
    pub fn read_chunks(
        &self,
        path: &str,
        chunk_bytes: usize,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        let mut file = match self
            .inner
            .open(path)
            .map_err(|e| self.volume.error(path, e))
        {
            Ok(f) => f,
            Err(e @ (Error::Corrupt { .. } | Error::Unsupported { .. })) => {
                return stream_via_layout(&self.volume, &self.dir_index, path, chunk_bytes, sink)
                    .map_err(|_| e);
            }
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; chunk_bytes.max(4096)];
        let mut total = 0u64;
        loop {
            let n = file
                .read_bytes(&mut buf)
                .map_err(|e| self.volume.error(path, e))?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            sink(&buf[..n])?;
        }
    }

    /// Metadata of `path` itself (a symlink is not followed). Falls back to
    /// our own reader where ext4-view refuses an inode (e.g. a timestamp
    /// past 2038).
    pub fn stat(&self, path: &str) -> Result<Stat> {
        match self.stat_ext4_view(path) {
            Err(e @ (Error::Corrupt { .. } | Error::Unsupported { .. })) => {
                stat_via_layout(&self.volume, &self.dir_index, path).map_err(|_| e)
            }
            other => other,
        }
    }

    fn stat_ext4_view(&self, path: &str) -> Result<Stat> {
        let m = self
            .inner
            .symlink_metadata(path)
            .map_err(|e| self.volume.error(path, e))?;
        Ok(self.stat_from_metadata(path, &m))
    }

    fn stat_from_metadata(&self, path: &str, m: &ext4_view::Metadata) -> Stat {
        let kind = FileKind::from_ext4(m.file_type());
        let symlink_target = if kind == FileKind::Symlink {
            self.inner
                .read_link(path)
                .ok()
                .map(|t| String::from_utf8_lossy(t.as_ref()).into_owned())
        } else {
            None
        };
        Stat {
            path: path.to_string(),
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            size_bytes: m.len(),
            atime: m.accessed().seconds(),
            mtime: m.modified().seconds(),
            crtime: m.created().map(|t| t.seconds()),
            symlink_target,
        }
    }

    /// Metadata of what `path` resolves to (symlinks followed).
    pub fn stat_follow(&self, path: &str) -> Result<Stat> {
        let target = self.canonicalize(path)?;
        self.stat(&target)
    }

    /// `path` with every symlink resolved inside the image.
    pub fn canonicalize(&self, path: &str) -> Result<String> {
        self.inner
            .canonicalize(path)
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .map_err(|e| self.volume.error(path, e))
    }

    /// The target of a symlink, as stored.
    pub fn read_link(&self, path: &str) -> Result<String> {
        self.inner
            .read_link(path)
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .map_err(|e| self.volume.error(path, e))
    }

    /// The inode number `path` resolves to (symlinks followed), from our own
    /// reader; `None` when it cannot tell. Lets a caller that walks the
    /// tree itself (`ls -R`) enter each directory once, like [`Fs::walk`].
    pub fn inode_number(&self, path: &str) -> Option<u32> {
        use super::layout::{Follow, Layout};
        Layout::open(self.volume.bytes())
            .ok()?
            .lookup_indexed(path, Follow::All, &self.dir_index)
            .ok()
    }

    /// The entries of a directory with the metadata of each (as
    /// [`Fs::stat`] gives it), without `.` and `..`, sorted by name.
    ///
    /// Each entry's inode is read by the number in the directory entry
    /// rather than by resolving `dir/name` again, which costs ext4-view a
    /// scan of the directory per entry (`ls -l` of f_many_subdirs' 65 000
    /// entries: 7 % faster). An entry whose inode ext4-view refuses gets
    /// [`Fs::stat`]'s answer, fallbacks included.
    pub fn read_dir_stat(&self, path: &str) -> Result<Vec<(DirEntry, Result<Stat>)>> {
        self.list(path, |entry, name| {
            let child = join_path(path, name);
            match entry.metadata() {
                Ok(m) => Ok(self.stat_from_metadata(&child, &m)),
                Err(_) => self.stat(&child),
            }
        })
    }

    /// The entries of a directory, without `.` and `..`, sorted by name.
    pub fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let listed = self.list(path, |_, _| ())?;
        Ok(listed.into_iter().map(|(e, ())| e).collect())
    }

    /// The entries of directory `path` without `.` and `..`, each with what
    /// `extra` makes of ext4-view's entry and the entry's name, sorted by
    /// name.
    fn list<T>(
        &self,
        path: &str,
        mut extra: impl FnMut(&ext4_view::DirEntry, &str) -> T,
    ) -> Result<Vec<(DirEntry, T)>> {
        let iter = self
            .inner
            .read_dir(path)
            .map_err(|e| self.volume.error(path, e))?;
        let mut out = Vec::new();
        for entry in iter {
            let entry = entry.map_err(|e| self.volume.error(path, e))?;
            let file_name = entry.file_name();
            let raw = file_name.as_ref();
            if raw == b"." || raw == b".." {
                continue;
            }
            let kind = entry
                .file_type()
                .map(FileKind::from_ext4)
                .map_err(|e| self.volume.error(path, e))?;
            let name = String::from_utf8_lossy(raw).into_owned();
            let value = extra(&entry, &name);
            out.push((DirEntry { name, kind }, value));
        }
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(out)
    }

    /// Visit every entry under `root` depth-first in name order (symlinks
    /// are reported, not followed). Unreadable directories are reported to
    /// `on_error` and skipped; the walk goes on.
    ///
    /// Each directory is entered once: a directory hard-linked into its own
    /// subtree, or under a second name, is listed but not descended into
    /// again (reported to `on_error` as a loop). Without that, two links
    /// back up the tree make the number of paths grow exponentially with
    /// [`MAX_WALK_DEPTH`]. Directory identity (the inode number) comes from
    /// our own reader; where it cannot tell, the depth bound still holds.
    pub fn walk(
        &self,
        root: &str,
        visit: &mut dyn FnMut(&WalkEntry),
        on_error: &mut dyn FnMut(&str, Error),
    ) {
        use super::layout::{Follow, Layout};
        let layout = Layout::open(self.volume.bytes()).ok();
        let root_ino = layout
            .as_ref()
            .and_then(|l| l.lookup(root, Follow::All).ok());
        // (inode number, first path) of every directory entered.
        let mut entered: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        let mut stack: Vec<(String, usize, Option<u32>)> = vec![(root.to_string(), 0, root_ino)];
        while let Some((dir, depth, ino)) = stack.pop() {
            if let Some(ino) = ino {
                if let Some(first) = entered.get(&ino) {
                    on_error(
                        &dir,
                        Error::corrupt(
                            self.volume.start_bytes,
                            format!(
                                "{dir}: directory inode {ino} was already walked as {first} (a directory loop or a hard-linked directory); not walked again"
                            ),
                        ),
                    );
                    continue;
                }
                entered.insert(ino, dir.clone());
            }
            let entries = match self.read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    on_error(&dir, e);
                    continue;
                }
            };
            let child_inos = match (&layout, ino) {
                (Some(l), Some(ino)) if entries.iter().any(|e| e.kind == FileKind::Dir) => {
                    subdir_inodes(l, ino)
                }
                _ => Default::default(),
            };
            // Pushed in reverse so that names come out in order.
            for e in entries.iter().rev() {
                let path = join_path(&dir, &e.name);
                if e.kind == FileKind::Dir {
                    if depth + 1 >= MAX_WALK_DEPTH {
                        on_error(
                            &path,
                            Error::corrupt(
                                self.volume.start_bytes,
                                format!(
                                    "{path}: directories nested deeper than {MAX_WALK_DEPTH} levels (a directory loop?) were not walked"
                                ),
                            ),
                        );
                    } else {
                        let child = child_inos.get(&e.name).copied().flatten();
                        stack.push((path.clone(), depth + 1, child));
                    }
                }
            }
            for e in entries {
                visit(&WalkEntry {
                    path: join_path(&dir, &e.name),
                    kind: e.kind,
                    depth: depth + 1,
                });
            }
        }
    }
}

/// Inode numbers of the subdirectories of directory `ino`, by name as
/// [`Fs::read_dir`] decodes it (`None` for names that decode alike); empty
/// when our reader cannot list it.
fn subdir_inodes(
    layout: &super::layout::Layout<'_>,
    ino: u32,
) -> std::collections::HashMap<String, Option<u32>> {
    use super::layout::file_type;
    let mut out = std::collections::HashMap::new();
    let Ok(raw) = layout.read_dir(ino) else {
        return out;
    };
    // Without the filetype feature every entry says UNKNOWN.
    for e in raw
        .into_iter()
        .filter(|e| matches!(e.file_type, file_type::DIRECTORY | file_type::UNKNOWN))
    {
        let name = String::from_utf8_lossy(&e.name).into_owned();
        out.entry(name)
            .and_modify(|ino: &mut Option<u32>| *ino = None)
            .or_insert(Some(e.ino));
    }
    out
}

/// `dir` + `/` + `name` without doubling the root slash.
pub fn join_path(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Stream a regular file through our own on-disk reader, holes as zeros.
fn stream_via_layout(
    volume: &Volume,
    index: &super::layout::DirIndex,
    path: &str,
    chunk_bytes: usize,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    use super::layout::{Follow, Layout};
    let layout = Layout::open(volume.bytes())?;
    let inode = layout.lookup_inode_indexed(path, Follow::All, index)?;
    if !inode.is_regular() {
        return Err(Error::invalid(format!("{path}: not a regular file")));
    }
    let zeros = vec![0u8; chunk_bytes.max(4096)];
    let emit_zeros = |mut n: u64, sink: &mut dyn FnMut(&[u8]) -> Result<()>| -> Result<()> {
        while n > 0 {
            let k = n.min(zeros.len() as u64) as usize;
            sink(&zeros[..k])?;
            n -= k as u64;
        }
        Ok(())
    };
    let mut pos = 0u64;
    for r in layout.file_byte_ranges(&inode)? {
        emit_zeros(r.file_offset_bytes.saturating_sub(pos), sink)?;
        let src = layout.bytes_at(r.volume_offset_bytes, r.len_bytes, path)?;
        for chunk in src.chunks(chunk_bytes.max(4096)) {
            sink(chunk)?;
        }
        pos = r.file_offset_bytes + r.len_bytes;
    }
    emit_zeros(inode.i_size.saturating_sub(pos), sink)?;
    Ok(inode.i_size)
}

/// Read a regular file through our own on-disk reader (symlinks followed).
pub(crate) fn read_via_layout(
    volume: &Volume,
    index: &super::layout::DirIndex,
    path: &str,
    max_bytes: u64,
) -> Result<Vec<u8>> {
    use super::layout::{Follow, Layout};
    let layout = Layout::open(volume.bytes())?;
    let inode = layout.lookup_inode_indexed(path, Follow::All, index)?;
    if !inode.is_regular() {
        return Err(Error::invalid(format!("{path}: not a regular file")));
    }
    if inode.i_size > max_bytes {
        return Err(Error::invalid(format!(
            "{path}: {} bytes is larger than the {max_bytes}-byte limit for reading a whole file",
            inode.i_size
        )));
    }
    // Holes and unwritten extents read as zeros.
    let mut out = vec![0u8; inode.i_size as usize];
    for r in layout.file_byte_ranges(&inode)? {
        let src = layout.bytes_at(r.volume_offset_bytes, r.len_bytes, path)?;
        let start = r.file_offset_bytes as usize;
        let dst = out.get_mut(start..start + src.len()).ok_or_else(|| {
            Error::corrupt(
                volume.start_bytes(),
                format!("{path}: a data run lies past the file size"),
            )
        })?;
        dst.copy_from_slice(src);
    }
    Ok(out)
}

fn stat_via_layout(volume: &Volume, index: &super::layout::DirIndex, path: &str) -> Result<Stat> {
    use super::layout::{FileType, Follow, Layout};
    let layout = Layout::open(volume.bytes())?;
    let inode = layout.lookup_inode_indexed(path, Follow::Parents, index)?;
    let kind = match inode.file_type() {
        FileType::Fifo => FileKind::Fifo,
        FileType::CharDevice => FileKind::CharDevice,
        FileType::Directory => FileKind::Dir,
        FileType::BlockDevice => FileKind::BlockDevice,
        FileType::Symlink => FileKind::Symlink,
        FileType::Socket => FileKind::Socket,
        FileType::Regular | FileType::Unknown(_) => FileKind::File,
    };
    let symlink_target = if kind == FileKind::Symlink {
        layout
            .read_link(&inode)
            .ok()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
    } else {
        None
    };
    Ok(Stat {
        path: path.to_string(),
        kind,
        mode: inode.i_mode & 0o7777,
        uid: inode.i_uid,
        gid: inode.i_gid,
        size_bytes: inode.i_size,
        atime: inode.i_atime.seconds,
        mtime: inode.i_mtime.seconds,
        crtime: inode.i_crtime.map(|t| t.seconds),
        symlink_target,
    })
}
