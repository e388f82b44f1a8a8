//! The Linux file calls that `std` does not wrap: reflink (`FICLONE`),
//! in-kernel copy (`copy_file_range`), hole punching (`fallocate`) and the
//! data/hole map of a sparse file (`lseek` with `SEEK_DATA`/`SEEK_HOLE`).
//!
//! This is the sanitizer's one module with `unsafe`: each block is a single
//! FFI call on file descriptors borrowed from live `File`s for the duration
//! of the call, with plain integers or pointers to locals as the other
//! arguments. Every failure comes back as an `io::Error` and the callers fall
//! back to ordinary reads and writes.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Clone all of `src` into `dst` (same filesystem, btrfs/xfs/bcachefs…):
/// the copy shares `src`'s blocks until either is written.
pub(super) fn reflink(dst: &File, src: &File) -> io::Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its argument; both
    // descriptors belong to `File`s that outlive the call, and no memory of
    // ours is read or written by the kernel.
    let r = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
    let mut off_in = i64::try_from(src_offset).map_err(|_| offset_too_large())?;
    let mut off_out = i64::try_from(dst_offset).map_err(|_| offset_too_large())?;
    // The kernel copies at most about 2 GiB per call anyway.
    let len = usize::try_from(len.min(1 << 30)).unwrap_or(1 << 30);
    // SAFETY: both descriptors belong to live `File`s; the offset pointers
    // point at locals that live across the call, which the kernel updates.
    let r = unsafe {
        libc::copy_file_range(
            src.as_raw_fd(),
            &mut off_in,
            dst.as_raw_fd(),
            &mut off_out,
            len,
            0,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u64)
    }
}

/// Deallocate `len` bytes at `offset` of `file`, keeping its size: the range
/// reads as zeros afterwards (partial blocks at the edges are zeroed).
pub(super) fn punch_hole(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let offset = i64::try_from(offset).map_err(|_| offset_too_large())?;
    let len = i64::try_from(len).map_err(|_| offset_too_large())?;
    // SAFETY: a descriptor of a live `File` and two integers.
    let r = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What `lseek(SEEK_DATA / SEEK_HOLE)` found.
pub(super) enum Seek {
    /// The next data (or hole) starts here.
    At(u64),
    /// No data at or after the offset (`ENXIO`).
    End,
}

fn lseek(file: &File, offset: u64, whence: libc::c_int) -> io::Result<Seek> {
    let offset = i64::try_from(offset).map_err(|_| offset_too_large())?;
    // SAFETY: a descriptor of a live `File` and two integers. The file
    // position it moves is not used by anything else here (all I/O is
    // positional).
    let r = unsafe { libc::lseek(file.as_raw_fd(), offset, whence) };
    if r >= 0 {
        return Ok(Seek::At(r as u64));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENXIO) {
        Ok(Seek::End)
    } else {
        Err(err)
    }
}

/// The start of the first data at or after `offset`.
pub(super) fn seek_data(file: &File, offset: u64) -> io::Result<Seek> {
    lseek(file, offset, libc::SEEK_DATA)
}

/// The start of the first hole at or after `offset` (the end of the file
/// counts as a hole).
pub(super) fn seek_hole(file: &File, offset: u64) -> io::Result<Seek> {
    lseek(file, offset, libc::SEEK_HOLE)
}

fn offset_too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset does not fit in off_t")
}
