//! VMDK (VMware Virtual Disk Format 1.1; qemu's `block/vmdk.c` as the
//! behavioural reference).
//!
//! Read: hosted sparse extents (monolithicSparse, the extent files of
//! twoGbMaxExtentSparse), streamOptimized streams (compressed grains with
//! markers, the grain directory found from the footer), and text
//! descriptors (monolithicFlat, twoGbMaxExtentFlat, twoGbMaxExtentSparse,
//! and descriptors of monolithicSparse/streamOptimized files) whose FLAT,
//! SPARSE and ZERO extents are joined in order. `parentFileNameHint` is the
//! layer's backing file: a child disk's unallocated grains read from it.
//!
//! Refused with an `Unsupported` error that names them: the ESX types
//! (vmfs*, raw device mappings, seSparse, ...), NOACCESS extents, and
//! compression other than deflate. The redundant grain directory is not
//! read: qemu reads the primary one only, and so does this reader.

mod descriptor;
mod sparse;

use std::collections::HashMap;
use std::path::PathBuf;

use super::check_disjoint_host;
use super::{BackingRef, Data, Extent, FileId, Files, Format, Layer, push_merged};
use crate::{Error, Result};
use descriptor::{Descriptor, Mode};
use sparse::{MAX_DESCRIPTOR_BYTES, SECTOR_BYTES};

/// The createTypes whose extents this reader joins.
const SUPPORTED_CREATE_TYPES: &[&str] = &[
    "monolithicSparse",
    "monolithicFlat",
    "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat",
    "streamOptimized",
];

pub(crate) fn parse(files: &mut Files, id: FileId) -> Result<Layer> {
    let f = files.get(id);
    let head = f.read_vec(0, 4.min(f.size()), "VMDK magic")?;
    if head == sparse::MAGIC {
        sparse_file(files, id)
    } else {
        descriptor_file(files, id)
    }
}

/// A monolithicSparse or streamOptimized file: one sparse extent, with its
/// descriptor embedded.
fn sparse_file(files: &Files, id: FileId) -> Result<Layer> {
    let f = files.get(id);
    let header = sparse::open(f)?;
    let text = sparse::embedded_descriptor(f, &header)?;
    let mut extents = Vec::new();
    sparse::map_grains(f, id, &header, 0, &mut extents)?;
    check_disjoint_host(files, &extents, "VMDK grain")?;
    let backing = text
        .as_deref()
        .and_then(|t| descriptor::value(t, "parentFileNameHint"))
        .map(backing_ref);
    Ok(Layer {
        format: if header.compressed() {
            Format::VmdkStream
        } else {
            Format::VmdkSparse
        },
        virtual_size: header.capacity_bytes(),
        extents,
        backing,
        snapshots: Vec::new(),
    })
}

/// VMDK names the parent's format only implicitly: it is a VMDK, detected
/// by its magic like the child.
fn backing_ref(name: String) -> BackingRef {
    BackingRef { name, format: None }
}

/// A text descriptor: its extents, in order, make the disk.
fn descriptor_file(files: &mut Files, id: FileId) -> Result<Layer> {
    let f = files.get(id);
    let name = f.display();
    if f.size() > MAX_DESCRIPTOR_BYTES {
        return Err(Error::corrupt(
            0,
            format!(
                "{name}: a {}-byte file that starts like a VMDK descriptor; descriptors are at most {MAX_DESCRIPTOR_BYTES} bytes",
                f.size()
            ),
        ));
    }
    let raw = f.read_vec(0, f.size(), "VMDK descriptor")?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..end]);
    let desc = Descriptor::parse(&text, &name, 0)?;
    match desc.create_type.as_deref() {
        None => {
            return Err(Error::corrupt(
                0,
                format!("{name}: VMDK descriptor has no createType"),
            ));
        }
        Some(t) if !SUPPORTED_CREATE_TYPES.contains(&t) => {
            return Err(Error::unsupported(format!(
                "{name}: VMDK createType {t:?} (snapaudit reads {}; convert it with `qemu-img convert -O raw`)",
                SUPPORTED_CREATE_TYPES.join(", ")
            )));
        }
        Some(_) => {}
    }
    if desc.extents.is_empty() {
        return Err(Error::corrupt(
            0,
            format!("{name}: VMDK descriptor lists no extents"),
        ));
    }
    let mut join = Join {
        files,
        holder: id,
        name,
        opened: HashMap::new(),
        extents: Vec::new(),
        virt: 0,
    };
    for line in &desc.extents {
        join.extent(line)?;
    }
    let Join { extents, virt, .. } = join;
    check_disjoint_host(files, &extents, "VMDK grain or flat extent")?;
    Ok(Layer {
        format: Format::VmdkDescriptor,
        virtual_size: virt,
        extents,
        backing: desc.parent_file_name_hint.map(backing_ref),
        snapshots: Vec::new(),
    })
}

