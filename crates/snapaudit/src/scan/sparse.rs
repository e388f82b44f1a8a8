//! The hole map of a sparse image file: which byte ranges hold data, from
//! `lseek(SEEK_DATA/SEEK_HOLE)`.
//!
//! Disk images are usually sparse (`qemu-img convert`, `dd conv=sparse`,
//! `cp --sparse`): the never-written part of the disk — most of the free
//! space — is a hole in the file and reads as zeros. Raw mode skips holes
//! without touching them, which saves the page faults and the zero test of
//! gigabytes of zeros; what remains is tested block by block as before.
//!
//! The map is read from the file at the image's path, so it is only used
//! for raw, uncompressed images whose file has the image's size (an
//! expanded compressed input lives in an unlinked temporary file). Like the
//! memory map itself, it assumes the file is not modified during the scan.

use std::ops::Range;

use crate::image::{Compression, Image};

/// More data extents than this (a pathologically fragmented sparse file):
/// no map, every block gets the zero test instead.
const MAX_EXTENTS: usize = 1 << 20;

/// The data (non-hole) ranges of the image file, in image offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DataMap {
    data: Vec<Range<u64>>,
}

impl DataMap {
    /// The map of `image`'s file, or `None` when it cannot be known (a
    /// compressed input, a block device, a platform or filesystem without
    /// SEEK_DATA): then nothing is skipped.
    pub(crate) fn of(image: &Image) -> Option<DataMap> {
        if image.compression() != Compression::None {
            return None;
        }
        let file = std::fs::File::open(image.path()).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() != image.size_bytes() {
            return None;
        }
        read_map(&file, meta.len())
    }

    #[cfg(test)]
    pub(crate) fn from_ranges(data: Vec<Range<u64>>) -> DataMap {
        DataMap { data }
    }

    /// The first offset at or after `at` that may hold data; `u64::MAX`
    /// when only holes follow.
    pub(crate) fn next_data(&self, at: u64) -> u64 {
        let i = self.data.partition_point(|r| r.end <= at);
        self.data.get(i).map_or(u64::MAX, |r| r.start.max(at))
    }
}

#[cfg(unix)]
fn read_map(file: &std::fs::File, size: u64) -> Option<DataMap> {
    use rustix::fs::{SeekFrom, seek};
    use rustix::io::Errno;
    let mut data: Vec<Range<u64>> = Vec::new();
    let mut at = 0u64;
    while at < size {
        let start = match seek(file, SeekFrom::Data(at)) {
            Ok(start) => start,
            // No data after `at`.
            Err(Errno::NXIO) => break,
            Err(_) => return None,
        };
        if start >= size {
            break;
        }
        let end = seek(file, SeekFrom::Hole(start)).ok()?.min(size);
        if end <= start || start < at {
            return None;
        }
        data.push(start..end);
        if data.len() > MAX_EXTENTS {
            return None;
        }
        at = end;
    }
    Some(DataMap { data })
}

#[cfg(not(unix))]
fn read_map(_file: &std::fs::File, _size: u64) -> Option<DataMap> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn next_data_skips_holes() {
        let map = DataMap::from_ranges(vec![4096..8192, 65536..70000]);
        assert_eq!(map.next_data(0), 4096);
        assert_eq!(map.next_data(5000), 5000);
        assert_eq!(map.next_data(8192), 65536);
        assert_eq!(map.next_data(69999), 69999);
        assert_eq!(map.next_data(70000), u64::MAX);
    }

    #[test]
    fn map_of_a_sparse_file() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        let size = 8u64 << 20;
        f.as_file_mut().set_len(size).expect("set_len");
        f.as_file_mut()
            .seek(SeekFrom::Start(3 << 20))
            .expect("seek");
        f.as_file_mut().write_all(&[1u8; 4096]).expect("write");
        f.as_file_mut().flush().expect("flush");
        let Some(map) = read_map(f.as_file(), size) else {
            // A filesystem without SEEK_DATA: nothing to check.
            return;
        };
        // Wherever the filesystem puts extent boundaries, the written block
        // is inside the data and the start of the file is not.
        let at = map.next_data(0);
        assert!(at <= 3 << 20, "data at {at}");
        assert!(map.next_data(3 << 20) == 3 << 20);
        assert!(map.data.iter().all(|r| r.start < r.end && r.end <= size));
    }
}
