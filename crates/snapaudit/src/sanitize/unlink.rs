//! Deleting a file and truncating one to zero bytes, offline, the way the
//! kernel leaves them: directory entry removed (ext4_generic_delete_entry),
//! data and map blocks freed in the block bitmap, the inode released
//! (links 0, `i_dtime` set, no blocks, bit cleared in the inode bitmap),
//! free counts and checksums settled by [`MetaEdits::finish`].
//!
//! Only what this code can do exactly is attempted; anything else —
//! hard links, immutable files, inline directories, quota or bigalloc
//! accounting, extended attributes in inodes — is refused with the reason,
//! before any edit is made for that file.

use super::edits::{MetaEdits, put_u16, put_u32};
use crate::ext4::layout::{
    DirEntryRaw, EXT4_EXT_MAGIC, FileType, IncompatFeatures, Inode, InodeFlags, RoCompatFeatures,
};
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// `struct ext4_inode` fields (inodes.rst).
const I_SIZE_LO: usize = 0x4;
const I_DTIME: usize = 0x14;
const I_LINKS_COUNT: usize = 0x1A;
const I_BLOCKS_LO: usize = 0x1C;
const I_BLOCK: usize = 0x28;
const I_BLOCK_LEN: usize = 60;
const I_FILE_ACL_LO: usize = 0x68;
const I_SIZE_HIGH: usize = 0x6C;
const I_BLOCKS_HIGH: usize = 0x74;
const I_FILE_ACL_HIGH: usize = 0x76;
/// Extent root slots in `i_block`: (60 - 12) / 12 (ext4_ext_space_root).
const EXT_ROOT_MAX_ENTRIES: u16 = 4;

/// `struct ext4_xattr_header` (attributes.rst): magic, refcount, checksum.
const EXT4_XATTR_MAGIC: u32 = 0xEA02_0000;
const H_REFCOUNT: usize = 0x4;
const H_CHECKSUM: usize = 0x10;

/// Directory entry header: inode (4), rec_len (2), name_len, file_type.
const DIRENT_REC_LEN: usize = 4;
const DIRENT_NAME_LEN: usize = 6;
const DIRENT_MIN_LEN: usize = 12;

/// `rec_len` as stored → bytes (ext2fs_get_rec_len).
fn decode_rec_len(raw: u16, block_size: usize) -> usize {
    if block_size < 65536 {
        return usize::from(raw);
    }
    if raw == 0 || raw == u16::MAX {
        return block_size;
    }
    usize::from(raw & 0xFFFC) | (usize::from(raw & 3) << 16)
}

/// Bytes → `rec_len` as stored (ext2fs_set_rec_len).
fn encode_rec_len(len: usize, block_size: usize) -> Option<u16> {
    if len < 65536 {
        return u16::try_from(len).ok();
    }
    if len == block_size {
        return Some(if block_size == 65536 { u16::MAX } else { 0 });
    }
    if len > block_size {
        return None;
    }
    Some(((len & 65532) | ((len >> 16) & 3)) as u16)
}

/// Remove the entry of inode `ino` that starts at byte `entry_at` of
/// directory block `block`, as the kernel does: the previous record of the
/// same block absorbs it (`rec_len` grows), or, when it is the first record
/// of the block, its inode becomes 0. Either way the removed record's bytes
/// (name included) are wiped, as Linux does since 5.15.
pub(super) fn remove_dirent(
    block: &mut [u8],
    entry_at: usize,
    ino: u32,
) -> std::result::Result<(), String> {
    let block_size = block.len();
    let mut pos = 0usize;
    let mut prev: Option<usize> = None;
    while pos < block_size {
        let (Some(rec_ino), Some(raw_rec_len)) =
            (le_u32(block, pos), le_u16(block, pos + DIRENT_REC_LEN))
        else {
            return Err(format!("record header at {pos} runs past the block"));
        };
        let rec_len = decode_rec_len(raw_rec_len, block_size);
        if rec_len < DIRENT_MIN_LEN || !rec_len.is_multiple_of(4) || rec_len > block_size - pos {
            return Err(format!("bad rec_len {rec_len} at {pos}"));
        }
        if pos == entry_at {
            if rec_ino != ino {
                return Err(format!(
                    "the entry at {pos} names inode {rec_ino}, expected {ino}"
                ));
            }
            match prev {
                Some(prev_at) => {
                    let prev_len = le_u16(block, prev_at + DIRENT_REC_LEN)
                        .map(|r| decode_rec_len(r, block_size))
                        .ok_or("previous record vanished")?;
                    let merged = encode_rec_len(prev_len + rec_len, block_size)
                        .ok_or("merged rec_len does not fit")?;
                    put_u16(block, prev_at + DIRENT_REC_LEN, merged);
                    if let Some(record) = block.get_mut(pos..pos + rec_len) {
                        record.fill(0);
                    }
                }
                None => {
                    put_u32(block, pos, 0);
                    if let Some(rest) = block.get_mut(pos + DIRENT_NAME_LEN..pos + rec_len) {
                        rest.fill(0);
                    }
                }
            }
            return Ok(());
        }
        if pos > entry_at {
            break;
        }
        prev = Some(pos);
        pos += rec_len;
    }
    Err(format!("no record starts at byte {entry_at} of the block"))
}

