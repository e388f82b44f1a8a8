//! One contiguous, read-only view of a container's virtual disk.
//!
//! Everything above the image reads the disk as one `&[u8]`. For a
//! container, that view is stitched together in the address space:
//!
//! 1. an address range of the virtual size is reserved: a mapping of a
//!    sparse scratch file of that size (or, when nothing needs scratch,
//!    anonymous zero pages); unallocated and zero ranges read as zeros from
//!    it without costing memory or disk;
//! 2. every run of whole pages whose bytes lie contiguous in a host file
//!    (uncompressed qcow2 clusters, VHD blocks, VMDK grains, flat extents)
//!    is mapped from that file over its place with `MAP_FIXED`: zero copy,
//!    read on demand, as fast as a raw image;
//! 3. what cannot be mapped in place (compressed clusters, pieces of pages
//!    shared by two extents, extents not page-aligned in their file) is
//!    written once into the scratch file, at its virtual offset.
//!
//! A map with more runs than the process can afford mappings for (the
//! kernel's `vm.max_map_count`) goes through scratch entirely. With
//! [`ReadStrategy::Read`] the virtual disk is assembled in memory instead.
//!
//! One of the modules of the crate that need `unsafe` (with `backing.rs`
//! and the SIMD prefilter): `mmap` and `munmap` of raw address ranges.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

use rayon::prelude::*;
use rustix::mm::{MapFlags, ProtFlags};

use super::{ProgressFn, ReadStrategy};
use crate::container::{Codec, Data, Extent, Files};
use crate::{Error, Result};

/// Unit of the copy into scratch or memory.
const COPY_CHUNK: u64 = 1 << 20;
/// Mappings one image may use, as a share of `vm.max_map_count` (several
/// images may be open at once in a batch, and the allocator maps too).
const MAP_BUDGET_SHARE: usize = 8;
const DEFAULT_MAX_MAP_COUNT: usize = 65530;
/// The largest compressed unit any reader emits (qcow2's 2 MiB clusters,
/// plus the sector a compressed cluster may straddle).
const MAX_UNIT_BYTES: u64 = (2 << 20) + 4096;

/// The stitched view. The mappings are released as one range on drop.
#[derive(Debug)]
pub(super) struct Stitched {
    ptr: *mut c_void,
    len: usize,
    /// The scratch file and the host files stay open while they are mapped
    /// (not needed by the mappings themselves, but they are the image's
    /// identity and what sanitize may read from).
    _scratch: Option<File>,
}

// SAFETY: the region is mapped PROT_READ only and never written through or
// remapped after construction; shared references to read-only memory may
// cross threads like `&[u8]`.
unsafe impl Send for Stitched {}
// SAFETY: as for Send.
unsafe impl Sync for Stitched {}

impl Drop for Stitched {
    fn drop(&mut self) {
        // SAFETY: `ptr..ptr+len` is the range this value mapped in `build`;
        // no slice borrowed from it outlives `self` (they borrow `self`).
        unsafe {
            let _ = rustix::mm::munmap(self.ptr, self.len);
        }
    }
}

