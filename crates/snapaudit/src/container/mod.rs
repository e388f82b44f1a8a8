//! The virtual disk inside an image file: raw, qcow2, VHD, VHDX, VMDK, VDI.
//!
//! A container is parsed into a [`Layer`]: its virtual size and a list of
//! [`Extent`]s saying where each allocated byte range of the virtual disk
//! lives: in a host file (possibly another file of the chain, such as a
//! qcow2 backing file or a VMDK extent file), in a compressed unit of a host
//! file, or nowhere because it reads as zeros. Ranges a layer does not list
//! are *unallocated*: they read from the layer's backing file, or as zeros
//! when there is none.
//!
//! The layer map is all that the rest of the crate needs: [`resolve`] joins
//! a backing chain into one map, and `image::stitch` turns the map into the
//! one contiguous, read-only view of the virtual disk that partitions,
//! filesystems and the scanner read (mapping host clusters in place where
//! they are page-aligned, so uncompressed containers cost no copy).
//!
//! Formats are detected by their magic bytes, never by file name
//! ([`detect`]). A container format snapaudit does not read is an
//! `Unsupported` error that names it; it is never read as raw.
//!
//! Memory: a layer's extent list is bounded by the size of its host files
//! (every listed extent is backed by at least one allocation unit of a
//! table that lives in the file), never by the virtual size it claims.
//! Error offsets in this module are byte offsets in the container file
//! named in the message, not in the virtual disk.

pub(crate) mod chain;
mod files;
mod overlap;
pub(crate) use overlap::{check_disjoint, check_disjoint_host};
pub(crate) mod qcow2;
pub(crate) mod vdi;
pub(crate) mod vhd;
pub(crate) mod vhdx;
pub(crate) mod vmdk;
pub mod write;

pub use chain::{ChainOptions, resolve};
pub(crate) use files::data_segments;
pub use files::{FileId, Files, HostFile};

use crate::{Error, Result};

/// The container formats snapaudit reads, as the report's `image.format`
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    Raw,
    Qcow2,
    VhdFixed,
    VhdDynamic,
    VhdDifferencing,
    Vhdx,
    VmdkSparse,
    VmdkStream,
    /// A text descriptor naming extent files (monolithicFlat,
    /// twoGbMaxExtentSparse/Flat, ...).
    VmdkDescriptor,
    VdiStatic,
    VdiDynamic,
}

impl Format {
    /// The report's `image.format` value.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::VhdFixed => "vhd-fixed",
            Format::VhdDynamic => "vhd-dynamic",
            Format::VhdDifferencing => "vhd-differencing",
            Format::Vhdx => "vhdx",
            Format::VmdkSparse => "vmdk-sparse",
            Format::VmdkStream => "vmdk-stream",
            Format::VmdkDescriptor => "vmdk-descriptor",
            Format::VdiStatic => "vdi-static",
            Format::VdiDynamic => "vdi-dynamic",
        }
    }
}

/// How a compressed unit is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Raw deflate (RFC 1951), qcow2's default.
    Deflate,
    /// zlib (RFC 1950) around deflate: VMDK streamOptimized grains.
    Zlib,
    /// Zstandard frames: qcow2 `compression_type=zstd`.
    Zstd,
}

/// Where the bytes of one extent of the virtual disk come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Reads as zeros (a zero cluster, a preallocated-zero cluster, a
    /// sparse hole the format records as such).
    Zero,
    /// The extent's bytes stand contiguous in `file` from `offset`.
    Host { file: FileId, offset: u64 },
    /// One compressed unit of `stored_len` bytes (at most) at `offset` in
    /// `file`, which decompresses to `unit_len` bytes; the extent is the
    /// `len` bytes from `skip` within them (a whole unit unless a layer
    /// above covers part of it).
    Compressed {
        file: FileId,
        offset: u64,
        stored_len: u64,
        unit_len: u64,
        skip: u64,
        codec: Codec,
    },
}

/// A byte range of the virtual disk and where its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub virt: u64,
    pub len: u64,
    pub data: Data,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.virt + self.len
    }
}

/// A reference from a layer to the image below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingRef {
    /// The name as stored in the container (qemu resolves a relative name
    /// against the directory of the file that holds it).
    pub name: String,
    /// The format the container records for it, when it records one.
    pub format: Option<String>,
}

/// One container file, parsed.
#[derive(Debug, Clone)]
pub struct Layer {
    pub format: Format,
    pub virtual_size: u64,
    /// Allocated ranges, ascending and non-overlapping.
    pub extents: Vec<Extent>,
    pub backing: Option<BackingRef>,
    /// Internal snapshots (qcow2), by name; the active state is read.
    pub snapshots: Vec<String>,
}

impl Layer {
    /// A raw file: one host extent over the whole file.
    pub fn raw(file: FileId, size: u64) -> Layer {
        let extents = if size == 0 {
            Vec::new()
        } else {
            vec![Extent {
                virt: 0,
                len: size,
                data: Data::Host { file, offset: 0 },
            }]
        };
        Layer {
            format: Format::Raw,
            virtual_size: size,
            extents,
            backing: None,
            snapshots: Vec::new(),
        }
    }

    /// Check the invariants every reader promises (ascending, disjoint,
    /// non-empty, inside the virtual size), so that a reader bug becomes an
    /// error rather than a misread.
    pub(crate) fn validate(&self, name: &str) -> Result<()> {
        let mut end = 0u64;
        for e in &self.extents {
            let e_end = e.virt.checked_add(e.len);
            if e.len == 0 || e.virt < end || e_end.is_none_or(|x| x > self.virtual_size) {
                return Err(Error::corrupt(
                    0,
                    format!(
                        "{name}: extent of {} bytes at virtual offset {} overlaps another or lies outside the {}-byte disk",
                        e.len, e.virt, self.virtual_size
                    ),
                ));
            }
            end = e.virt + e.len;
        }
        Ok(())
    }
}

