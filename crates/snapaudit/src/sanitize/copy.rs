//! Writing the output image: a sparse copy of the input in which the
//! plan's zero ranges are holes, or those ranges zeroed in an existing
//! file (a reflinked copy, or the input itself with `--in-place`).
//!
//! Copy strategies, fastest first:
//! 1. reflink (`FICLONE`) the whole input where the filesystem shares
//!    blocks (btrfs, xfs), then punch the zero ranges out;
//! 2. `copy_file_range` over the input's data segments (`SEEK_DATA` /
//!    `SEEK_HOLE`) minus the zero ranges: holes stay holes and the kernel
//!    moves the bytes (or shares them, on filesystems that can);
//! 3. reads from the mapped image and writes of the blocks that are not
//!    all zeros (compressed inputs, which are already expanded into a
//!    temporary file; block devices; filesystems without the calls above).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::Serialize;

use super::ranges::{ByteRange, gaps};
use super::sys;
use crate::image::Image;
use crate::{Error, Result};

/// Unit of zero detection and of the read/write fallback.
const CHUNK_BYTES: usize = 64 * 1024;

/// How the output was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyMethod {
    /// The whole input was cloned (shared blocks), zero ranges punched out.
    Reflink,
    /// `copy_file_range` over the input's data.
    CopyFileRange,
    /// Reads from the mapped image, writes of the non-zero blocks.
    ReadWrite,
    /// No copy: the input itself was changed (`--in-place`).
    InPlace,
}

impl CopyMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyMethod::Reflink => "reflink",
            CopyMethod::CopyFileRange => "copy_file_range",
            CopyMethod::ReadWrite => "read/write",
            CopyMethod::InPlace => "in place",
        }
    }
}

/// What the copy did.
#[derive(Debug, Clone, Copy)]
pub(super) struct CopyStats {
    pub(super) method: CopyMethod,
    /// Bytes copied as data (holes and zero ranges excluded; the whole
    /// image for a reflink, which copies nothing).
    pub(super) bytes_copied: u64,
}

/// Whether `bytes` are all zero.
pub(super) fn is_zero(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(16);
    let wide = chunks
        .by_ref()
        .all(|c| u128::from_ne_bytes(c.try_into().unwrap_or([1; 16])) == 0);
    wide && chunks.remainder().iter().all(|&b| b == 0)
}

/// The data segments (`[start, end)`, ascending) of `file`, whose size is
/// `size`. The whole file when the filesystem cannot tell.
pub(super) fn data_segments(file: &File, size: u64) -> Vec<(u64, u64)> {
    match crate::container::data_segments(file, 0, size) {
        Some(ranges) => ranges.into_iter().map(|r| (r.start, r.end)).collect(),
        None => vec![(0, size)],
    }
}

/// The data segments of `image` (its allocation map: a container's
/// tables, a raw file's holes) where they are known, else the whole image.
pub(super) fn image_data_segments(image: &Image) -> Vec<(u64, u64)> {
    match image.data_ranges() {
        Some(ranges) => ranges.iter().map(|r| (r.start, r.end)).collect(),
        None => vec![(0, image.size_bytes())],
    }
}

/// Errors after which `copy_file_range` is abandoned for plain reads and
/// writes: the call or this pair of files is not supported.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EXDEV
                | libc::ENOSYS
                | libc::EOPNOTSUPP
                | libc::EINVAL
                | libc::EBADF
                | libc::EPERM
        )
    )
}

/// Write the non-zero 64 KiB chunks of `src[offset..offset+len]` to `dst`
/// at the same offset. Returns the bytes written.
fn write_nonzero(dst: &File, dst_path: &Path, src: &[u8], offset: u64, len: u64) -> Result<u64> {
    let io = |e| Error::io(dst_path, e);
    let start =
        usize::try_from(offset).map_err(|_| Error::invalid("offset beyond the address space"))?;
    let end = offset
        .checked_add(len)
        .and_then(|e| usize::try_from(e).ok())
        .filter(|&e| e <= src.len())
        .ok_or_else(|| Error::corrupt(offset, "range past the end of the image"))?;
    let mut written = 0u64;
    let mut pos = start;
    // A run of consecutive non-zero chunks is written in one call.
    let mut run_start: Option<usize> = None;
    while pos < end {
        let chunk_end = (pos + CHUNK_BYTES).min(end);
        let chunk = src.get(pos..chunk_end).unwrap_or(&[]);
        let zero = is_zero(chunk);
        match (zero, run_start) {
            (false, None) => run_start = Some(pos),
            (true, Some(s)) => {
                dst.write_all_at(src.get(s..pos).unwrap_or(&[]), s as u64)
                    .map_err(io)?;
                written += (pos - s) as u64;
                run_start = None;
            }
            _ => {}
        }
        pos = chunk_end;
    }
    if let Some(s) = run_start {
        dst.write_all_at(src.get(s..end).unwrap_or(&[]), s as u64)
            .map_err(io)?;
        written += (end - s) as u64;
    }
    Ok(written)
}