impl Stitched {
    pub(super) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is the start of a readable mapping of `len` bytes
        // that lives as long as `self`, and is never written while mapped:
        // the host files are opened read-only and the scratch file is
        // complete before it is mapped. (The hazard shared with every file
        // mapping — another process truncating a host file — is the one
        // `ReadStrategy::Mmap` documents.)
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

/// The assembled disk: mapped, or in memory.
#[derive(Debug)]
pub(super) enum Assembled {
    Mapped(Stitched),
    Owned(Vec<u8>),
}

/// Bytes laid over the extents at a virtual offset (replayed journal
/// blocks): they win over whatever the extents hold there.
pub(crate) type Patch = (u64, Vec<u8>);

/// Build the view of a disk of `virtual_size` bytes made of `extents`, with
/// `patches` (ascending, disjoint, inside the disk) laid over them.
pub(super) fn assemble(
    files: &Files,
    extents: &[Extent],
    patches: &[Patch],
    virtual_size: u64,
    strategy: ReadStrategy,
    progress: Option<ProgressFn<'_>>,
) -> Result<Assembled> {
    let len = usize::try_from(virtual_size).map_err(|_| too_large(files, virtual_size))?;
    let mut copier = Copier {
        files,
        progress,
        done: Default::default(),
        total: 0,
    };
    match strategy {
        ReadStrategy::Read => {
            let mut buf = Vec::new();
            buf.try_reserve_exact(len).map_err(|_| {
                Error::unsupported(format!(
                    "{}: cannot allocate {virtual_size} bytes to assemble the disk in memory (use the memory map)",
                    files.get(crate::container::FileId(0)).display()
                ))
            })?;
            buf.resize(len, 0);
            copier.total = extents.iter().map(|e| e.len).sum();
            for e in extents {
                copier.copy(e, e.virt, e.len, &mut |at, bytes| {
                    buf[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
                    Ok(())
                })?;
            }
            for (at, bytes) in patches {
                buf[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
            }
            Ok(Assembled::Owned(buf))
        }
        ReadStrategy::Mmap => build_mapped(&mut copier, extents, patches, virtual_size, len),
    }
}

fn too_large(files: &Files, virtual_size: u64) -> Error {
    Error::unsupported(format!(
        "{}: a virtual disk of {virtual_size} bytes does not fit this platform's address space",
        files.get(crate::container::FileId(0)).display()
    ))
}

/// A page-aligned run mapped straight from a host file.
struct Direct {
    virt: u64,
    len: u64,
    file: crate::container::FileId,
    offset: u64,
}

fn build_mapped(
    copier: &mut Copier<'_>,
    extents: &[Extent],
    patches: &[Patch],
    virtual_size: u64,
    len: usize,
) -> Result<Assembled> {
    let page = rustix::param::page_size() as u64;
    let (direct, mut scratch_pieces) = split(extents, page);
    let mut direct = carve_patches(direct, patches, page, &mut scratch_pieces);
    if direct.len() > map_budget() {
        // Too many runs to map: everything goes through scratch.
        scratch_pieces = extents.iter().map(|e| (*e, e.virt, e.len)).collect();
        direct.clear();
    }
    let files = copier.files;
    let scratch = if scratch_pieces.is_empty() && patches.is_empty() {
        None
    } else {
        let dir = std::env::temp_dir();
        let file = tempfile::tempfile().map_err(|e| Error::io(&dir, e))?;
        file.set_len(virtual_size).map_err(|e| Error::io(&dir, e))?;
        copier.total = scratch_pieces.iter().map(|p| p.2).sum();
        // Decompressing is the cost of a compressed container: spread the
        // pieces over the worker threads (positioned writes need no lock).
        let pieces = split_for_workers(&scratch_pieces);
        let copier = &*copier;
        pieces.par_iter().try_for_each(|(e, start, n)| {
            copier.copy(e, *start, *n, &mut |at, bytes| {
                if bytes.iter().all(|&b| b == 0) {
                    return Ok(()); // Stays a hole.
                }
                write_scratch(&file, at, bytes)
            })
        })?;
        for (at, bytes) in patches {
            write_scratch(&file, *at, bytes)?;
        }
        Some(file)
    };
    let reserve_err = |e: rustix::io::Errno| {
        Error::unsupported(format!(
            "{}: cannot reserve {virtual_size} bytes of address space for the virtual disk: {e}",
            files.get(crate::container::FileId(0)).display()
        ))
    };
    // SAFETY: a fresh mapping at an address the kernel chooses; it aliases
    // nothing. It is unmapped by `Stitched::drop`, which owns it from the
    // moment the Stitched value is built just below.
    let ptr = unsafe {
        match &scratch {
            Some(f) => rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED | MapFlags::NORESERVE,
                f,
                0,
            ),
            None => rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            ),
        }
    }
    .map_err(reserve_err)?;
    let stitched = Stitched {
        ptr,
        len,
        _scratch: scratch,
    };
    for run in &direct {
        let host = files.get(run.file);
        // SAFETY: `virt..virt+len` lies inside the reservation owned by
        // `stitched` (split() keeps runs inside the extents, which
        // `Layer::validate` keeps inside the virtual size), both ends are
        // page-aligned, and MAP_FIXED replaces only those pages of our own
        // reservation. No slice of the view exists yet.
        let mapped = unsafe {
            rustix::mm::mmap(
                (stitched.ptr as *mut u8).add(run.virt as usize) as *mut c_void,
                run.len as usize,
                ProtFlags::READ,
                MapFlags::SHARED | MapFlags::FIXED,
                host.file(),
                run.offset,
            )
        };
        mapped.map_err(|e| {
            Error::io(
                host.path(),
                std::io::Error::other(format!(
                    "mapping {} bytes at file offset {}: {e}",
                    run.len, run.offset
                )),
            )
        })?;
    }
    if let Some(p) = copier.progress {
        p(copier.total, Some(copier.total));
    }
    Ok(Assembled::Mapped(stitched))
}

/// Host pieces cut into units of at most [`COPY_CHUNK`] so that one large
/// unaligned extent does not keep a single thread busy; compressed units
/// stay whole.
fn split_for_workers(pieces: &[(Extent, u64, u64)]) -> Vec<(Extent, u64, u64)> {
    let mut out = Vec::with_capacity(pieces.len());
    for &(e, start, n) in pieces {
        if matches!(e.data, Data::Host { .. }) {
            let mut at = start;
            while at < start + n {
                let step = COPY_CHUNK.min(start + n - at);
                out.push((e, at, step));
                at += step;
            }
        } else {
            out.push((e, start, n));
        }
    }
    out
}

fn write_scratch(file: &File, at: u64, bytes: &[u8]) -> Result<()> {
    file.write_all_at(bytes, at).map_err(|err| {
        let dir = std::env::temp_dir();
        Error::io(
            &dir,
            std::io::Error::new(
                err.kind(),
                format!("writing the scratch copy of the disk: {err} (is $TMPDIR full?)"),
            ),
        )
    })
}

/// Take the pages that patches touch out of the direct runs: those pages
/// are composed in scratch (the run's bytes, then the patch over them).
fn carve_patches(
    direct: Vec<Direct>,
    patches: &[Patch],
    page: u64,
    scratch: &mut Vec<(Extent, u64, u64)>,
) -> Vec<Direct> {
    if patches.is_empty() {
        return direct;
    }
    // Page ranges the patches touch, merged.
    let mut holes: Vec<(u64, u64)> = Vec::new();
    for (at, bytes) in patches {
        let lo = at / page * page;
        let hi = (at + bytes.len() as u64).next_multiple_of(page);
        match holes.last_mut() {
            Some(last) if last.1 >= lo => last.1 = last.1.max(hi),
            _ => holes.push((lo, hi)),
        }
    }
    let mut out = Vec::with_capacity(direct.len());
    let mut h = 0;
    for run in direct {
        let mut start = run.virt;
        let end = run.virt + run.len;
        while h < holes.len() && holes[h].1 <= start {
            h += 1;
        }
        let mut k = h;
        while start < end {
            let Some(&(lo, hi)) = holes.get(k).filter(|x| x.0 < end) else {
                out.push(Direct {
                    virt: start,
                    len: end - start,
                    file: run.file,
                    offset: run.offset + (start - run.virt),
                });
                break;
            };
            if lo > start {
                out.push(Direct {
                    virt: start,
                    len: lo - start,
                    file: run.file,
                    offset: run.offset + (start - run.virt),
                });
            }
            let cut_lo = lo.max(start);
            let cut_hi = hi.min(end);
            let piece = Extent {
                virt: cut_lo,
                len: cut_hi - cut_lo,
                data: Data::Host {
                    file: run.file,
                    offset: run.offset + (cut_lo - run.virt),
                },
            };
            scratch.push((piece, cut_lo, cut_hi - cut_lo));
            start = cut_hi;
            if hi <= end {
                k += 1;
            }
        }
    }
    out
}

/// The number of direct mappings one image may use.
fn map_budget() -> usize {
    let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_MAX_MAP_COUNT);
    max / MAP_BUDGET_SHARE
}

