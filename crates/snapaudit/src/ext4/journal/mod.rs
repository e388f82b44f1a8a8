//! JBD2 journal recovery, in memory.
//!
//! A snapshot of a mounted ext3/ext4 filesystem has `needs_recovery` set:
//! its newest metadata (and with data=journal, data) is only in the
//! journal. [`recover`] replays the journal as e2fsck does and returns the
//! result as patches over the volume — the replayed blocks, the superblock
//! with `needs_recovery` cleared and the journal superblock reset — so that
//! every reader sees the filesystem e2fsck would leave. Nothing is written.
//!
//! Spec: the kernel's Documentation/filesystems/ext4/journal.rst and
//! fs/jbd2/recovery.c (e2fsprogs' e2fsck/recovery.c is the same code).
//! Covered: superblock v1 and v2, 32- and 64-bit block numbers, no
//! checksum and checksums v1 (crc32_be in the commit block), v2 and v3
//! (crc32c seeded with the journal UUID), both tag sizes, escaped blocks,
//! revoke records, async commit, logs that wrap around. Not replayed:
//! fast-commit blocks and external journal devices (`Unsupported`).

mod block;
mod replay;
mod superblock;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ops::Range;

pub use block::{JBD2_MAGIC_NUMBER, crc32_be, jbd2_chksum};
pub use replay::{BlockCopy, ContiguousLog, Log, Replay, replay};
pub use superblock::JournalSuperblock;

use super::layout::{Extent, Layout};
use crate::{Error, Result};

/// `s_feature_incompat` in the ext4 superblock, and its RECOVER bit.
const SB_FEATURE_INCOMPAT: usize = 0x60;
const EXT4_FEATURE_INCOMPAT_RECOVER: u32 = 0x4;
/// `s_state` and its ERROR_FS bit.
const SB_STATE: usize = 0x3A;
const EXT2_ERROR_FS: u16 = 0x2;
/// `s_feature_ro_compat` and its METADATA_CSUM bit.
const SB_FEATURE_RO_COMPAT: usize = 0x64;
const EXT4_FEATURE_RO_COMPAT_METADATA_CSUM: u32 = 0x400;
/// The primary superblock's volume offset.
const SB_OFFSET: u64 = 1024;
/// `s_errno` in the journal superblock.
const JSB_ERRNO: usize = 0x20;

/// The journal replayed over a volume.
#[derive(Debug, Clone)]
pub struct Recovered {
    pub journal: JournalSuperblock,
    pub replay: Replay,
    /// `(volume offset, bytes)`, ascending and disjoint, one filesystem
    /// block each: the replayed blocks, the superblock's block with
    /// `needs_recovery` cleared, the journal superblock's block reset.
    pub patches: Vec<(u64, Vec<u8>)>,
    /// The journal's blocks as volume byte ranges (its superblock first).
    pub journal_ranges: Vec<Range<u64>>,
}

/// The journal of the filesystem in `vol` (its blocks, in journal order,
/// as an extent map), or `None` when it has no internal journal.
pub fn journal_extents(layout: &Layout<'_>) -> Result<Option<(Vec<Extent>, u64)>> {
    let sb = layout.superblock();
    if !sb.has_journal() {
        return Ok(None);
    }
    if sb.s_journal_inum == 0 {
        return Err(Error::unsupported(
            "the journal is on an external device, which a disk image does not hold",
        ));
    }
    let inode = layout.inode(sb.s_journal_inum)?;
    let extents = layout.file_extents(&inode)?;
    let blocks = inode.i_size / u64::from(sb.block_size_bytes());
    Ok(Some((extents, blocks)))
}

/// The journal's blocks as volume byte ranges (empty without a journal).
pub fn journal_ranges(layout: &Layout<'_>) -> Result<Vec<Range<u64>>> {
    let bs = u64::from(layout.superblock().block_size_bytes());
    let Some((extents, _)) = journal_extents(layout)? else {
        return Ok(Vec::new());
    };
    Ok(extents
        .iter()
        .map(|e| e.physical_block * bs..(e.physical_block + e.len_blocks) * bs)
        .collect())
}

