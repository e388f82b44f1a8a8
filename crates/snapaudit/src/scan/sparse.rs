//! The allocation map of an image: which byte ranges may hold data.
//!
//! Disk images are usually sparse (`qemu-img convert`, `dd conv=sparse`,
//! `cp --sparse`) and containers record what is allocated: the never-written
//! part of the disk — most of the free space — reads as zeros. Raw mode
//! skips it without touching it, which saves the page faults and the zero
//! test of gigabytes of zeros; what remains is tested block by block as
//! before. The map is [`Image::data_ranges`]: a container's tables, or the
//! holes of a raw file (`SEEK_DATA`), read from the image's own source.

use std::ops::Range;

use crate::image::Image;

/// The data (non-hole) ranges of the image, in image offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DataMap {
    data: Vec<Range<u64>>,
}

impl DataMap {
    /// The map of `image`, or `None` when it cannot be known (a block
    /// device, a filesystem without SEEK_DATA, bytes in memory): then
    /// nothing is skipped.
    pub(crate) fn of(image: &Image) -> Option<DataMap> {
        image.data_ranges().map(|r| DataMap { data: r.to_vec() })
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
        let image = Image::open(f.path()).expect("open");
        // The test directory's filesystem must know SEEK_DATA (ext4, xfs,
        // tmpfs, btrfs all do): a map that cannot be read fails the test.
        let map = DataMap::of(&image).expect("SEEK_DATA map of a regular file");
        // Wherever the filesystem puts extent boundaries, the written block
        // is inside the data and the start of the file is not.
        let at = map.next_data(0);
        assert!(at <= 3 << 20, "data at {at}");
        assert!(map.next_data(3 << 20) == 3 << 20);
        assert!(map.data.iter().all(|r| r.start < r.end && r.end <= size));
    }
}