/// Split the extents into page-aligned direct runs and the pieces that go
/// through scratch: `(extent, virtual start, length)`.
fn split(extents: &[Extent], page: u64) -> (Vec<Direct>, Vec<(Extent, u64, u64)>) {
    let mut direct: Vec<Direct> = Vec::new();
    let mut rest = Vec::new();
    for e in extents {
        match e.data {
            Data::Zero => {} // Reads as zeros from the reservation.
            Data::Compressed { .. } => rest.push((*e, e.virt, e.len)),
            Data::Host { file, offset } => {
                let aligned = e.virt % page == offset % page;
                let lo = e.virt.next_multiple_of(page);
                let hi = e.end() / page * page;
                if !aligned || hi <= lo {
                    rest.push((*e, e.virt, e.len));
                    continue;
                }
                if lo > e.virt {
                    rest.push((*e, e.virt, lo - e.virt));
                }
                if hi < e.end() {
                    rest.push((*e, hi, e.end() - hi));
                }
                let run = Direct {
                    virt: lo,
                    len: hi - lo,
                    file,
                    offset: offset + (lo - e.virt),
                };
                match direct.last_mut() {
                    Some(last)
                        if last.file == run.file
                            && last.virt + last.len == run.virt
                            && last.offset + last.len == run.offset =>
                    {
                        last.len += run.len;
                    }
                    _ => direct.push(run),
                }
            }
        }
    }
    (direct, rest)
}

