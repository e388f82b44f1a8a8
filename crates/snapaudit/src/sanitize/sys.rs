//! The Linux file calls that `std` does not wrap: reflink (`FICLONE`),
//! in-kernel copy (`copy_file_range`), hole punching (`fallocate`) and the
//! data/hole map of a sparse file (`lseek` with `SEEK_DATA`/`SEEK_HOLE`),
//! through rustix's safe wrappers. Every failure comes back as an
//! `io::Error` and the callers fall back to ordinary reads and writes.

use std::fs::File;
use std::io;

use rustix::fs::FallocateFlags;

/// Clone all of `src` into `dst` (same filesystem, btrfs/xfs/bcachefs…):
/// the copy shares `src`'s blocks until either is written.
pub(super) fn reflink(dst: &File, src: &File) -> io::Result<()> {
    Ok(rustix::fs::ioctl_ficlone(dst, src)?)
}

/// Copy up to `len` bytes from `src` at `src_offset` to `dst` at
/// `dst_offset` inside the kernel. Returns how many bytes were copied (0 at
/// the end of `src`).
pub(super) fn copy_file_range(
    src: &File,
    src_offset: u64,
    dst: &File,
    dst_offset: u64,
    len: u64,
) -> io::Result<u64> {
    // off_t is signed: offsets past i64::MAX cannot be asked for.
    let mut off_in = checked_offset(src_offset)?;
    let mut off_out = checked_offset(dst_offset)?;
    // The kernel copies at most about 2 GiB per call anyway.
    let len = usize::try_from(len.min(1 << 30)).unwrap_or(1 << 30);
    let copied = rustix::fs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), len)?;
    Ok(copied as u64)
}

/// Deallocate `len` bytes at `offset` of `file`, keeping its size: the range
/// reads as zeros afterwards (partial blocks at the edges are zeroed).
pub(super) fn punch_hole(file: &File, offset: u64, len: u64) -> io::Result<()> {
    checked_offset(offset)?;
    checked_offset(len)?;
    Ok(rustix::fs::fallocate(
        file,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    )?)
}

/// `offset` if it fits in `off_t`.
fn checked_offset(offset: u64) -> io::Result<u64> {
    if i64::try_from(offset).is_ok() {
        Ok(offset)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "offset does not fit in off_t",
        ))
    }
}
