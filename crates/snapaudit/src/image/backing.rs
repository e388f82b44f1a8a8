//! Where the image bytes live: a memory map or an owned buffer.
//!
//! One of the two modules of the crate that need `unsafe` (the other is the
//! SIMD prefilter, `scan/prefilter/teddy_avx2.rs`): creating a memory map.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::ReadStrategy;
use crate::{Error, Result};

#[derive(Debug)]
pub(super) enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
    /// A container's virtual disk (see `stitch`).
    Stitched(super::stitch::Stitched),
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

    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
            Backing::Stitched(s) => s.bytes(),
        }
    }
}
