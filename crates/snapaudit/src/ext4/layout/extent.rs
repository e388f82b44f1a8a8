//! Extent trees (kernel Documentation/filesystems/ext4/ifork.rst,
//! "Extent Tree").

use super::Layout;
use super::map::{Extent, MapWalk};
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// `eh_magic`.
pub const EXT4_EXT_MAGIC: u16 = 0xF30A;
/// Deepest tree the kernel builds (EXT4_MAX_EXTENT_DEPTH).
const MAX_DEPTH: u16 = 5;
/// `struct ext4_extent_header`, `ext4_extent_idx` and `ext4_extent` are all 12 bytes.
const ENTRY_LEN: usize = 12;
/// `ee_len` above this marks an uninitialized extent (EXT_INIT_MAX_LEN).
const EXT_INIT_MAX_LEN: u16 = 32768;
/// Offset of `i_block` in the inode record.
const I_BLOCK_OFFSET: u64 = 0x28;

/// `struct ext4_extent_header` (ifork.rst): 12 bytes at the start of every
/// tree node.
#[derive(Debug, Clone, Copy)]
struct ExtentHeader {
    eh_entries: u16,
    eh_max: u16,
    eh_depth: u16,
}

/// One node of the tree: its bytes, where they are, which depth its parent
/// expects and which logical blocks `[lo, hi)` it may cover.
struct Node<'n> {
    bytes: &'n [u8],
    offset_bytes: u64,
    expected_depth: Option<u16>,
    lo: u64,
    hi: u64,
}

fn parse_header(ino: u32, node: &Node<'_>) -> Result<ExtentHeader> {
    let at = node.offset_bytes;
    let read = |off: usize| {
        le_u16(node.bytes, off)
            .ok_or_else(|| Error::corrupt(at, format!("inode {ino}: extent node truncated")))
    };
    let eh_magic = read(0)?;
    if eh_magic != EXT4_EXT_MAGIC {
        return Err(Error::corrupt(
            at,
            format!(
                "inode {ino}: bad extent header magic: expected {EXT4_EXT_MAGIC:#06x}, found {eh_magic:#06x}"
            ),
        ));
    }
    let header = ExtentHeader {
        eh_entries: read(2)?,
        eh_max: read(4)?,
        eh_depth: read(6)?,
    };
    let capacity = (node.bytes.len() - ENTRY_LEN) / ENTRY_LEN;
    if usize::from(header.eh_max) > capacity {
        return Err(Error::corrupt(
            at + 4,
            format!(
                "inode {ino}: extent node eh_max {} exceeds the {capacity} entries that fit",
                header.eh_max
            ),
        ));
    }
    if header.eh_entries > header.eh_max {
        return Err(Error::corrupt(
            at + 2,
            format!(
                "inode {ino}: extent node eh_entries {} exceeds eh_max {}",
                header.eh_entries, header.eh_max
            ),
        ));
    }
    let depth_ok = match node.expected_depth {
        Some(expected) => header.eh_depth == expected,
        None => header.eh_depth <= MAX_DEPTH,
    };
    if !depth_ok {
        return Err(Error::corrupt(
            at + 6,
            format!(
                "inode {ino}: extent node eh_depth {}, expected {}",
                header.eh_depth,
                node.expected_depth
                    .map_or_else(|| format!("at most {MAX_DEPTH}"), |d| d.to_string())
            ),
        ));
    }
    Ok(header)
}

impl Layout<'_> {
    /// Walk the extent tree whose root is `i_block`.
    pub(crate) fn walk_extent_tree(&self, walk: &mut MapWalk<'_>) -> Result<()> {
        let root = walk.inode.i_block;
        let node = Node {
            bytes: &root,
            offset_bytes: walk.inode.offset_bytes + I_BLOCK_OFFSET,
            expected_depth: None,
            lo: 0,
            // Logical block numbers are 32-bit.
            hi: 1 << 32,
        };
        self.walk_extent_node(walk, &node)
    }

    fn walk_extent_node(&self, walk: &mut MapWalk<'_>, node: &Node<'_>) -> Result<()> {
        let ino = walk.inode.ino;
        let header = parse_header(ino, node)?;
        let entries = usize::from(header.eh_entries);
        let corrupt = |index: usize, what: String| {
            Error::corrupt(
                node.offset_bytes + ((index + 1) * ENTRY_LEN) as u64,
                format!("inode {ino}: {what}"),
            )
        };
        let entry_u32 = |index: usize, off: usize| {
            le_u32(node.bytes, (index + 1) * ENTRY_LEN + off)
                .ok_or_else(|| corrupt(index, "extent entry truncated".to_string()))
        };
        let entry_u16 = |index: usize, off: usize| {
            le_u16(node.bytes, (index + 1) * ENTRY_LEN + off)
                .ok_or_else(|| corrupt(index, "extent entry truncated".to_string()))
        };
        // Entries are sorted by logical block and stay inside the range the
        // parent index gave this node.
        let mut next_free = node.lo;
        for index in 0..entries {
            let first_logical = u64::from(entry_u32(index, 0)?);
            if first_logical < next_free || first_logical >= node.hi {
                return Err(corrupt(
                    index,
                    format!(
                        "extent entry {index} starts at logical block {first_logical}, expected {next_free}..{}",
                        node.hi
                    ),
                ));
            }
            let entry_at = node.offset_bytes + ((index + 1) * ENTRY_LEN) as u64;
            if header.eh_depth == 0 {
                // struct ext4_extent: ee_block, ee_len, ee_start_hi, ee_start_lo.
                let ee_len = entry_u16(index, 4)?;
                let (len_blocks, uninit) = if ee_len > EXT_INIT_MAX_LEN {
                    (u64::from(ee_len - EXT_INIT_MAX_LEN), true)
                } else {
                    (u64::from(ee_len), false)
                };
                if len_blocks == 0 {
                    return Err(corrupt(index, format!("extent {index} has length 0")));
                }
                let physical_block =
                    (u64::from(entry_u16(index, 6)?) << 32) | u64::from(entry_u32(index, 8)?);
                let end = first_logical + len_blocks;
                if end > node.hi {
                    return Err(corrupt(
                        index,
                        format!(
                            "extent {index} covers logical blocks {first_logical}..{end}, past {}",
                            node.hi
                        ),
                    ));
                }
                self.check_block_range(physical_block, len_blocks, entry_at, "extent")?;
                walk.data(
                    Extent {
                        logical_block: first_logical,
                        physical_block,
                        len_blocks,
                        uninit,
                    },
                    entry_at,
                )?;
                next_free = end;
            } else {
                // struct ext4_extent_idx: ei_block, ei_leaf_lo, ei_leaf_hi.
                let child =
                    (u64::from(entry_u16(index, 8)?) << 32) | u64::from(entry_u32(index, 4)?);
                let child_hi = if index + 1 < entries {
                    u64::from(entry_u32(index + 1, 0)?).min(node.hi)
                } else {
                    node.hi
                };
                self.check_block_range(child, 1, entry_at, "extent tree block")?;
                walk.metadata_block(child, entry_at)?;
                let child_node = Node {
                    bytes: self.block(child)?,
                    offset_bytes: child * u64::from(self.superblock().block_size_bytes()),
                    expected_depth: Some(header.eh_depth - 1),
                    lo: first_logical,
                    hi: child_hi,
                };
                self.walk_extent_node(walk, &child_node)?;
                next_free = first_logical + 1;
            }
        }
        Ok(())
    }
}
