//! Keeps ext4-view 1.0 from allocating a symlink's claimed size.
//!
//! ext4-view reads the target of a symlink longer than 59 bytes with
//! `vec![0; i_size]` before reading any block, and it does so for every
//! symlink it meets while resolving a path, not only in `read_link`. A
//! corrupt or hostile inode with `i_size` = 1 TiB aborts the process
//! (found by the `ext4_fs` fuzz target; regression
//! `ext4_view_is_not_handed_a_symlink_of_a_terabyte`). Linux refuses symlink
//! targets of PATH_MAX (4096) bytes or more, so such an inode is corrupt
//! whatever else it says.
//!
//! The guard sits in the reader ext4-view reads through: in every byte
//! range that falls in an inode table it finds the symlink inodes whose
//! `i_size` is out of range and shows them with `i_size` 0. ext4-view then
//! refuses that symlink as corrupt (an empty target is invalid; under
//! metadata_csum the inode checksum no longer matches either), which is
//! what the filesystem deserves, and nothing else changes. The image is
//! never written: only the copy handed to ext4-view is edited.

use super::layout::Layout;
use crate::util::{le_u16, le_u32};

/// Longest symlink target Linux creates (PATH_MAX minus the NUL).
const MAX_SYMLINK_BYTES: u64 = 4095;
/// `i_mode` file-type bits and the symlink type.
const S_IFMT: u16 = 0xF000;
const S_IFLNK: u16 = 0xA000;
/// Inode fields: `i_mode`, `i_size_lo`, `i_size_high`.
const I_MODE: usize = 0x0;
const I_SIZE_LO: usize = 0x4;
const I_SIZE_HIGH: usize = 0x6C;

/// The inode tables of one filesystem as volume byte ranges.
#[derive(Debug, Default, Clone)]
pub(crate) struct SymlinkGuard {
    /// `[start, end)` of each group's inode table, sorted by start; tables
    /// that follow each other (flex_bg) are merged.
    tables: Vec<(u64, u64)>,
    inode_size: u64,
}

impl SymlinkGuard {
    /// The inode tables as our own reader finds them. A filesystem it cannot
    /// open gets an empty guard: ext4-view reads the same superblock and
    /// descriptors and refuses it as well.
    pub(crate) fn new(volume: &[u8]) -> SymlinkGuard {
        let Ok(layout) = Layout::open(volume) else {
            return SymlinkGuard::default();
        };
        let sb = layout.superblock();
        let inode_size = u64::from(sb.s_inode_size);
        let block_bytes = u64::from(sb.block_size_bytes());
        let table_bytes = u64::from(sb.s_inodes_per_group).saturating_mul(inode_size);
        let volume_bytes = volume.len() as u64;
        let mut tables: Vec<(u64, u64)> = Vec::new();
        for group in 0..sb.group_count() {
            let Ok(desc) = layout.group_desc(group) else {
                continue;
            };
            let Some(start) = desc.bg_inode_table.checked_mul(block_bytes) else {
                continue;
            };
            if start >= volume_bytes {
                // ext4-view's reads there fail anyway.
                continue;
            }
            tables.push((start, start.saturating_add(table_bytes)));
        }
        tables.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(tables.len());
        for (start, end) in tables {
            match merged.last_mut() {
                // Only exact continuations: each table keeps its own inode
                // grid (slots are counted from its start).
                Some(last) if last.1 == start => last.1 = end,
                _ => merged.push((start, end)),
            }
        }
        SymlinkGuard {
            tables: merged,
            inode_size,
        }
    }

    /// Edits `dst`, the bytes at volume offset `start_byte`, as described in
    /// the module documentation.
    pub(crate) fn patch(&self, start_byte: u64, dst: &mut [u8]) {
        let Some(inode_size) = usize::try_from(self.inode_size)
            .ok()
            .filter(|&n| n > I_SIZE_LO + 4)
        else {
            return;
        };
        let end_byte = start_byte.saturating_add(dst.len() as u64);
        // The first table that ends after `start_byte`.
        let first = self.tables.partition_point(|&(_, end)| end <= start_byte);
        for &(table_start, table_end) in self.tables.iter().skip(first) {
            if table_start >= end_byte {
                break;
            }
            // First inode slot of this table that starts inside `dst`.
            let from = start_byte.max(table_start);
            let slot = (from - table_start).div_ceil(self.inode_size);
            let mut at = table_start.saturating_add(slot.saturating_mul(self.inode_size));
            while at < table_end.min(end_byte) {
                let Ok(rel) = usize::try_from(at - start_byte) else {
                    break;
                };
                if let Some(inode) = rel
                    .checked_add(inode_size)
                    .and_then(|e| dst.get_mut(rel..e))
                {
                    clamp_symlink(inode);
                }
                at = at.saturating_add(self.inode_size);
            }
        }
    }
}