/// The extents of a descriptor, joined one after the other.
struct Join<'a> {
    files: &'a mut Files,
    holder: FileId,
    name: String,
    /// Each extent file is opened once, so that two extent lines naming the
    /// same file share its id and cannot map the same bytes twice unseen.
    opened: HashMap<PathBuf, FileId>,
    extents: Vec<Extent>,
    /// The virtual offset of the next extent.
    virt: u64,
}

impl Join<'_> {
    fn extent(&mut self, line: &descriptor::ExtentLine) -> Result<()> {
        let name = self.name.clone();
        let bad = |why: String| {
            Error::corrupt(
                line.at,
                format!("{name}: VMDK descriptor line {}: {why}", line.line),
            )
        };
        if line.access == Mode::NoAccess {
            return Err(Error::unsupported(format!(
                "{name}: VMDK descriptor line {}: a NOACCESS extent (its data cannot be read)",
                line.line
            )));
        }
        let len = line
            .sectors
            .checked_mul(SECTOR_BYTES)
            .ok_or_else(|| bad(format!("extent of {} sectors", line.sectors)))?;
        let virt = self.virt;
        let end = virt
            .checked_add(len)
            .ok_or_else(|| bad("the extents add up to more than 2^64 bytes".to_string()))?;
        match (line.kind.as_str(), line.file.as_deref()) {
            ("ZERO", _) => push_merged(
                &mut self.extents,
                Extent {
                    virt,
                    len,
                    data: Data::Zero,
                },
            ),
            ("FLAT", Some(file_name)) => {
                let file = self.open(file_name, line)?;
                // A flat extent file is a raw disk: its holes are the disk's.
                self.files.set_passthrough(file);
                let host = self.files.get(file);
                let offset = line
                    .offset_sectors
                    .checked_mul(SECTOR_BYTES)
                    .filter(|&o| host.contains(o, len))
                    .ok_or_else(|| {
                        bad(format!(
                            "FLAT extent of {len} bytes at sector {} runs past the end of {} ({} bytes)",
                            line.offset_sectors,
                            host.display(),
                            host.size()
                        ))
                    })?;
                push_merged(
                    &mut self.extents,
                    Extent {
                        virt,
                        len,
                        data: Data::Host { file, offset },
                    },
                );
            }
            ("SPARSE", Some(file_name)) => {
                if line.offset_sectors != 0 {
                    return Err(bad("a SPARSE extent takes no offset".to_string()));
                }
                let file = self.open(file_name, line)?;
                let host = self.files.get(file);
                let header = sparse::open(host)?;
                if header.capacity_bytes() != len {
                    return Err(bad(format!(
                        "SPARSE extent of {len} bytes, but {} holds {}",
                        host.display(),
                        header.capacity_bytes()
                    )));
                }
                sparse::map_grains(host, file, &header, virt, &mut self.extents)?;
            }
            ("FLAT" | "SPARSE", None) => {
                return Err(bad(format!("{} extent without a file name", line.kind)));
            }
            (other, _) => {
                return Err(Error::unsupported(format!(
                    "{name}: VMDK descriptor line {}: {other} extents (snapaudit reads FLAT, SPARSE and ZERO)",
                    line.line
                )));
            }
        }
        self.virt = end;
        Ok(())
    }

    /// The extent file `file_name`, relative to the descriptor's directory.
    fn open(&mut self, file_name: &str, line: &descriptor::ExtentLine) -> Result<FileId> {
        let path = self.files.resolve_name(self.holder, file_name);
        if let Some(&id) = self.opened.get(&path) {
            return Ok(id);
        }
        let id = self.files.open_relative(self.holder, file_name).map_err(|e| {
            let why = match e {
                Error::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            Error::invalid(format!(
                "{}: VMDK descriptor line {}: extent file {file_name:?} cannot be opened (looked for {}): {why}",
                self.name,
                line.line,
                path.display()
            ))
        })?;
        self.opened.insert(path, id);
        Ok(id)
    }
}