/// Why a file cannot be deleted or truncated here, if it cannot: checked
/// before any edit so that a refusal leaves no half-done change.
fn refuse_reason(edits: &MetaEdits<'_, '_>, inode: &Inode, deleting: bool) -> Option<String> {
    let sb = edits.layout().superblock();
    if sb.is_bigalloc() {
        return Some("bigalloc filesystem: freeing clusters is not implemented".into());
    }
    if sb.s_feature_ro_compat.contains(RoCompatFeatures::QUOTA) {
        return Some(
            "the filesystem keeps quota usage records, which freeing blocks would make wrong"
                .into(),
        );
    }
    if sb.s_feature_incompat.contains(IncompatFeatures::EA_INODE) {
        return Some(
            "ea_inode filesystem: attribute values in other inodes are not released".into(),
        );
    }
    if inode.is_immutable() || inode.is_append_only() {
        return Some(
            "the file carries the immutable or append-only flag (chattr +i/+a): the owner set it on purpose"
                .into(),
        );
    }
    if inode.i_flags.contains(InodeFlags::ENCRYPT) || inode.i_flags.contains(InodeFlags::VERITY) {
        return Some("encrypted or verity file".into());
    }
    if inode.i_links_count == 0 || inode.i_dtime != 0 {
        return Some("the inode is already being deleted (orphan list)".into());
    }
    match inode.file_type() {
        FileType::Regular => {}
        FileType::Symlink if deleting => {}
        other => return Some(format!("not a regular file ({other:?})")),
    }
    if deleting && inode.i_links_count > 1 {
        return Some(format!(
            "the file has {} hard links: deleting one name would leave the content under the others",
            inode.i_links_count
        ));
    }
    None
}

/// Free the file's data and map blocks and reset its block map to empty.
/// Inline content (inside the inode) is zeroed.
fn release_content(edits: &mut MetaEdits<'_, '_>, inode: &Inode) -> Result<()> {
    let layout = edits.layout();
    if inode.has_inline_data() {
        // The content is in the inode record: i_block and the system.data
        // value, as file_byte_ranges maps it.
        let ranges = layout.file_byte_ranges(inode)?;
        let record_at = inode.offset_bytes;
        let raw = edits.inode_mut(inode.ino)?;
        for r in ranges {
            let start = r
                .volume_offset_bytes
                .checked_sub(record_at)
                .and_then(|s| usize::try_from(s).ok());
            let len = usize::try_from(r.len_bytes).ok();
            if let Some(dst) = start
                .zip(len)
                .and_then(|(s, l)| raw.get_mut(s..s.checked_add(l)?))
            {
                dst.fill(0);
            }
        }
        return Ok(());
    }
    let map = layout.file_map(inode)?;
    for extent in &map.extents {
        edits.free_blocks(extent.physical_block, extent.len_blocks)?;
    }
    for &block in &map.metadata_blocks {
        edits.free_blocks(block, 1)?;
    }
    let has_extents = inode.has_extents();
    let fast_symlink = inode.is_fast_symlink();
    let raw = edits.inode_mut(inode.ino)?;
    let i_block = raw
        .get_mut(I_BLOCK..I_BLOCK + I_BLOCK_LEN)
        .ok_or_else(|| Error::corrupt(inode.offset_bytes, "inode record truncated"))?;
    i_block.fill(0);
    if has_extents && !fast_symlink {
        // An empty tree: the header ext4_ext_tree_init writes.
        put_u16(i_block, 0, EXT4_EXT_MAGIC);
        put_u16(i_block, 2, 0);
        put_u16(i_block, 4, EXT_ROOT_MAX_ENTRIES);
        put_u16(i_block, 6, 0);
    }
    Ok(())
}