/// The journal's log blocks (all but its superblock) as volume byte
/// ranges, when the log is empty (`s_start` = 0, as after a clean unmount
/// or a replay): zeroing them then loses nothing. `None` when there is no
/// journal or its log is not empty.
pub fn empty_log_ranges(layout: &Layout<'_>) -> Result<Option<Vec<Range<u64>>>> {
    let bs = u64::from(layout.superblock().block_size_bytes());
    let Some((extents, _)) = journal_extents(layout)? else {
        return Ok(None);
    };
    let Some(first) = extents.first().filter(|e| e.logical_block == 0) else {
        return Ok(None);
    };
    let jsb = layout.block(first.physical_block)?;
    let empty = crate::util::be_u32(jsb, 0) == Some(JBD2_MAGIC_NUMBER)
        && crate::util::be_u32(jsb, superblock::S_START) == Some(0);
    if !empty {
        return Ok(None);
    }
    let mut ranges: Vec<Range<u64>> = extents
        .iter()
        .map(|e| e.physical_block * bs..(e.physical_block + e.len_blocks) * bs)
        .collect();
    // Keep the journal superblock.
    if let Some(r) = ranges.first_mut() {
        r.start += bs;
    }
    ranges.retain(|r| r.start < r.end);
    Ok(Some(ranges))
}

/// A journal inside the volume, read through its inode's block map.
struct MappedLog<'a> {
    vol: &'a [u8],
    block_bytes: u32,
    /// In logical order (as `file_extents` gives them).
    extents: Vec<Extent>,
}

impl Log for MappedLog<'_> {
    fn block(&self, n: u32) -> Result<(&[u8], u64)> {
        let n = u64::from(n);
        let i = self
            .extents
            .partition_point(|e| e.logical_block + e.len_blocks <= n);
        let e = self
            .extents
            .get(i)
            .filter(|e| e.logical_block <= n && !e.uninit)
            .ok_or_else(|| {
                Error::corrupt(
                    0,
                    format!("journal block {n} is a hole in the journal inode"),
                )
            })?;
        let bs = u64::from(self.block_bytes);
        // physical_block < s_blocks_count (checked by the map walk).
        let at = (e.physical_block + (n - e.logical_block)) * bs;
        let b = usize::try_from(at)
            .ok()
            .and_then(|o| crate::util::slice(self.vol, o, self.block_bytes as usize))
            .ok_or_else(|| {
                Error::corrupt(
                    at,
                    format!(
                        "journal block {n} is past the end of the {}-byte volume",
                        self.vol.len()
                    ),
                )
            })?;
        Ok((b, at))
    }
}