/// Copies extent bytes (reading host files, decompressing units) to a sink.
struct Copier<'a> {
    files: &'a Files,
    progress: Option<ProgressFn<'a>>,
    /// Bytes done so far, shared by the worker threads.
    done: std::sync::atomic::AtomicU64,
    total: u64,
}

type Sink<'s> = dyn FnMut(u64, &[u8]) -> Result<()> + 's;

impl Copier<'_> {
    /// Write bytes `[start, start+n)` of the virtual disk, which lie inside
    /// extent `e`, to `sink` as `(virtual offset, bytes)`.
    fn copy(&self, e: &Extent, start: u64, n: u64, sink: &mut Sink<'_>) -> Result<()> {
        let delta = start - e.virt;
        match e.data {
            Data::Zero => {}
            Data::Host { file, offset } => {
                let host = self.files.get(file);
                let mut buf = vec![0u8; COPY_CHUNK.min(n) as usize];
                let mut done = 0u64;
                while done < n {
                    let step = COPY_CHUNK.min(n - done);
                    let chunk = &mut buf[..step as usize];
                    host.read_into(offset + delta + done, chunk, "container data")?;
                    sink(start + done, chunk)?;
                    done += step;
                    self.tick(step);
                }
            }
            Data::Compressed {
                file,
                offset,
                stored_len,
                unit_len,
                skip,
                codec,
            } => {
                let host = self.files.get(file);
                if stored_len > MAX_UNIT_BYTES || unit_len > MAX_UNIT_BYTES {
                    return Err(Error::corrupt(
                        offset,
                        format!(
                            "{}: compressed unit of {stored_len} bytes (expanding to {unit_len}) is larger than any container writes",
                            host.display()
                        ),
                    ));
                }
                let stored = host.read_vec(offset, stored_len, "compressed cluster")?;
                let unit = decompress(&stored, unit_len as usize, codec).map_err(|why| {
                    Error::corrupt(
                        offset,
                        format!(
                            "{}: compressed cluster at file offset {offset}: {why}",
                            host.display()
                        ),
                    )
                })?;
                let from = (skip + delta) as usize;
                let piece = unit.get(from..from + n as usize).ok_or_else(|| {
                    Error::corrupt(
                        offset,
                        format!(
                            "{}: compressed cluster is shorter than its extent",
                            host.display()
                        ),
                    )
                })?;
                sink(start, piece)?;
                self.tick(n);
            }
        }
        Ok(())
    }

    fn tick(&self, n: u64) {
        let done = self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if let Some(p) = self.progress {
            p(done, Some(self.total));
        }
    }
}

/// Decompress one unit into exactly `unit_len` bytes. Output beyond that is
/// not produced (a unit cannot expand past its cluster); a stream that ends
/// short is zero-padded only where the format allows it (qcow2's deflate:
/// qemu accepts a stream that fills the cluster, not one that ends early).
fn decompress(
    stored: &[u8],
    unit_len: usize,
    codec: Codec,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = vec![0u8; unit_len];
    let filled = match codec {
        Codec::Deflate => fill(&mut flate2::read::DeflateDecoder::new(stored), &mut out),
        Codec::Zlib => fill(&mut flate2::read::ZlibDecoder::new(stored), &mut out),
        Codec::Zstd => {
            let mut d =
                zstd::stream::read::Decoder::with_buffer(stored).map_err(|e| e.to_string())?;
            fill(&mut d, &mut out)
        }
    }
    .map_err(|e| format!("{codec:?} stream does not decode: {e}"))?;
    if filled != unit_len && codec != Codec::Zlib {
        return Err(format!(
            "{codec:?} stream holds {filled} bytes, the cluster has {unit_len}"
        ));
    }
    Ok(out)
}

fn fill(r: &mut dyn Read, out: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < out.len() {
        match r.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