/// Shows a symlink inode whose size Linux could not have written with size 0.
fn clamp_symlink(inode: &mut [u8]) {
    let mode = le_u16(inode, I_MODE).unwrap_or(0);
    if mode & S_IFMT != S_IFLNK {
        return;
    }
    // Both halves lie in the first 128 bytes, which every inode has.
    let size = u64::from(le_u32(inode, I_SIZE_LO).unwrap_or(0))
        | u64::from(le_u32(inode, I_SIZE_HIGH).unwrap_or(0)) << 32;
    if size <= MAX_SYMLINK_BYTES {
        return;
    }
    for off in [I_SIZE_LO, I_SIZE_HIGH] {
        if let Some(field) = inode.get_mut(off..off + 4) {
            field.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inode(mode: u16, size: u64) -> Vec<u8> {
        let mut b = vec![0u8; 256];
        b[0..2].copy_from_slice(&mode.to_le_bytes());
        b[4..8].copy_from_slice(&(size as u32).to_le_bytes());
        b[0x6C..0x70].copy_from_slice(&((size >> 32) as u32).to_le_bytes());
        b
    }

    fn size_of(b: &[u8]) -> u64 {
        u64::from(u32::from_le_bytes(b[4..8].try_into().unwrap()))
            | u64::from(u32::from_le_bytes(b[0x6C..0x70].try_into().unwrap())) << 32
    }

    #[test]
    fn oversized_symlinks_are_shown_empty_and_nothing_else_changes() {
        let guard = SymlinkGuard {
            tables: vec![(4096, 4096 + 4 * 256)],
            inode_size: 256,
        };
        let mut table = Vec::new();
        table.extend(inode(S_IFLNK | 0o777, 1 << 40)); // hostile
        table.extend(inode(S_IFLNK | 0o777, 100)); // a slow symlink
        table.extend(inode(0o100644, 1 << 40)); // a big sparse file
        table.extend(inode(S_IFLNK | 0o777, 4096)); // PATH_MAX: too long
        // A read that starts in the middle of the first inode and runs past
        // the table's end: only whole inodes inside it are looked at.
        let mut partial = table[128..].to_vec();
        partial.extend(vec![0xBBu8; 512]);
        let before = partial.clone();
        guard.patch(4096 + 128, &mut partial);
        assert_eq!(partial[..128], before[..128], "a cut inode is left alone");
        assert_eq!(size_of(&partial[128 + 512..128 + 768]), 0);
        assert_eq!(partial[128 + 768..], before[128 + 768..], "past the table");
        // Whole-table read from its start.
        let mut whole = table.clone();
        guard.patch(4096, &mut whole);
        assert_eq!(size_of(&whole[0..256]), 0);
        assert_eq!(size_of(&whole[256..512]), 100);
        assert_eq!(size_of(&whole[512..768]), 1 << 40);
        assert_eq!(size_of(&whole[768..1024]), 0);
        let changed: Vec<usize> = (0..whole.len()).filter(|&i| whole[i] != table[i]).collect();
        assert!(
            changed
                .iter()
                .all(|&i| (4..8).contains(&(i % 256)) || (0x6C..0x70).contains(&(i % 256)))
        );
        // A read of the second inode alone, as ext4-view's cache may do.
        let mut one = table[256..512].to_vec();
        guard.patch(4096 + 256, &mut one);
        assert_eq!(one, table[256..512]);
        let mut first = table[0..256].to_vec();
        guard.patch(4096, &mut first);
        assert_eq!(size_of(&first), 0);
        // Outside the table nothing is touched.
        let mut outside = table.clone();
        guard.patch(1 << 20, &mut outside);
        assert_eq!(outside, table);
    }
}