/// Drop this inode's reference to its extended-attribute block: free the
/// block when it was the only user, else decrement `h_refcount` (and
/// recompute the block's checksum).
fn release_xattr_block(edits: &mut MetaEdits<'_, '_>, block: u64) -> Result<()> {
    let sb = edits.layout().superblock();
    let metadata_csum = sb.has_metadata_csum();
    let seed = sb.csum_seed();
    let at = block.saturating_mul(edits.block_size());
    if block < u64::from(sb.s_first_data_block) || block >= sb.s_blocks_count {
        return Err(Error::corrupt(
            at,
            format!("extended attribute block {block} is outside the filesystem"),
        ));
    }
    let bytes = edits.block(block)?;
    if le_u32(bytes, 0) != Some(EXT4_XATTR_MAGIC) {
        return Err(Error::corrupt(
            at,
            "extended attribute block without its magic",
        ));
    }
    let refcount = le_u32(bytes, H_REFCOUNT).unwrap_or(0);
    if refcount <= 1 {
        return edits.free_blocks(block, 1);
    }
    let bytes = edits.block_mut(block)?;
    put_u32(bytes, H_REFCOUNT, refcount - 1);
    if metadata_csum {
        // ext4_xattr_block_csum: seed, le64 block number, the block with
        // h_checksum taken as zero.
        let mut crc = crate::ext4::layout::csum::ext4_crc32c(seed, &block.to_le_bytes());
        crc = crate::ext4::layout::csum::ext4_crc32c(crc, bytes.get(..H_CHECKSUM).unwrap_or(&[]));
        crc = crate::ext4::layout::csum::ext4_crc32c(crc, &[0; 4]);
        crc =
            crate::ext4::layout::csum::ext4_crc32c(crc, bytes.get(H_CHECKSUM + 4..).unwrap_or(&[]));
        put_u32(bytes, H_CHECKSUM, crc);
    }
    Ok(())
}

/// i_blocks (in 512-byte units, or in blocks with the HUGE_FILE inode flag)
/// that one extended-attribute block accounts for.
fn xattr_block_i_blocks(edits: &MetaEdits<'_, '_>, inode: &Inode) -> u32 {
    let huge_units = edits
        .layout()
        .superblock()
        .s_feature_ro_compat
        .contains(RoCompatFeatures::HUGE_FILE)
        && inode.i_flags.contains(InodeFlags::HUGE_FILE);
    if huge_units {
        1
    } else {
        (edits.block_size() / 512) as u32
    }
}

/// Delete `entry` (a name in directory `dir_ino`) and its inode.
/// `dtime` is the deletion time to record (seconds since the epoch; it must
/// be larger than `s_inodes_count`, or e2fsck takes it for an orphan-list
/// link).
pub(super) fn delete(
    edits: &mut MetaEdits<'_, '_>,
    dir_ino: u32,
    entry: &DirEntryRaw,
    dtime: u32,
) -> Result<()> {
    let layout = edits.layout();
    let inode = layout.inode(entry.ino)?;
    if let Some(reason) = refuse_reason(edits, &inode, true) {
        return Err(Error::unsupported(reason));
    }
    if !layout.is_inode_allocated(entry.ino)? {
        return Err(Error::corrupt(
            inode.offset_bytes,
            format!("inode {} is not marked in use", entry.ino),
        ));
    }
    let dir = layout.inode(dir_ino)?;
    if dir.has_inline_data() {
        return Err(Error::unsupported(
            "the directory is stored inline in its inode",
        ));
    }
    if dir.is_immutable() || dir.is_append_only() {
        return Err(Error::unsupported(
            "the directory carries the immutable or append-only flag (chattr +i/+a)",
        ));
    }
    if dtime <= layout.superblock().s_inodes_count {
        return Err(Error::invalid(format!(
            "deletion time {dtime} is not a plausible clock time"
        )));
    }
    let block_size = edits.block_size();
    let dir_block = entry.offset_bytes / block_size;
    let entry_at = (entry.offset_bytes % block_size) as usize;
    // The entry must be in one of the directory's own blocks.
    let in_dir = layout.file_extents(&dir)?.iter().any(|e| {
        (e.physical_block..e.physical_block.saturating_add(e.len_blocks)).contains(&dir_block)
    });
    if !in_dir {
        return Err(Error::corrupt(
            entry.offset_bytes,
            "directory entry outside its directory's blocks",
        ));
    }

    // Directory entry first: if the block is not as expected nothing else
    // has been changed yet.
    let block = edits.block_mut(dir_block)?;
    remove_dirent(block, entry_at, entry.ino).map_err(|what| {
        Error::corrupt(
            entry.offset_bytes,
            format!("directory inode {dir_ino}: {what}"),
        )
    })?;
    edits.dir_block_changed(dir_block, dir_ino, dir.i_generation);

    release_content(edits, &inode)?;
    if inode.i_file_acl != 0 {
        release_xattr_block(edits, inode.i_file_acl)?;
    }
    let raw = edits.inode_mut(entry.ino)?;
    put_u16(raw, I_LINKS_COUNT, 0);
    put_u32(raw, I_DTIME, dtime);
    put_u32(raw, I_SIZE_LO, 0);
    put_u32(raw, I_SIZE_HIGH, 0);
    put_u32(raw, I_BLOCKS_LO, 0);
    put_u16(raw, I_BLOCKS_HIGH, 0);
    put_u32(raw, I_FILE_ACL_LO, 0);
    put_u16(raw, I_FILE_ACL_HIGH, 0);
    edits.free_inode(entry.ino)
}

