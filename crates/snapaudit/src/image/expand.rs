//! Compressed inputs: recognise them by magic and expand them once into an
//! unlinked sparse temporary file that the image is then mapped from.
//!
//! Runs of zero blocks become holes, so a 20 GiB snapshot that is mostly empty
//! costs only its data on the temporary filesystem. The temporary file lives
//! in `$TMPDIR` and disappears when the image is dropped (or the process
//! dies): it is unlinked right after creation.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{ProgressFn, tarball};
use crate::{Error, Result};

/// How an input image was packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    /// An uncompressed tar archive holding one raw image.
    Tar,
    TarGzip,
    TarZstd,
    TarXz,
}

impl Compression {
    /// The report's `image.format`.
    pub fn format_name(self) -> &'static str {
        match self {
            Compression::None => "raw",
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
            Compression::Xz => "xz",
            Compression::Tar => "tar",
            Compression::TarGzip => "tar.gz",
            Compression::TarZstd => "tar.zst",
            Compression::TarXz => "tar.xz",
        }
    }

    fn with_tar(self) -> Self {
        match self {
            Compression::None => Compression::Tar,
            Compression::Gzip => Compression::TarGzip,
            Compression::Zstd => Compression::TarZstd,
            Compression::Xz => Compression::TarXz,
            other => other,
        }
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
/// POSIX ustar and GNU tar both put `ustar` at byte 257 of the first header.
const TAR_MAGIC_OFFSET: usize = 257;
const TAR_MAGIC: &[u8] = b"ustar";
const TAR_BLOCK: usize = 512;

/// Tar headers are read a block at a time: buffer the decoder's output.
const TAR_READ_BUFFER_BYTES: usize = 256 * 1024;

/// Expansion works in blocks of this size; an all-zero block becomes a hole.
const BLOCK_BYTES: usize = 64 * 1024;

fn stream_kind(head: &[u8]) -> Compression {
    if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else {
        Compression::None
    }
}

fn is_tar(head: &[u8]) -> bool {
    head.get(TAR_MAGIC_OFFSET..TAR_MAGIC_OFFSET + TAR_MAGIC.len()) == Some(TAR_MAGIC)
}

/// Decide from the first bytes how the input is packed. A raw disk never
/// starts with these magics (an MBR starts with boot code or zeros, a bare
/// filesystem with its boot block), so sniffing is safe.
pub(super) fn sniff(file: &File, path: &Path) -> Result<Compression> {
    let mut head = [0u8; TAR_BLOCK];
    let n = read_full(&mut &*file, &mut head).map_err(|e| Error::io(path, e))?;
    (&*file)
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let head = &head[..n];
    let kind = stream_kind(head);
    if kind == Compression::None {
        return Ok(if is_tar(head) {
            Compression::Tar
        } else {
            Compression::None
        });
    }
    // Peek inside the compressed stream to see whether it carries a tar.
    let mut inner = [0u8; TAR_BLOCK];
    let n = {
        let mut r = decoder(file, kind).map_err(|e| Error::io(path, e))?;
        read_full(&mut r, &mut inner).unwrap_or(0)
    };
    (&*file)
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    Ok(if is_tar(&inner[..n]) {
        kind.with_tar()
    } else {
        kind
    })
}

fn decoder<'a, R: Read + 'a>(input: R, kind: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Compression::Gzip | Compression::TarGzip => {
            Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(input)))
        }
        Compression::Zstd | Compression::TarZstd => {
            Box::new(zstd::stream::read::Decoder::new(input)?)
        }
        Compression::Xz | Compression::TarXz => Box::new(xz2::read::XzDecoder::new_multi_decoder(
            io::BufReader::new(input),
        )),
        Compression::None | Compression::Tar => Box::new(input),
    })
}

/// Counts consumed input bytes for the progress callback.
struct Counting<'p, R> {
    inner: R,
    consumed: u64,
    total: u64,
    progress: Option<ProgressFn<'p>>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        if let Some(p) = self.progress {
            p(self.consumed, Some(self.total));
        }
        Ok(n)
    }
}

/// Expand `file` into a sparse, unlinked temporary file; returns it and the
/// expanded size.
pub(super) fn expand(
    file: File,
    input_bytes: u64,
    kind: Compression,
    path: &Path,
    progress: Option<ProgressFn<'_>>,
) -> Result<(File, u64)> {
    let ctx = |e: io::Error| {
        Error::io(
            path,
            io::Error::new(
                e.kind(),
                format!("expanding {} input: {e}", kind.format_name()),
            ),
        )
    };
    let counted = Counting {
        inner: file,
        consumed: 0,
        total: input_bytes,
        progress,
    };
    let stream = decoder(counted, kind).map_err(ctx)?;
    let mut out = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let size = match kind {
        Compression::Tar | Compression::TarGzip | Compression::TarZstd | Compression::TarXz => {
            extract_single_tar_member(stream, &mut out, path)?
        }
        _ => copy_sparse(stream, &mut out).map_err(ctx)?,
    };
    // A tar reader stops at the end-of-archive blocks without reading the
    // padding after them; the input is nonetheless fully handled now.
    if let Some(p) = progress {
        p(input_bytes, Some(input_bytes));
    }
    Ok((out, size))
}

/// Copy `input` to `out`, seeking over all-zero blocks so they become holes.
fn copy_sparse(mut input: impl Read, out: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; BLOCK_BYTES];
    let mut total: u64 = 0;
    loop {
        let n = read_full(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        let block = &buf[..n];
        if block.iter().all(|&b| b == 0) {
            out.seek(SeekFrom::Current(n as i64))?;
        } else {
            out.write_all(block)?;
        }
        total += n as u64;
        if n < buf.len() {
            break;
        }
    }
    // A trailing hole must still count towards the size.
    out.set_len(total)?;
    Ok(total)
}

/// A tar export holds exactly one disk image (see [`tarball`]); sparse
/// members keep their holes.
fn extract_single_tar_member(stream: impl Read, out: &mut File, path: &Path) -> Result<u64> {
    let mut input = io::BufReader::with_capacity(TAR_READ_BUFFER_BYTES, stream);
    let member = tarball::extract_single(&mut input, out, path)?;
    Ok(member.size_bytes)
}

/// Fill `buf` as far as the reader allows; returns the number of bytes read
/// (less than `buf.len()` only at end of input).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
