//! File mode, the filesystem side: which files an ext2/3/4 filesystem holds
//! (walked with our own layout reader, by inode number), and where each
//! file's bytes are in the volume.
//!
//! The walk visits every directory inode once and every regular file inode
//! once: a hard-linked file is scanned under the first path the walk meets,
//! and a directory hard-linked into its own subtree (a loop) ends the walk
//! instead of running it forever.

use std::collections::HashSet;

use rayon::prelude::*;

use crate::ext4::layout::{FileByteRange, Inode, Layout, ROOT_INO, file_type};

/// A regular file found by the walk.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    pub(crate) ino: u32,
    /// Absolute path inside the filesystem (lossily decoded names).
    pub(crate) path: String,
}

/// What the walk found: the files, and how many directories or inodes it
/// could not read (corrupt or encrypted); those are skipped, the walk goes on.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub(crate) files: Vec<FileEntry>,
    pub(crate) unreadable: u64,
}

/// Every regular file of the filesystem, breadth first from the root, in
/// on-disk directory order (deterministic for one image).
///
/// One level of the tree at a time: the directories of a level are read in
/// parallel (reading directory blocks is most of the walk's time, ~25 ms on
/// one core for a 12,000-file system), then their entries are taken in
/// order, so the result is the same as a sequential walk's.
pub(crate) fn walk(layout: &Layout<'_>) -> Walk {
    let mut out = Walk::default();
    let mut seen_dirs: HashSet<u32> = HashSet::new();
    let mut seen_files: HashSet<u32> = HashSet::new();
    seen_dirs.insert(ROOT_INO);
    let mut level: Vec<(u32, String)> = vec![(ROOT_INO, String::new())];
    while !level.is_empty() {
        let listed: Vec<Option<Vec<(Kind, u32, String)>>> = level
            .par_iter()
            .map(|(dir_ino, dir_path)| list(layout, *dir_ino, dir_path))
            .collect();
        let mut next = Vec::new();
        for entries in listed {
            let Some(entries) = entries else {
                out.unreadable += 1;
                continue;
            };
            for (kind, ino, path) in entries {
                match kind {
                    Kind::Dir => {
                        if seen_dirs.insert(ino) {
                            next.push((ino, path));
                        }
                    }
                    Kind::File => {
                        if seen_files.insert(ino) {
                            out.files.push(FileEntry { ino, path });
                        }
                    }
                    Kind::Other => {}
                    Kind::Unreadable => out.unreadable += 1,
                }
            }
        }
        level = next;
    }
    out
}

/// The entries of one directory with their kinds and paths; `None` if it
/// cannot be read.
fn list(layout: &Layout<'_>, dir_ino: u32, dir_path: &str) -> Option<Vec<(Kind, u32, String)>> {
    let entries = layout.read_dir(dir_ino).ok()?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.name == b"." || entry.name == b".." || entry.ino == 0 {
            continue;
        }
        let kind = match entry.file_type {
            file_type::REGULAR => Kind::File,
            file_type::DIRECTORY => Kind::Dir,
            // Without the filetype feature the entry does not say: the
            // inode does.
            file_type::UNKNOWN => match layout.inode(entry.ino) {
                Ok(inode) if inode.is_regular() => Kind::File,
                Ok(inode) if inode.is_dir() => Kind::Dir,
                Ok(_) => Kind::Other,
                Err(_) => Kind::Unreadable,
            },
            _ => Kind::Other,
        };
        let path = format!("{dir_path}/{}", String::from_utf8_lossy(&entry.name));
        out.push((kind, entry.ino, path));
    }
    Some(out)
}

#[derive(Clone, Copy)]
enum Kind {
    File,
    Dir,
    /// An inode that could not be read to learn its type.
    Unreadable,
    Other,
}

/// A file's content as stored: its size and its data runs in the volume.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileData {
    pub(crate) size_bytes: u64,
    /// Data runs in file order, clipped to the size and to the volume;
    /// holes (zeros) are absent.
    pub(crate) ranges: Vec<FileByteRange>,
}

impl FileData {
    /// Where `inode`'s bytes are. Runs that lie outside the volume (a
    /// truncated image, a corrupt map) are dropped: the rest is scanned.
    pub(crate) fn of(layout: &Layout<'_>, inode: &Inode) -> crate::Result<FileData> {
        let vol_len = layout.volume().len() as u64;
        let ranges = layout
            .file_byte_ranges(inode)?
            .into_iter()
            .filter(|r| {
                r.len_bytes > 0
                    && r.volume_offset_bytes
                        .checked_add(r.len_bytes)
                        .is_some_and(|end| end <= vol_len)
                    && r.file_offset_bytes.checked_add(r.len_bytes).is_some()
            })
            .collect();
        Ok(FileData {
            size_bytes: inode.i_size,
            ranges,
        })
    }

