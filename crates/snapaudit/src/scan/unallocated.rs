//! Raw mode: byte regions of the image scanned without a filesystem — the
//! free blocks of each ext filesystem (deleted files), the space no
//! partition covers, and partitions snapaudit cannot read (xfs, btrfs,
//! vfat, swap, LVM, unknown).
//!
//! Free space is mostly zeros (never written, or zeroed), so every 4 KiB
//! block is first tested for zeros at memory speed and only runs of
//! non-zero blocks go to the scanner, in place (zero copy). A run is
//! scanned with [`Scanner::max_match_len`] bytes of its region around it as
//! context and reports the matches that start inside it, so a secret that
//! crosses a block or chunk boundary is found once. No secret starts with a
//! NUL byte (every rule begins with a literal, a word character or a
//! boundary), so skipping zero blocks skips no match start.
//!
//! LUKS partitions are not scanned: their payload is ciphertext, in which a
//! match could only be chance.

use std::ops::Range;

use super::engine::{Match, Scanner, Scratch};

/// The granule of the zero test.
pub(crate) const ZERO_BLOCK_BYTES: usize = 4096;

/// What a raw region is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegionKind {
    /// Free blocks of the ext filesystem in `partition` (or in logical
    /// volume `volume`, whose first byte is in `partition`): deleted data.
    Free {
        partition: u32,
        volume: Option<std::sync::Arc<str>>,
    },
    /// The journal's blocks of the ext filesystem in `partition`: old
    /// copies of metadata and data (data=journal, small files).
    Journal { partition: u32 },
    /// Space between or after partitions (or before the first).
    Unpartitioned,
    /// Extents of LVM2 volume group `vg` on the PV in `partition` that no
    /// logical volume uses: deleted data (an LV removed or shrunk).
    PvFree { partition: u32, vg: String },
    /// A partition (or logical volume) whose filesystem snapaudit cannot
    /// read (`fs` names what the probe found, if anything).
    Unreadable {
        partition: u32,
        fs: Option<String>,
        volume: Option<std::sync::Arc<str>>,
    },
}

/// A byte region of the image scanned raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    pub(crate) kind: RegionKind,
    /// Image offset of the first byte.
    pub(crate) image_start: u64,
    pub(crate) len_bytes: u64,
}

/// Whether a block (of at most [`ZERO_BLOCK_BYTES`]) is all zeros:
/// compared with a zero block, which is a `memcmp` at memory bandwidth
/// (even in unoptimised builds, where a byte loop is a hundred times slower).
pub(crate) fn is_zero(block: &[u8]) -> bool {
    static ZEROS: [u8; ZERO_BLOCK_BYTES] = [0; ZERO_BLOCK_BYTES];
    block
        .chunks(ZERO_BLOCK_BYTES)
        .all(|c| ZEROS.get(..c.len()).is_some_and(|z| z == c))
}

/// Calls `f` with each maximal run of non-zero blocks of `data[range]`, as a
/// range of `data`. Blocks are [`ZERO_BLOCK_BYTES`] on a grid starting at
/// `data[0]` (the caller aligns `range.start` to it); the last may be short.
/// `next_data(at)` is the first offset at or after `at` that may hold
/// non-zero bytes (from the image file's hole map): the blocks before it are
/// skipped without being read.
pub(crate) fn nonzero_runs(
    data: &[u8],
    range: Range<usize>,
    next_data: &dyn Fn(usize) -> usize,
    f: &mut dyn FnMut(Range<usize>),
) {
    let end = range.end.min(data.len());
    let mut at = range.start.min(end);
    let mut run: Option<usize> = None;
    while at < end {
        // A hole: zeros up to the block holding the next data (when the
        // data starts inside the current block, the block is tested).
        let data_at = next_data(at);
        let data_block = data_at - data_at % ZERO_BLOCK_BYTES;
        if data_block > at {
            if let Some(start) = run.take() {
                f(start..at);
            }
            at = data_block.min(end);
            continue;
        }
        let next = at.saturating_add(ZERO_BLOCK_BYTES).min(end);
        let zero = data.get(at..next).is_none_or(is_zero);
        match (zero, run) {
            (false, None) => run = Some(at),
            (true, Some(start)) => {
                f(start..at);
                run = None;
            }
            _ => {}
        }
        at = next;
    }
    if let Some(start) = run {
        f(start..end);
    }
}

