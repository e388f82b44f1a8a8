//! Directories (kernel Documentation/filesystems/ext4/directory.rst) and
//! path lookup.
//!
//! Directories are read linearly, block by block. That works for hashed
//! (htree) directories too: the htree root block is "." and a ".." whose
//! `rec_len` spans the index, and interior index blocks start with an empty
//! entry (`inode` 0) spanning the whole block, so the index is skipped like
//! free space and every leaf entry is seen once.

use std::ops::ControlFlow;

use super::Layout;
use super::features::{IncompatFeatures, InodeFlags};
use super::inline::{self, I_BLOCK_LEN, I_BLOCK_OFFSET};
use super::inode::{Inode, ROOT_INO};
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// `file_type` values of `struct ext4_dir_entry_2` (directory.rst, table
/// dirent2_ft).
pub mod file_type {
    pub const UNKNOWN: u8 = 0;
    pub const REGULAR: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const CHAR_DEVICE: u8 = 3;
    pub const BLOCK_DEVICE: u8 = 4;
    pub const FIFO: u8 = 5;
    pub const SOCKET: u8 = 6;
    pub const SYMLINK: u8 = 7;
}

/// Linux's MAXSYMLINKS: symlinks followed while resolving one path.
pub const MAX_SYMLINK_HOPS: u32 = 40;
/// Linux's PATH_MAX: the longest symlink target read.
const MAX_SYMLINK_LEN: u64 = 4096;
/// `struct ext4_dir_entry_2` header: inode, rec_len, name_len, file_type.
const DIRENT_HEADER_LEN: usize = 8;
/// EXT4_DIR_REC_LEN(1): the smallest valid record.
const MIN_REC_LEN: usize = 12;

/// Which symbolic links [`Layout::lookup`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// None: a symlink before the last component is an error
    /// (`InvalidInput`), a symlink as the last component is returned itself.
    Never,
    /// Those before the last component, not the last one (like `lstat`).
    Parents,
    /// All of them (like `stat`).
    All,
}

/// One directory entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntryRaw {
    pub ino: u32,
    pub name: Vec<u8>,
    /// `file_type` (see [`file_type`]); 0 without the filetype feature.
    pub file_type: u8,
    /// Byte offset of the entry in the volume. For the "." and ".." of an
    /// inline directory, which have no record, the inode's offset (".") and
    /// the parent field at the start of `i_block` ("..").
    pub offset_bytes: u64,
    /// `rec_len` decoded; 0 for the synthesized "." and ".." of inline
    /// directories.
    pub rec_len: u32,
}

/// Most directory entries a [`DirIndex`] keeps (over all directories):
/// about 64 MiB with their names. Past it, lookups scan linearly again.
const MAX_INDEXED_ENTRIES: usize = 1 << 20;

/// The names of directories already scanned, for repeated path lookups
/// ([`Layout::lookup_indexed`]) over one volume.
///
/// A lookup scans its directory linearly (an htree may be corrupt, and a
/// linear scan reads every entry either way). Looking up each file of an
/// n-entry directory by path was then O(n²): reading every file of
/// e2fsprogs' f_h_badnode (47 000 entries) by path took minutes. With an
/// index each directory is scanned once. Use one index per volume only.
#[derive(Debug, Default)]
pub struct DirIndex {
    inner: std::sync::Mutex<DirIndexInner>,
}

#[derive(Debug, Default)]
struct DirIndexInner {
    /// Directory inode → name → inode of the first entry with that name.
    dirs: std::collections::HashMap<u32, std::collections::HashMap<Vec<u8>, u32>>,
    entries: usize,
}

/// A directory entry borrowed from the volume while scanning.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DirEntryRef<'a> {
    pub(crate) ino: u32,
    pub(crate) name: &'a [u8],
    pub(crate) file_type: u8,
    pub(crate) offset_bytes: u64,
    pub(crate) rec_len: u32,
}

impl DirEntryRef<'_> {
    fn to_owned(self) -> DirEntryRaw {
        DirEntryRaw {
            ino: self.ino,
            name: self.name.to_vec(),
            file_type: self.file_type,
            offset_bytes: self.offset_bytes,
            rec_len: self.rec_len,
        }
    }
}

/// `ext4_rec_len_from_disk`: 64 KiB blocks encode 65536 as 0 or 65535 and
/// use the low two bits as bits 16-17.
fn decode_rec_len(raw: u16, block_size: u32) -> usize {
    if block_size < 65536 {
        return usize::from(raw);
    }
    if raw == 0 || raw == u16::MAX {
        return block_size as usize;
    }
    usize::from(raw & 0xFFFC) | (usize::from(raw & 3) << 16)
}