    /// The file split into segments (index ranges of `ranges`): runs that follow each other in the
    /// file without a hole between them. A segment of one run is contiguous
    /// in the volume (scanned in place); one of several runs is fragmented
    /// (stitched). Matches are not looked for across holes: a hole is at
    /// least one block of zeros, longer than any secret.
    pub(crate) fn segments(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=self.ranges.len() {
            let split = match (self.ranges.get(i - 1), self.ranges.get(i)) {
                (Some(a), Some(b)) => {
                    a.file_offset_bytes.saturating_add(a.len_bytes) != b.file_offset_bytes
                }
                _ => true,
            };
            if split {
                out.push(start..i);
                start = i;
            }
        }
        out
    }

    /// The volume offset of file offset `file_offset`, if it is stored.
    pub(crate) fn volume_offset(&self, file_offset: u64) -> Option<u64> {
        let i = self
            .ranges
            .partition_point(|r| r.file_offset_bytes.saturating_add(r.len_bytes) <= file_offset);
        let r = self.ranges.get(i)?;
        (r.file_offset_bytes <= file_offset)
            .then(|| r.volume_offset_bytes + (file_offset - r.file_offset_bytes))
    }

    /// Visits the file's content in order as `(file_offset, bytes)` pieces,
    /// holes as runs of zeros of at most `zeros.len()` bytes (pass an empty
    /// slice to skip holes).
    pub(crate) fn for_each_piece(
        &self,
        volume: &[u8],
        zeros: &[u8],
        f: &mut dyn FnMut(u64, &[u8]),
    ) {
        let mut pos = 0u64;
        let fill = |from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])| {
            if zeros.is_empty() {
                return;
            }
            let mut at = from;
            while at < to {
                let n = (to - at).min(zeros.len() as u64) as usize;
                f(at, zeros.get(..n).unwrap_or(&[]));
                at += n as u64;
            }
        };
        for r in &self.ranges {
            if r.file_offset_bytes < pos {
                // Overlapping runs (a corrupt map): never go backwards.
                continue;
            }
            fill(pos, r.file_offset_bytes, f);
            if let Some(bytes) = range_bytes(volume, r) {
                f(r.file_offset_bytes, bytes);
            }
            pos = r.file_offset_bytes + r.len_bytes;
        }
        fill(pos, self.size_bytes.max(pos), f);
    }
}

/// The bytes of one run in the volume (checked in [`FileData::of`]).
pub(crate) fn range_bytes<'v>(volume: &'v [u8], r: &FileByteRange) -> Option<&'v [u8]> {
    let start = usize::try_from(r.volume_offset_bytes).ok()?;
    let len = usize::try_from(r.len_bytes).ok()?;
    volume.get(start..start.checked_add(len)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(file: u64, vol: u64, len: u64) -> FileByteRange {
        FileByteRange {
            volume_offset_bytes: vol,
            len_bytes: len,
            file_offset_bytes: file,
        }
    }

    #[test]
    fn segments_split_at_holes_only() {
        let data = FileData {
            size_bytes: 40,
            ranges: vec![r(0, 100, 4), r(4, 200, 4), r(16, 300, 4), r(20, 50, 4)],
        };
        assert_eq!(data.segments(), vec![0..2, 2..4]);
        assert!(FileData::default().segments().is_empty());
    }

    #[test]
    fn volume_offsets_follow_the_runs() {
        let data = FileData {
            size_bytes: 40,
            ranges: vec![r(0, 100, 4), r(4, 200, 4), r(16, 300, 4)],
        };
        assert_eq!(data.volume_offset(0), Some(100));
        assert_eq!(data.volume_offset(3), Some(103));
        assert_eq!(data.volume_offset(4), Some(200));
        assert_eq!(data.volume_offset(8), None, "hole");
        assert_eq!(data.volume_offset(17), Some(301));
        assert_eq!(data.volume_offset(20), None, "past the data");
    }

    #[test]
    fn pieces_fill_holes_with_zeros_and_keep_offsets() {
        let volume: Vec<u8> = (0..=255u8).collect();
        let data = FileData {
            size_bytes: 12,
            ranges: vec![r(2, 10, 3), r(8, 20, 2)],
        };
        let mut got = Vec::new();
        data.for_each_piece(&volume, &[0u8; 2], &mut |off, bytes| {
            got.push((off, bytes.to_vec()));
        });
        assert_eq!(
            got,
            vec![
                (0, vec![0, 0]),
                (2, vec![10, 11, 12]),
                (5, vec![0, 0]),
                (7, vec![0]),
                (8, vec![20, 21]),
                (10, vec![0, 0]),
            ]
        );
        let mut stored = 0;
        data.for_each_piece(&volume, &[], &mut |_, b| stored += b.len());
        assert_eq!(stored, 5);
    }
}
