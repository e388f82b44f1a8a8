//! Small checked readers for little-endian on-disk fields.
//!
//! Every on-disk structure is read through these so that an offset past the
//! end of a buffer is an `Option::None`, never a panic.

/// `len` bytes of `buf` starting at `off`, or `None` when out of range.
pub(crate) fn slice(buf: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    buf.get(off..off.checked_add(len)?)
}

pub(crate) fn le_u16(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(slice(buf, off, 2)?.try_into().ok()?))
}

pub(crate) fn le_u32(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(slice(buf, off, 4)?.try_into().ok()?))
}

pub(crate) fn le_u64(buf: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(slice(buf, off, 8)?.try_into().ok()?))
}

pub(crate) fn be_u16(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(slice(buf, off, 2)?.try_into().ok()?))
}

pub(crate) fn be_u32(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(slice(buf, off, 4)?.try_into().ok()?))
}

pub(crate) fn be_u64(buf: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_be_bytes(slice(buf, off, 8)?.try_into().ok()?))
}

/// Exactly `2 × N` hex digits (either case) as `N` bytes; `None` for any
/// other length or a non-digit (a sign included).
pub(crate) fn hex_bytes<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = digit(*pair.first()?)? << 4 | digit(*pair.get(1)?)?;
    }
    Some(out)
}

/// Format 16 bytes as a canonical lowercase UUID string (big-endian fields,
/// as ext4, xfs, btrfs and LUKS store them).
pub(crate) fn uuid_be(b: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*b).hyphenated().to_string()
}

/// A NUL-padded on-disk string (label) as UTF-8, lossily, trimmed.
pub(crate) fn cstr_lossy(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_reads_are_none() {
        let b = [1u8, 2, 3];
        assert_eq!(le_u16(&b, 1), Some(0x0302));
        assert_eq!(le_u16(&b, 2), None);
        assert_eq!(le_u32(&b, usize::MAX), None);
        assert_eq!(slice(&b, usize::MAX - 1, 4), None);
    }
}