/// Copy `[offset, offset + len)` of `src` into `dst` with
/// `copy_file_range`. `Ok(done)` with `done < len` means the call is not
/// usable here and the caller should copy the rest itself.
fn copy_range(src: &File, dst: &File, dst_path: &Path, offset: u64, len: u64) -> Result<u64> {
    let mut done = 0u64;
    while done < len {
        match sys::copy_file_range(src, offset + done, dst, offset + done, len - done) {
            Ok(0) => {
                return Err(Error::io(
                    dst_path,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the input image shrank while being copied",
                    ),
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if unsupported(&e) => return Ok(done),
            Err(e) => return Err(Error::io(dst_path, e)),
        }
    }
    Ok(done)
}

/// Fill `dst`, a new empty file, with `image`, leaving `zero` (normalized)
/// and the input's holes as holes.
pub(super) fn copy_image(
    image: &Image,
    dst: &File,
    dst_path: &Path,
    zero: &[ByteRange],
) -> Result<CopyStats> {
    let size = image.size_bytes();
    let io = |e| Error::io(dst_path, e);
    if let Some(src) = image.host_file() {
        if sys::reflink(dst, src).is_ok() {
            dst.set_len(size).map_err(io)?;
            zero_ranges(dst, dst_path, image.bytes(), zero)?;
            return Ok(CopyStats {
                method: CopyMethod::Reflink,
                bytes_copied: 0,
            });
        }
        dst.set_len(size).map_err(io)?;
        let mut method = CopyMethod::CopyFileRange;
        let mut copied = 0u64;
        let mut pieces = Vec::new();
        for (start, end) in data_segments(src, size) {
            gaps(zero, start, end, |o, l| pieces.push((o, l)));
        }
        for (offset, len) in pieces {
            let mut done = 0;
            if method == CopyMethod::CopyFileRange {
                done = copy_range(src, dst, dst_path, offset, len)?;
                copied += done;
                if done < len {
                    method = CopyMethod::ReadWrite;
                }
            }
            if done < len {
                copied += write_nonzero(dst, dst_path, image.bytes(), offset + done, len - done)?;
            }
        }
        return Ok(CopyStats {
            method,
            bytes_copied: copied,
        });
    }
    dst.set_len(size).map_err(io)?;
    let mut copied = 0u64;
    let mut pieces = Vec::new();
    gaps(zero, 0, size, |o, l| pieces.push((o, l)));
    for (offset, len) in pieces {
        copied += write_nonzero(dst, dst_path, image.bytes(), offset, len)?;
    }
    Ok(CopyStats {
        method: CopyMethod::ReadWrite,
        bytes_copied: copied,
    })
}

/// Make `zero` (normalized) read as zeros in `file`, whose current content
/// is `current`: holes are punched where the filesystem can, else the
/// chunks that are not already zero are overwritten.
pub(super) fn zero_ranges(
    file: &File,
    path: &Path,
    current: &[u8],
    zero: &[ByteRange],
) -> Result<()> {
    let mut punch = true;
    let zeros = vec![0u8; CHUNK_BYTES];
    for r in zero {
        if punch {
            match sys::punch_hole(file, r.offset_bytes, r.len_bytes) {
                Ok(()) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if sys::punch_hole(file, r.offset_bytes, r.len_bytes).is_ok() {
                        continue;
                    }
                    punch = false;
                }
                Err(_) => punch = false,
            }
        }
        let mut pos = r.offset_bytes;
        let end = r.end_bytes();
        while pos < end {
            let chunk_end = (pos + CHUNK_BYTES as u64).min(end);
            let len = (chunk_end - pos) as usize;
            let already_zero = usize::try_from(pos)
                .ok()
                .and_then(|p| current.get(p..p.checked_add(len)?))
                .is_some_and(is_zero);
            if !already_zero {
                file.write_all_at(zeros.get(..len).unwrap_or(&zeros), pos)
                    .map_err(|e| Error::io(path, e))?;
            }
            pos = chunk_end;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection_sees_a_single_byte_anywhere() {
        let mut buf = vec![0u8; 1000];
        assert!(is_zero(&buf));
        for at in [0, 15, 16, 500, 990, 999] {
            buf[at] = 1;
            assert!(!is_zero(&buf), "byte {at}");
            buf[at] = 0;
        }
        assert!(is_zero(&[]));
    }

    #[test]
    fn a_sparse_file_reports_its_data_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sparse");
        let file = File::create(&path).expect("create");
        let size = 16 << 20;
        file.set_len(size).expect("set_len");
        file.write_all_at(&[7u8; 4096], 4 << 20).expect("write");
        let segments = data_segments(&file, size);
        // Filesystems without SEEK_DATA report the whole file: still correct.
        let total: u64 = segments.iter().map(|(s, e)| e - s).sum();
        assert!(
            segments
                .iter()
                .any(|&(s, e)| s <= 4 << 20 && e >= (4 << 20) + 4096)
        );
        assert!(total <= size);
    }

    #[test]
    fn write_nonzero_leaves_zero_chunks_as_holes_and_copies_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out");
        let dst = File::create(&path).expect("create");
        let mut src = vec![0u8; 4 * CHUNK_BYTES + 100];
        src[CHUNK_BYTES + 3] = 9;
        src[4 * CHUNK_BYTES + 99] = 5;
        dst.set_len(src.len() as u64).expect("set_len");
        let written = write_nonzero(&dst, &path, &src, 0, src.len() as u64).expect("copy");
        assert_eq!(written, (CHUNK_BYTES + 100) as u64);
        assert_eq!(std::fs::read(&path).expect("read"), src);
    }

    #[test]
    fn zero_ranges_zeroes_exactly_the_ranges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 + 1).collect();
        std::fs::write(&path, &content).expect("write");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let zero = [ByteRange::new(10, 5000), ByteRange::new(200_000, 70_000)];
        zero_ranges(&file, &path, &content, &zero).expect("zero");
        let after = std::fs::read(&path).expect("read");
        for (i, (&a, &b)) in after.iter().zip(&content).enumerate() {
            let inside = zero
                .iter()
                .any(|r| (r.offset_bytes..r.end_bytes()).contains(&(i as u64)));
            assert_eq!(a, if inside { 0 } else { b }, "byte {i}");
        }
    }
}