impl<'a> Layout<'a> {
    /// Scan the entries of one region of directory records: a directory
    /// block, or one of the two parts of an inline directory.
    fn scan_dirent_region(
        &self,
        dir_ino: u32,
        region: &'a [u8],
        region_offset: u64,
        f: &mut dyn FnMut(DirEntryRef<'a>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        let sb = self.superblock();
        let has_filetype = sb.s_feature_incompat.contains(IncompatFeatures::FILETYPE);
        let mut pos = 0usize;
        while pos < region.len() {
            let at = region_offset + pos as u64;
            let corrupt =
                |what: String| Error::corrupt(at, format!("directory inode {dir_ino}: {what}"));
            let (Some(ino), Some(raw_rec_len), Some(&name_len_lo), Some(&type_or_hi)) = (
                le_u32(region, pos),
                le_u16(region, pos + 4),
                region.get(pos + 6),
                region.get(pos + 7),
            ) else {
                return Err(corrupt(format!(
                    "entry header at {pos} runs past the end of the {}-byte block",
                    region.len()
                )));
            };
            let rec_len = decode_rec_len(raw_rec_len, sb.block_size_bytes());
            // Without the filetype feature, name_len is 16 bits.
            let (name_len, file_type) = if has_filetype {
                (usize::from(name_len_lo), type_or_hi)
            } else {
                (usize::from(name_len_lo) | (usize::from(type_or_hi) << 8), 0)
            };
            let needed = (DIRENT_HEADER_LEN + name_len + 3) & !3;
            if rec_len < MIN_REC_LEN
                || !rec_len.is_multiple_of(4)
                || rec_len < needed
                || rec_len > region.len() - pos
            {
                return Err(corrupt(format!(
                    "bad rec_len {rec_len} (name_len {name_len}): expected a multiple of 4 between {} and {}",
                    needed.max(MIN_REC_LEN),
                    region.len() - pos
                )));
            }
            if ino != 0 {
                if ino > sb.s_inodes_count {
                    return Err(corrupt(format!(
                        "entry points at inode {ino}, past s_inodes_count {}",
                        sb.s_inodes_count
                    )));
                }
                let name = region
                    .get(pos + DIRENT_HEADER_LEN..pos + DIRENT_HEADER_LEN + name_len)
                    .ok_or_else(|| corrupt("name runs past its record".to_string()))?;
                let entry = DirEntryRef {
                    ino,
                    name,
                    file_type,
                    offset_bytes: at,
                    rec_len: rec_len as u32,
                };
                if f(entry).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            pos += rec_len;
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Call `f` on every entry of directory `dir` (in on-disk order) until
    /// it breaks. Entries with inode 0 (free space, htree index blocks,
    /// checksum tails) are skipped.
    pub(crate) fn scan_dir(
        &self,
        dir: &Inode,
        f: &mut dyn FnMut(DirEntryRef<'a>) -> ControlFlow<()>,
    ) -> Result<()> {
        self.scan_dir_flow(dir, f).map(|_flow| ())
    }

    fn scan_dir_flow(
        &self,
        dir: &Inode,
        f: &mut dyn FnMut(DirEntryRef<'a>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        if !dir.is_dir() {
            return Err(Error::invalid(format!(
                "inode {} is not a directory",
                dir.ino
            )));
        }
        if dir.has_inline_data() {
            return self.scan_inline_dir(dir, f);
        }
        let block_size = u64::from(self.superblock().block_size_bytes());
        let size_blocks = dir.i_size.div_ceil(block_size);
        for extent in self.file_extents(dir)? {
            // Unwritten extents hold no entries (they read as zeros).
            if extent.uninit {
                continue;
            }
            for i in 0..extent.len_blocks {
                if extent.logical_block + i >= size_blocks {
                    return Ok(ControlFlow::Continue(()));
                }
                let block = extent.physical_block + i;
                let bytes = self.block(block)?;
                if self
                    .scan_dirent_region(dir.ino, bytes, block * block_size, f)?
                    .is_break()
                {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// An inline directory: parent inode in the first 4 bytes of `i_block`,
    /// entries in the other 56 and in the `system.data` value.
    fn scan_inline_dir(
        &self,
        dir: &Inode,
        f: &mut dyn FnMut(DirEntryRef<'a>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        let raw = self.inode_bytes(dir.ino)?;
        let i_block_at = dir.offset_bytes + I_BLOCK_OFFSET as u64;
        let dot = DirEntryRef {
            ino: dir.ino,
            name: b".",
            file_type: file_type::DIRECTORY,
            offset_bytes: dir.offset_bytes,
            rec_len: 0,
        };
        let dotdot = DirEntryRef {
            ino: inline_parent(dir),
            name: b"..",
            file_type: file_type::DIRECTORY,
            offset_bytes: i_block_at,
            rec_len: 0,
        };
        if f(dot).is_break() || f(dotdot).is_break() {
            return Ok(ControlFlow::Break(()));
        }
        let head = raw
            .get(I_BLOCK_OFFSET + 4..I_BLOCK_OFFSET + I_BLOCK_LEN)
            .ok_or_else(|| Error::corrupt(dir.offset_bytes, "inode truncated"))?;
        if self
            .scan_dirent_region(dir.ino, head, i_block_at + 4, f)?
            .is_break()
        {
            return Ok(ControlFlow::Break(()));
        }
        if let Some(data) = inline::find_system_data(dir, raw)? {
            if data.len > 0 {
                let tail = raw
                    .get(data.offset_in_inode..data.offset_in_inode + data.len)
                    .ok_or_else(|| {
                        Error::corrupt(dir.offset_bytes, "system.data runs past the inode")
                    })?;
                let tail_at = dir.offset_bytes + data.offset_in_inode as u64;
                return self.scan_dirent_region(dir.ino, tail, tail_at, f);
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The entries of directory `ino`, in on-disk order, "." and ".."
    /// included, free slots (inode 0) excluded.
    pub fn read_dir(&self, ino: u32) -> Result<Vec<DirEntryRaw>> {
        let dir = self.inode(ino)?;
        let mut entries = Vec::new();
        self.scan_dir(&dir, &mut |entry| {
            entries.push(entry.to_owned());
            ControlFlow::Continue(())
        })?;
        Ok(entries)
    }

    /// The inode number that `name` has in directory `dir`, if any. In a
    /// casefolded directory a name that does not match byte for byte is
    /// retried with Unicode lowercase folding (an approximation of the
    /// kernel's utf8 casefold, which also normalizes).
    fn find_in_dir(&self, dir: &Inode, name: &[u8]) -> Result<Option<u32>> {
        if dir.has_inline_data() && name == b".." {
            return Ok(Some(inline_parent(dir)));
        }
        let mut found = None;
        self.scan_dir(dir, &mut |entry| {
            if entry.name == name {
                found = Some(entry.ino);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if found.is_none() && dir.i_flags.contains(InodeFlags::CASEFOLD) {
            if let Ok(wanted) = std::str::from_utf8(name) {
                let wanted = wanted.to_lowercase();
                self.scan_dir(dir, &mut |entry| {
                    let same =
                        std::str::from_utf8(entry.name).is_ok_and(|n| n.to_lowercase() == wanted);
                    if same {
                        found = Some(entry.ino);
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })?;
            }
        }
        if found.is_none() && dir.i_flags.contains(InodeFlags::ENCRYPT) {
            return Err(Error::unsupported(format!(
                "directory inode {} is encrypted: its names cannot be matched without the key",
                dir.ino
            )));
        }
        Ok(found)
    }

    /// `name` in directory `dir` from `index`, scanning the directory into
    /// the index first if it is not there. `None` on a miss: then
    /// [`Layout::find_in_dir`] decides (casefolded and encrypted names, a
    /// corrupt block, or a name that is not there), so the answer is the
    /// same as without the index. A scan that fails part way keeps the
    /// entries before the fault, which a linear lookup would find first too.
    fn find_in_index(&self, index: &DirIndex, dir: &Inode, name: &[u8]) -> Option<u32> {
        if dir.has_inline_data() && name == b".." {
            return None;
        }
        let mut inner = index.inner.lock().ok()?;
        if !inner.dirs.contains_key(&dir.ino) {
            if inner.entries >= MAX_INDEXED_ENTRIES {
                return None;
            }
            let mut names = std::collections::HashMap::new();
            let _ = self.scan_dir(dir, &mut |entry| {
                names.entry(entry.name.to_vec()).or_insert(entry.ino);
                ControlFlow::Continue(())
            });
            inner.entries += names.len();
            inner.dirs.insert(dir.ino, names);
        }
        inner.dirs.get(&dir.ino)?.get(name).copied()
    }

    /// The target of symbolic link `inode` (at most 4096 bytes).
    pub fn read_link(&self, inode: &Inode) -> Result<Vec<u8>> {
        if !inode.is_symlink() {
            return Err(Error::invalid(format!(
                "inode {} is not a symbolic link",
                inode.ino
            )));
        }
        if inode.i_flags.contains(InodeFlags::ENCRYPT) {
            return Err(Error::unsupported(format!(
                "symbolic link inode {} is encrypted",
                inode.ino
            )));
        }
        if inode.i_size > MAX_SYMLINK_LEN {
            return Err(Error::corrupt(
                inode.offset_bytes + 0x4,
                format!(
                    "symbolic link inode {} is {} bytes long, expected at most {MAX_SYMLINK_LEN}",
                    inode.ino, inode.i_size
                ),
            ));
        }
        // i_size ≤ 4096, so this allocation is bounded.
        let mut target = vec![0u8; inode.i_size as usize];
        for range in self.file_byte_ranges(inode)? {
            let bytes = self.bytes_at(
                range.volume_offset_bytes,
                range.len_bytes,
                "symbolic link target",
            )?;
            let start = range.file_offset_bytes as usize;
            if let Some(dst) = target.get_mut(start..start + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        Ok(target)
    }

    /// Resolve `path` (absolute or relative to the root; `/` separated
    /// bytes) to an inode number, inside this filesystem: absolute symlink
    /// targets start again from this filesystem's root and `..` at the root
    /// stays at the root. At most [`MAX_SYMLINK_HOPS`] symlinks are followed.
    pub fn lookup(&self, path: impl AsRef<[u8]>, follow: Follow) -> Result<u32> {
        self.lookup_with(path.as_ref(), follow, None)
    }

    /// [`Layout::lookup`] that remembers the directories it scans in
    /// `index`, for callers that look up many paths (every file of a
    /// walk). `index` must only ever be used with this volume.
    pub fn lookup_indexed(
        &self,
        path: impl AsRef<[u8]>,
        follow: Follow,
        index: &DirIndex,
    ) -> Result<u32> {
        self.lookup_with(path.as_ref(), follow, Some(index))
    }

    /// [`Layout::lookup_indexed`], then read the inode.
    pub fn lookup_inode_indexed(
        &self,
        path: impl AsRef<[u8]>,
        follow: Follow,
        index: &DirIndex,
    ) -> Result<Inode> {
        let ino = self.lookup_indexed(path, follow, index)?;
        self.inode(ino)
    }

    fn lookup_with(&self, path: &[u8], follow: Follow, index: Option<&DirIndex>) -> Result<u32> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let not_found = || Error::NotFound { path: shown() };
        // Components still to resolve, last one on top.
        let mut pending: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
        let mut current = ROOT_INO;
        let mut hops = 0u32;
        while let Some(name) = pending.pop() {
            let is_last = pending.is_empty();
            if name == b"." {
                continue;
            }
            let dir = self.inode(current)?;
            if !dir.is_dir() {
                return Err(not_found());
            }
            if name == b".." && current == ROOT_INO {
                continue;
            }
            let indexed = index.and_then(|index| self.find_in_index(index, &dir, &name));
            let child = match indexed {
                Some(ino) => ino,
                None => self.find_in_dir(&dir, &name)?.ok_or_else(not_found)?,
            };
            let child_inode = self.inode(child)?;
            if !child_inode.is_symlink() {
                current = child;
                continue;
            }
            let follow_this = match follow {
                Follow::All => true,
                Follow::Parents => !is_last,
                Follow::Never => {
                    if !is_last {
                        return Err(Error::invalid(format!(
                            "{}: component {} is a symbolic link and no link may be followed",
                            shown(),
                            String::from_utf8_lossy(&name)
                        )));
                    }
                    false
                }
            };
            if !follow_this {
                current = child;
                continue;
            }
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(Error::invalid(format!(
                    "{}: too many levels of symbolic links (more than {MAX_SYMLINK_HOPS})",
                    shown()
                )));
            }
            let target = self.read_link(&child_inode)?;
            if target.is_empty() {
                return Err(not_found());
            }
            if target.first() == Some(&b'/') {
                current = ROOT_INO;
            }
            // The link's directory stays `current`; its target's components
            // are resolved next.
            pending.extend(components(&target).rev().map(<[u8]>::to_vec));
        }
        Ok(current)
    }

    /// [`Layout::lookup`], then read the inode.
    pub fn lookup_inode(&self, path: impl AsRef<[u8]>, follow: Follow) -> Result<Inode> {
        let ino = self.lookup(path, follow)?;
        self.inode(ino)
    }
}

/// The parent inode of an inline directory: the first 4 bytes of `i_block`.
fn inline_parent(dir: &Inode) -> u32 {
    le_u32(&dir.i_block, 0).unwrap_or(0)
}

/// The non-empty `/`-separated components of `path`.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rec_len_of_64k_blocks_uses_the_low_bits() {
        assert_eq!(decode_rec_len(12, 4096), 12);
        assert_eq!(decode_rec_len(0, 65536), 65536);
        assert_eq!(decode_rec_len(u16::MAX, 65536), 65536);
        assert_eq!(decode_rec_len(0xFFFC | 1, 65536), 0xFFFC | 0x10000);
    }

    #[test]
    fn components_skip_empty_parts() {
        let parts: Vec<&[u8]> = components(b"//etc/./ssh//").collect();
        assert_eq!(parts, vec![&b"etc"[..], b".", b"ssh"]);
    }
}
