//! The host files a virtual disk is made of (the image file, its backing
//! chain, VMDK extent files), with bounds-checked positioned reads.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Index of a file in [`Files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u16);

/// An open host file and its size. Reads never go past `size`.
#[derive(Debug)]
pub struct HostFile {
    path: PathBuf,
    file: File,
    size: u64,
    /// The file's holes are holes of the disk: its layer has no allocation
    /// table of its own (raw, fixed VHD, flat VMDK extents), so the file's
    /// `SEEK_DATA` map is the allocation map, as `qemu-img map` reports it.
    /// Otherwise the container's table decides, and a hole inside an
    /// allocated cluster is allocated data that reads as zeros.
    passthrough: bool,
}

/// At most this many bytes in one metadata read (a table, a header, a
/// descriptor): larger claims are corrupt, not a reason to allocate.
pub const MAX_METADATA_READ: u64 = 256 << 20;

impl HostFile {
    pub fn new(path: PathBuf, file: File, size: u64) -> HostFile {
        HostFile {
            path,
            file,
            size,
            passthrough: false,
        }
    }

    pub fn passthrough(&self) -> bool {
        self.passthrough
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn display(&self) -> String {
        self.path.display().to_string()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether `len` bytes at `offset` lie inside the file.
    pub fn contains(&self, offset: u64, len: u64) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// Fill `buf` from `offset`; `what` names the structure for the error
    /// when the range runs past the end of the file.
    pub fn read_into(&self, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
        let len = buf.len() as u64;
        if !self.contains(offset, len) {
            return Err(Error::corrupt(
                offset,
                format!(
                    "{}: {what}: {len} bytes at file offset {offset} run past the end of the {}-byte file (truncated container?)",
                    self.display(),
                    self.size
                ),
            ));
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// `len` bytes at `offset`, `len` capped at [`MAX_METADATA_READ`].
    pub fn read_vec(&self, offset: u64, len: u64, what: &str) -> Result<Vec<u8>> {
        if len > MAX_METADATA_READ {
            return Err(Error::corrupt(
                offset,
                format!(
                    "{}: {what} claims {len} bytes at file offset {offset}, more than any real container has",
                    self.display()
                ),
            ));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_into(offset, &mut buf, what)?;
        Ok(buf)
    }
}

/// Every host file of one virtual disk, in the order they were opened.
#[derive(Debug, Default)]
pub struct Files {
    list: Vec<HostFile>,
}

/// More files than this in one chain (backing files, extent files) is a
/// loop or a hostile descriptor.
pub const MAX_FILES: usize = 1024;

impl Files {
    pub fn new() -> Files {
        Files::default()
    }

    pub fn add(&mut self, file: HostFile) -> Result<FileId> {
        if self.list.len() >= MAX_FILES {
            return Err(Error::unsupported(format!(
                "{}: the image is made of more than {MAX_FILES} files",
                file.display()
            )));
        }
        self.list.push(file);
        Ok(FileId((self.list.len() - 1) as u16))
    }

    /// Open `path` read-only and add it.
    pub fn open(&mut self, path: &Path) -> Result<FileId> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        self.add(HostFile::new(path.to_path_buf(), file, size))
    }

    /// Open a file named inside the container `from` (a backing file, a
    /// VMDK extent): relative names are resolved against `from`'s
    /// directory, as qemu does.
    pub fn open_relative(&mut self, from: FileId, name: &str) -> Result<FileId> {
        let path = self.resolve_name(from, name);
        self.open(&path)
    }

    pub fn resolve_name(&self, from: FileId, name: &str) -> PathBuf {
        let name = Path::new(name);
        if name.is_absolute() {
            return name.to_path_buf();
        }
        match self.get(from).path().parent() {
            Some(dir) => dir.join(name),
            None => name.to_path_buf(),
        }
    }

    /// The same files through new descriptors (for a derived view that
    /// outlives nothing but itself).
    pub fn try_clone(&self) -> Result<Files> {
        let mut list = Vec::with_capacity(self.list.len());
        for f in &self.list {
            let file = f.file.try_clone().map_err(|e| Error::io(&f.path, e))?;
            list.push(HostFile {
                passthrough: f.passthrough,
                ..HostFile::new(f.path.clone(), file, f.size)
            });
        }
        Ok(Files { list })
    }

    /// Mark `id` as a file whose holes are the disk's (see
    /// [`HostFile::passthrough`]).
    pub fn set_passthrough(&mut self, id: FileId) {
        self.list[id.0 as usize].passthrough = true;
    }

    pub fn get(&self, id: FileId) -> &HostFile {
        &self.list[id.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// More data segments than this (a pathologically fragmented sparse file):
/// the whole range counts as data.
const MAX_SEGMENTS: usize = 1 << 20;

/// The data (non-hole) ranges of `file` within `[start, end)`, from
/// `lseek(SEEK_DATA/SEEK_HOLE)`; `None` when the filesystem cannot tell (then
/// everything must be taken as data).
pub(crate) fn data_segments(
    file: &File,
    start: u64,
    end: u64,
) -> Option<Vec<std::ops::Range<u64>>> {
    use rustix::fs::{SeekFrom, seek};
    use rustix::io::Errno;
    let mut data = Vec::new();
    let mut at = start;
    while at < end {
        let seg_start = match seek(file, SeekFrom::Data(at)) {
            Ok(s) => s,
            // No data after `at`.
            Err(Errno::NXIO) => break,
            Err(_) => return None,
        };
        if seg_start >= end {
            break;
        }
        let seg_end = seek(file, SeekFrom::Hole(seg_start)).ok()?.min(end);
        if seg_end <= seg_start || seg_start < at {
            return None;
        }
        data.push(seg_start..seg_end);
        if data.len() > MAX_SEGMENTS {
            return None;
        }
        at = seg_end;
    }
    Some(data)
}
