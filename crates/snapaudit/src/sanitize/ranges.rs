//! Byte ranges of the image: sorting, merging, subtracting, and looking up
//! whether a range lies inside a set.

use serde::Serialize;

/// `len_bytes` bytes at image offset `offset_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ByteRange {
    pub offset_bytes: u64,
    pub len_bytes: u64,
}

impl ByteRange {
    pub fn new(offset_bytes: u64, len_bytes: u64) -> Self {
        ByteRange {
            offset_bytes,
            len_bytes,
        }
    }

    /// One past the last byte (saturating).
    pub fn end_bytes(&self) -> u64 {
        self.offset_bytes.saturating_add(self.len_bytes)
    }
}

/// Sort `ranges` and merge the ones that overlap or touch; empty ranges go.
pub(crate) fn normalize(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.retain(|r| r.len_bytes > 0);
    ranges.sort_unstable();
    let mut out: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.offset_bytes <= last.end_bytes() => {
                let end = last.end_bytes().max(r.end_bytes());
                last.len_bytes = end - last.offset_bytes;
            }
            _ => out.push(r),
        }
    }
    out
}

/// Whether all of `[offset, offset + len)` lies inside the normalized set
/// `set`.
pub(crate) fn covered(set: &[ByteRange], offset: u64, len: u64) -> bool {
    let Some(end) = offset.checked_add(len) else {
        return false;
    };
    // The last range starting at or before `offset` is the only candidate
    // in a normalized (disjoint, non-touching) set.
    let i = set.partition_point(|r| r.offset_bytes <= offset);
    i > 0 && set.get(i - 1).is_some_and(|r| r.end_bytes() >= end)
}

/// The parts of `[start, end)` not covered by the normalized set `set`, in
/// order, through `emit(offset, len)`.
pub(crate) fn gaps(set: &[ByteRange], start: u64, end: u64, mut emit: impl FnMut(u64, u64)) {
    let mut pos = start;
    let first = set.partition_point(|r| r.end_bytes() <= start);
    for r in set.get(first..).unwrap_or(&[]) {
        if r.offset_bytes >= end {
            break;
        }
        if r.offset_bytes > pos {
            emit(pos, r.offset_bytes - pos);
        }
        pos = pos.max(r.end_bytes());
        if pos >= end {
            return;
        }
    }
    if pos < end {
        emit(pos, end - pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(o: u64, l: u64) -> ByteRange {
        ByteRange::new(o, l)
    }

    #[test]
    fn normalize_merges_overlapping_and_touching_ranges() {
        let set = normalize(vec![
            r(10, 5),
            r(0, 3),
            r(15, 5),
            r(12, 1),
            r(30, 0),
            r(2, 2),
        ]);
        assert_eq!(set, vec![r(0, 4), r(10, 10)]);
    }

    #[test]
    fn covered_needs_the_whole_range_in_one_member() {
        let set = normalize(vec![r(0, 4), r(10, 10)]);
        assert!(covered(&set, 10, 10));
        assert!(covered(&set, 0, 1));
        assert!(!covered(&set, 3, 2));
        assert!(!covered(&set, 9, 2));
        assert!(!covered(&set, 19, 2));
        assert!(!covered(&set, 25, 1));
        assert!(!covered(&set, u64::MAX, 2));
        assert!(!covered(&[], 0, 1));
    }

    #[test]
    fn gaps_are_the_complement_inside_the_window() {
        let set = normalize(vec![r(0, 4), r(10, 10), r(40, 5)]);
        let mut out = Vec::new();
        gaps(&set, 2, 42, |o, l| out.push(r(o, l)));
        assert_eq!(out, vec![r(4, 6), r(20, 20)]);
        out.clear();
        gaps(&set, 50, 60, |o, l| out.push(r(o, l)));
        assert_eq!(out, vec![r(50, 10)]);
        out.clear();
        gaps(&set, 11, 15, |o, l| out.push(r(o, l)));
        assert!(out.is_empty());
    }
}