/// Truncate regular file `inode` to zero bytes, keeping the inode, its
/// name, owner, mode and extended attributes.
pub(super) fn truncate(edits: &mut MetaEdits<'_, '_>, inode: &Inode) -> Result<()> {
    if let Some(reason) = refuse_reason(edits, inode, false) {
        return Err(Error::unsupported(reason));
    }
    release_content(edits, inode)?;
    let i_blocks = if inode.i_file_acl != 0 {
        xattr_block_i_blocks(edits, inode)
    } else {
        0
    };
    let raw = edits.inode_mut(inode.ino)?;
    put_u32(raw, I_SIZE_LO, 0);
    put_u32(raw, I_SIZE_HIGH, 0);
    put_u32(raw, I_BLOCKS_LO, i_blocks);
    put_u16(raw, I_BLOCKS_HIGH, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 KiB directory block: entries (ino, name) packed, the last one
    /// spanning to the end (or to a 12-byte checksum tail).
    fn block(entries: &[(u32, &str)], tail: bool) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        let end = if tail { 1024 - 12 } else { 1024 };
        let mut pos = 0;
        for (i, (ino, name)) in entries.iter().enumerate() {
            let len = if i + 1 == entries.len() {
                end - pos
            } else {
                (8 + name.len() + 3) & !3
            };
            put_u32(&mut b, pos, *ino);
            put_u16(&mut b, pos + 4, len as u16);
            b[pos + 6] = name.len() as u8;
            b[pos + 7] = 1;
            b[pos + 8..pos + 8 + name.len()].copy_from_slice(name.as_bytes());
            pos += len;
        }
        if tail {
            put_u16(&mut b, 1012 + 4, 12);
            b[1012 + 7] = 0xDE;
        }
        b
    }

    fn records(b: &[u8]) -> Vec<(usize, u32, usize)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < b.len() {
            let len = decode_rec_len(le_u16(b, pos + 4).unwrap_or(0), b.len());
            out.push((pos, le_u32(b, pos).unwrap_or(0), len));
            pos += len.max(12);
        }
        out
    }

    #[test]
    fn a_middle_entry_is_absorbed_by_its_predecessor_and_wiped() {
        let mut b = block(&[(2, "."), (2, ".."), (12, "key"), (13, "other")], true);
        remove_dirent(&mut b, 24, 12).expect("removed");
        assert_eq!(
            records(&b),
            vec![(0, 2, 12), (12, 2, 24), (36, 13, 976), (1012, 0, 12)]
        );
        assert!(
            b[24..36].iter().all(|&x| x == 0),
            "the removed record is wiped"
        );
        assert_eq!(&b[1012 + 4..1012 + 8], &[12, 0, 0, 0xDE], "tail intact");
    }

    #[test]
    fn the_last_entry_before_the_tail_merges_without_touching_the_tail() {
        let mut b = block(&[(2, "."), (2, ".."), (12, "key")], true);
        remove_dirent(&mut b, 24, 12).expect("removed");
        assert_eq!(records(&b), vec![(0, 2, 12), (12, 2, 1000), (1012, 0, 12)]);
    }

    #[test]
    fn the_first_entry_of_a_block_becomes_an_empty_record() {
        let mut b = block(&[(12, "first"), (13, "second")], false);
        remove_dirent(&mut b, 0, 12).expect("removed");
        assert_eq!(records(&b), vec![(0, 0, 16), (16, 13, 1008)]);
        assert!(b[6..16].iter().all(|&x| x == 0), "name wiped, rec_len kept");
    }

    #[test]
    fn a_wrong_inode_or_offset_is_refused_untouched() {
        let b0 = block(&[(2, "."), (2, ".."), (12, "key")], false);
        let mut b = b0.clone();
        assert!(remove_dirent(&mut b, 24, 99).is_err());
        assert!(remove_dirent(&mut b, 28, 12).is_err());
        assert!(remove_dirent(&mut b, 5000, 12).is_err());
        assert_eq!(b, b0);
        // A corrupt rec_len stops the walk instead of looping.
        let mut bad = b0.clone();
        put_u16(&mut bad, 4, 0);
        assert!(remove_dirent(&mut bad, 24, 12).is_err());
    }

    #[test]
    fn rec_len_round_trips_for_64k_blocks() {
        for len in [12usize, 4096, 65532, 65536] {
            let raw = encode_rec_len(len, 65536).expect("fits");
            assert_eq!(decode_rec_len(raw, 65536), len);
        }
        assert_eq!(encode_rec_len(4096, 4096), Some(4096));
        assert_eq!(encode_rec_len(70000, 65536), None);
    }
}
