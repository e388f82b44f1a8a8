//! Where the image bytes live: a memory map or an owned buffer.
//!
//! One of the two modules of the crate that need `unsafe` (the other is the
//! SIMD prefilter, `scan/prefilter/teddy_avx2.rs`): creating a memory map,
//! and dropping its page-table entries before unmapping it.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use super::ReadStrategy;
use crate::{Error, Result};

#[derive(Debug)]
pub(super) enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    pub(super) fn load(
        file: &File,
        size: u64,
        strategy: ReadStrategy,
        path: &Path,
    ) -> Result<Self> {
        let len = usize::try_from(size).map_err(|_| {
            Error::unsupported(format!(
                "{}: {size} bytes do not fit this platform's address space",
                path.display()
            ))
        })?;
        match strategy {
            ReadStrategy::Mmap => {
                // SAFETY: the map is created read-only (PROT_READ, MAP_SHARED)
                // over a file we opened read-only, so we never write through
                // it. The remaining hazard, named in `ReadStrategy::Mmap`, is
                // another process truncating or modifying the file while it is
                // mapped; audited snapshots are at rest, and callers who cannot
                // promise that choose `ReadStrategy::Read`. Temporary files we
                // expand compressed inputs into are unlinked and private to us.
                let map = unsafe { memmap2::MmapOptions::new().len(len).map(file) }
                    .map_err(|e| Error::io(path, e))?;
                // Sequential scans dominate; tell the kernel to read ahead.
                let _ = map.advise(memmap2::Advice::Sequential);
                Ok(Backing::Mapped(map))
            }
            ReadStrategy::Read => {
                let mut buf = Vec::new();
                buf.try_reserve_exact(len).map_err(|_| {
                    Error::io(
                        path,
                        std::io::Error::new(
                            std::io::ErrorKind::OutOfMemory,
                            format!("cannot allocate {size} bytes to read the image"),
                        ),
                    )
                })?;
                file.take(size)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(path, e))?;
                if buf.len() != len {
                    return Err(Error::io(
                        path,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("file shrank while reading: {} of {size} bytes", buf.len()),
                        ),
                    ));
                }
                Ok(Backing::Owned(buf))
            }
        }
    }

    /// Drops this process's page-table entries for the whole map, a piece
    /// per worker thread. The kernel tears down the page tables of a map
    /// page by page; after a scan has read a 2 GiB image's data that took
    /// ~20 ms on one core, with the other idle, at the very end of the run.
    /// Afterwards `munmap` has almost nothing left to do.
    fn release_pages(map: &memmap2::Mmap) {
        /// Per `madvise` call: few calls, enough pieces for every core.
        const PIECE_BYTES: usize = 64 << 20;
        let len = map.len();
        (0..len.div_ceil(PIECE_BYTES))
            .into_par_iter()
            .for_each(|i| {
                let offset = i * PIECE_BYTES;
                let n = PIECE_BYTES.min(len - offset);
                // SAFETY: called from `drop` (`&mut self`), so no reference
                // into the map exists to observe anything. And even then: the
                // map is MAP_SHARED and read-only over a file, so DONTNEED
                // only removes page-table entries and a later read faults the
                // same bytes back in from the page cache (memmap2 marks it
                // unsafe for private maps, whose pages it zeroes). The range
                // lies within the map.
                let _ = unsafe {
                    map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, n)
                };
            });
    }

    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::Mapped(map) = self {
            Backing::release_pages(map);
        }
    }
}