/// Scans the non-zero runs of `data[range]` (`data` is one whole region),
/// reporting matches with offsets relative to `data`.
pub(crate) fn scan_region_chunk(
    scanner: &Scanner,
    scratch: &mut Scratch,
    data: &[u8],
    range: Range<usize>,
    next_data: &dyn Fn(usize) -> usize,
    sink: &mut dyn FnMut(Match),
) {
    let context = scanner.max_match_len();
    nonzero_runs(data, range, next_data, &mut |run| {
        let hay_start = run.start.saturating_sub(context);
        let hay_end = run.end.saturating_add(context).min(data.len());
        let Some(hay) = data.get(hay_start..hay_end) else {
            return;
        };
        let report = (run.start - hay_start)..(run.end - hay_start);
        scanner.scan_range_with(scratch, hay, report, None, &mut |mut m: Match| {
            m.start += hay_start;
            m.end += hay_start;
            m.secret_start += hay_start;
            m.secret_end += hay_start;
            sink(m);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_test_sees_every_byte() {
        let mut block = vec![0u8; ZERO_BLOCK_BYTES + 7];
        assert!(is_zero(&block));
        for at in [0, 31, 32, 4095, ZERO_BLOCK_BYTES + 6] {
            block[at] = 1;
            assert!(!is_zero(&block), "byte {at}");
            block[at] = 0;
        }
        assert!(is_zero(&[]));
    }

    #[test]
    fn runs_of_non_zero_blocks() {
        let b = ZERO_BLOCK_BYTES;
        let mut data = vec![0u8; 6 * b + 100];
        data[b + 5] = 1; // block 1
        data[2 * b] = 1; // block 2
        data[4 * b + b - 1] = 1; // block 4
        data[6 * b + 50] = 1; // short last block
        let all = |at: usize| at;
        let mut runs = Vec::new();
        nonzero_runs(&data, 0..data.len(), &all, &mut |r| runs.push(r));
        assert_eq!(runs, vec![b..3 * b, 4 * b..5 * b, 6 * b..6 * b + 100]);
        let mut runs = Vec::new();
        nonzero_runs(&data, 2 * b..5 * b, &all, &mut |r| runs.push(r));
        assert_eq!(runs, vec![2 * b..3 * b, 4 * b..5 * b]);
        let mut runs = Vec::new();
        nonzero_runs(&data, 10 * b..20 * b, &all, &mut |r| runs.push(r));
        assert!(runs.is_empty());
    }

    #[test]
    fn holes_are_skipped_and_end_runs() {
        let b = ZERO_BLOCK_BYTES;
        let mut data = vec![1u8; 8 * b];
        // Blocks 2..5 are a hole (zeros in the file), the rest data.
        data[2 * b..5 * b].fill(0);
        let hole = |at: usize| {
            if (2 * b..5 * b).contains(&at) {
                5 * b + 10
            } else {
                at
            }
        };
        let mut runs = Vec::new();
        nonzero_runs(&data, 0..data.len(), &hole, &mut |r| runs.push(r));
        assert_eq!(runs, vec![0..2 * b, 5 * b..8 * b]);
        // Data starting inside a block (a grid not aligned with the file's
        // blocks) gets the block tested, and the scan goes on.
        let ones = vec![1u8; 8 * b];
        let mid = |at: usize| if at < 3 * b { 3 * b - 100 } else { at };
        let mut runs = Vec::new();
        nonzero_runs(&ones, 0..ones.len(), &mid, &mut |r| runs.push(r));
        assert_eq!(runs, vec![2 * b..8 * b]);
        // A map saying "only holes from here" ends the scan.
        let none = |at: usize| if at >= 3 * b { usize::MAX } else { at };
        let mut runs = Vec::new();
        nonzero_runs(&data, 0..data.len(), &none, &mut |r| runs.push(r));
        assert_eq!(runs, vec![0..2 * b]);
    }
}
