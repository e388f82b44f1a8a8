//! How much deleted data the free space of an image still holds: the free
//! blocks of each ext filesystem that are not all zeros. Run on the input
//! and on the output of a sanitize to show what zeroing the free space did.

use serde::Serialize;

use super::copy::{image_data_segments, is_zero};
use crate::Result;
use crate::ext4::layout::Layout;
use crate::image::Image;
use crate::partition::PartitionTable;

/// Free blocks of one filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FreeBlockStats {
    pub partition: u32,
    pub block_size_bytes: u32,
    pub free_blocks: u64,
    /// Free blocks with at least one non-zero byte (deleted data).
    pub nonzero_free_blocks: u64,
}

/// [`FreeBlockStats`] of every ext2/3/4 filesystem of `image` whose layout
/// can be read. Holes of a sparse input file are skipped without reading
/// them.
pub fn free_block_stats(image: &Image) -> Result<Vec<FreeBlockStats>> {
    let table = PartitionTable::read(image)?;
    let segments = image_data_segments(image);
    let bytes = image.bytes();
    let mut out = Vec::new();
    for part in &table.partitions {
        if !part.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
            continue;
        }
        let Ok(layout) = Layout::open(part.bytes(image)) else {
            continue;
        };
        let Ok(free) = layout.free_block_ranges() else {
            continue;
        };
        let block_size = u64::from(layout.superblock().block_size_bytes());
        let start = part.start_bytes;
        let mut stats = FreeBlockStats {
            partition: part.index,
            block_size_bytes: layout.superblock().block_size_bytes(),
            free_blocks: free.iter().map(|r| r.len_blocks).sum(),
            nonzero_free_blocks: 0,
        };
        // Segments are ascending; walk both lists together.
        let mut seg = 0usize;
        let mut last_counted: Option<u64> = None;
        for r in &free {
            let range_start = start + r.first_block * block_size;
            let range_end = start + r.end_block() * block_size;
            while segments.get(seg).is_some_and(|&(_, e)| e <= range_start) {
                seg += 1;
            }
            let mut i = seg;
            while let Some(&(s, e)) = segments.get(i) {
                if s >= range_end {
                    break;
                }
                let lo = s.max(range_start);
                let hi = e.min(range_end);
                let first = (lo - start) / block_size;
                let last = (hi - start).div_ceil(block_size);
                for block in first..last {
                    if last_counted == Some(block) {
                        continue;
                    }
                    let at = start + block * block_size;
                    let data = usize::try_from(at)
                        .ok()
                        .and_then(|a| bytes.get(a..a.checked_add(block_size as usize)?));
                    if data.is_some_and(|d| !is_zero(d)) {
                        stats.nonzero_free_blocks += 1;
                        last_counted = Some(block);
                    }
                }
                i += 1;
            }
        }
        out.push(stats);
    }
    Ok(out)
}