/// Replay the journal of the filesystem in `vol` when its superblock says
/// it needs recovery; `Ok(None)` when it does not (a clean filesystem
/// costs one superblock field). `Err` says why it cannot be replayed.
pub fn recover(vol: &[u8]) -> Result<Option<Recovered>> {
    if !needs_recovery(vol) {
        return Ok(None);
    }
    let layout = Layout::open(vol)?;
    let sb = layout.superblock();
    let bs = sb.block_size_bytes();
    let Some((extents, inode_blocks)) = journal_extents(&layout)? else {
        return Err(Error::corrupt(
            SB_OFFSET,
            "the superblock says the journal needs recovery, but the filesystem has no journal",
        ));
    };
    let log = MappedLog {
        vol,
        block_bytes: bs,
        extents,
    };
    let (raw_jsb, jsb_at) = log.block(0)?;
    let jsb = JournalSuperblock::parse(raw_jsb, jsb_at, bs, inode_blocks)?;
    let replay = replay(&log, &jsb, sb.s_blocks_count)?;
    if let Some(t) = replay.failed_commit {
        return Err(Error::corrupt(
            jsb_at,
            format!(
                "journal transaction {t} was corrupt (its commit block fails its checksum); e2fsck replays the transactions before it and marks the filesystem as having errors"
            ),
        ));
    }
    let bs64 = u64::from(bs);
    let block_of = |fs_block: u64| -> Result<Vec<u8>> {
        let at = fs_block * bs64;
        layout
            .bytes_at(at, bs64, "replayed block")
            .map(<[u8]>::to_vec)
    };
    let mut blocks: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for (&fs_block, &copy) in &replay.blocks {
        let (src, _) = log.block(copy.journal_block)?;
        let mut bytes = src.to_vec();
        replay::unescape(&mut bytes, copy);
        // The target must be in the volume (a truncated image may not
        // hold it): the overlay cannot grow the volume.
        layout.bytes_at(fs_block * bs64, bs64, "replayed block")?;
        blocks.insert(fs_block, bytes);
    }
    // The journal superblock as e2fsck leaves it: an empty log.
    let jsb_block = jsb_at / bs64;
    let mut jsb_bytes = match blocks.remove(&jsb_block) {
        Some(b) => b,
        None => block_of(jsb_block)?,
    };
    let fs_errors = jsb.s_errno != 0;
    if fs_errors {
        if let Some(errno) = jsb_bytes.get_mut(JSB_ERRNO..JSB_ERRNO + 4) {
            errno.fill(0);
        }
    }
    superblock::reset_superblock(&mut jsb_bytes, &jsb, replay.end_sequence.wrapping_add(1))
        .ok_or_else(|| Error::corrupt(jsb_at, "journal superblock: truncated"))?;
    blocks.insert(jsb_block, jsb_bytes);
    // The filesystem superblock (possibly a replayed copy) without
    // needs_recovery, as e2fsck_clear_recover() leaves it.
    let sb_block = SB_OFFSET / bs64;
    let mut sb_bytes = match blocks.remove(&sb_block) {
        Some(b) => b,
        None => block_of(sb_block)?,
    };
    let in_block = (SB_OFFSET - sb_block * bs64) as usize;
    let raw_sb = sb_bytes
        .get_mut(in_block..in_block + 1024)
        .ok_or_else(|| Error::corrupt(SB_OFFSET, "superblock: truncated"))?;
    clear_recover(raw_sb, fs_errors)
        .ok_or_else(|| Error::corrupt(SB_OFFSET, "superblock: truncated"))?;
    blocks.insert(sb_block, sb_bytes);
    let journal_ranges = log
        .extents
        .iter()
        .map(|e| e.physical_block * bs64..(e.physical_block + e.len_blocks) * bs64)
        .collect();
    Ok(Some(Recovered {
        journal: jsb,
        replay,
        patches: blocks
            .into_iter()
            .map(|(b, bytes)| (b * bs64, bytes))
            .collect(),
        journal_ranges,
    }))
}

/// Whether the ext2/3/4 superblock in `vol` has `needs_recovery` set
/// (false when there is no ext superblock).
pub fn needs_recovery(vol: &[u8]) -> bool {
    let magic = crate::util::le_u16(vol, SB_OFFSET as usize + 0x38);
    let incompat = crate::util::le_u32(vol, SB_OFFSET as usize + SB_FEATURE_INCOMPAT);
    magic == Some(super::layout::EXT4_SUPER_MAGIC)
        && incompat.is_some_and(|i| i & EXT4_FEATURE_INCOMPAT_RECOVER != 0)
}

/// Clear `needs_recovery` in the 1024-byte superblock `raw_sb` (and mark
/// it as having errors when `errors`), recomputing its checksum under
/// metadata_csum. `None` when it is shorter than a superblock.
pub fn clear_recover(raw_sb: &mut [u8], errors: bool) -> Option<()> {
    let incompat =
        crate::util::le_u32(raw_sb, SB_FEATURE_INCOMPAT)? & !EXT4_FEATURE_INCOMPAT_RECOVER;
    raw_sb
        .get_mut(SB_FEATURE_INCOMPAT..SB_FEATURE_INCOMPAT + 4)?
        .copy_from_slice(&incompat.to_le_bytes());
    if errors {
        let state = crate::util::le_u16(raw_sb, SB_STATE)? | EXT2_ERROR_FS;
        raw_sb
            .get_mut(SB_STATE..SB_STATE + 2)?
            .copy_from_slice(&state.to_le_bytes());
    }
    if crate::util::le_u32(raw_sb, SB_FEATURE_RO_COMPAT)? & EXT4_FEATURE_RO_COMPAT_METADATA_CSUM
        != 0
    {
        super::layout::csum::set_superblock_checksum(raw_sb)?;
    }
    Some(())
}

/// What the report says of a replay.
impl Replay {
    pub fn summary(&self) -> String {
        format!(
            "{} transaction(s), {} block(s) replayed",
            self.transactions, self.blocks_replayed
        )
    }
}