/// Pushes `extent` onto `out`, merging it into the previous one when they
/// continue each other (same file, contiguous in both spaces): most images
/// written by `qemu-img convert` collapse into a handful of runs.
pub(crate) fn push_merged(out: &mut Vec<Extent>, extent: Extent) {
    if extent.len == 0 {
        return;
    }
    if let Some(last) = out.last_mut()
        && last.end() == extent.virt
    {
        match (&mut last.data, extent.data) {
            (Data::Zero, Data::Zero) => {
                last.len += extent.len;
                return;
            }
            (
                Data::Host { file, offset },
                Data::Host {
                    file: f2,
                    offset: o2,
                },
            ) if *file == f2 && offset.checked_add(last.len) == Some(o2) => {
                last.len += extent.len;
                return;
            }
            _ => {}
        }
    }
    out.push(extent);
}

/// What the first bytes (and, for VHD, the last sector) of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// A container we read.
    Known(Format),
    /// No container magic: a raw disk.
    Raw,
}

const QCOW2_MAGIC: &[u8] = b"QFI\xfb";
const VHDX_MAGIC: &[u8] = b"vhdxfile";
const VHD_COOKIE: &[u8] = b"conectix";
/// VMDK hosted sparse extent: "KDMV" as a little-endian u32.
const VMDK_SPARSE_MAGIC: &[u8] = b"KDMV";
const VMDK_DESCRIPTOR_MAGIC: &[u8] = b"# Disk DescriptorFile";
/// VDI's signature at byte 0x40, little-endian 0xbeda107f.
const VDI_SIGNATURE_OFFSET: usize = 0x40;
const VDI_SIGNATURE: &[u8] = &[0x7f, 0x10, 0xda, 0xbe];

/// Containers we recognise but do not read: (magic at byte 0, name).
const UNSUPPORTED_MAGICS: &[(&[u8], &str)] = &[
    (b"QED\0", "QED"),
    (b"WithoutFreeSpace", "Parallels"),
    (b"WithouFreSpacExt", "Parallels (expanded)"),
    (b"COWD", "VMware ESX COW (COWD)"),
    (b"OOOM", "QEMU cow (v1)"),
    (b"\xEB\x3C\x90\x45\x58\x46\x41\x54", "exFAT"),
    (b"CD001", "ISO 9660"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
];

/// The head of a file that [`detect`] needs.
pub const DETECT_HEAD_BYTES: usize = 512;

/// Decide what `head` (the first bytes) and `tail` (the last 512 bytes) of
/// a file hold. A raw disk's first sector is an MBR (boot code or zeros) or
/// a filesystem's boot block, never one of these magics.
pub fn detect(head: &[u8], tail: Option<&[u8]>, name: &str) -> Result<Detected> {
    if head.starts_with(QCOW2_MAGIC) {
        return Ok(Detected::Known(Format::Qcow2));
    }
    if head.starts_with(VHDX_MAGIC) {
        return Ok(Detected::Known(Format::Vhdx));
    }
    if head.starts_with(VMDK_SPARSE_MAGIC) {
        return Ok(Detected::Known(Format::VmdkSparse));
    }
    if head.starts_with(VMDK_DESCRIPTOR_MAGIC) {
        return Ok(Detected::Known(Format::VmdkDescriptor));
    }
    if head.get(VDI_SIGNATURE_OFFSET..VDI_SIGNATURE_OFFSET + 4) == Some(VDI_SIGNATURE)
        && head.starts_with(b"<<< ")
    {
        return Ok(Detected::Known(Format::VdiDynamic));
    }
    // A dynamic VHD carries a copy of its footer at byte 0; a fixed one has
    // it only in the last sector. The reader tells the types apart.
    if head.starts_with(VHD_COOKIE) || tail.is_some_and(|t| t.starts_with(VHD_COOKIE)) {
        return Ok(Detected::Known(Format::VhdFixed));
    }
    for (magic, what) in UNSUPPORTED_MAGICS {
        if head.starts_with(magic) {
            return Err(Error::unsupported(format!(
                "{name}: a {what} image; snapaudit reads raw, qcow2, VHD, VHDX, VMDK and VDI (convert it with `qemu-img convert -O raw`)"
            )));
        }
    }
    // Apple DMG: the "koly" trailer in the last 512 bytes.
    if tail.is_some_and(|t| t.starts_with(b"koly")) {
        return Err(Error::unsupported(format!(
            "{name}: an Apple disk image (DMG); snapaudit reads raw, qcow2, VHD, VHDX, VMDK and VDI"
        )));
    }
    Ok(Detected::Raw)
}

/// Parse the container in `file` of `files`, of the detected `format`.
pub(crate) fn parse(files: &mut Files, file: FileId, format: Format) -> Result<Layer> {
    let layer = match format {
        Format::Raw => {
            files.set_passthrough(file);
            Layer::raw(file, files.get(file).size())
        }
        Format::Qcow2 => qcow2::parse(files, file)?,
        // The footer says which kind of VHD it is; the layer's format tells.
        Format::VhdFixed | Format::VhdDynamic | Format::VhdDifferencing => vhd::parse(files, file)?,
        Format::Vhdx => vhdx::parse(files, file)?,
        Format::VmdkSparse | Format::VmdkStream | Format::VmdkDescriptor => {
            vmdk::parse(files, file)?
        }
        Format::VdiStatic | Format::VdiDynamic => vdi::parse(files, file)?,
    };
    layer.validate(&files.get(file).display())?;
    Ok(layer)
}

#[cfg(test)]
mod tests;
