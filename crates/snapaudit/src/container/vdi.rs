//! VirtualBox VDI, header version 1.1 (VirtualBox `VDICore.h`; qemu's
//! `block/vdi.c` as the behavioural reference).
//!
//! Read: dynamic (type 1) and static (type 2) images: the block map says,
//! for each block of the disk, which block of the file's data area holds
//! it. Refused with an `Unsupported` error: other header versions, undo and
//! differencing images (types 3 and 4, or a parent UUID: the parent is
//! found by UUID in VirtualBox's registry, not by a name in the file).
//!
//! All fields are little-endian.

use super::check_disjoint_host;
use super::{Data, Extent, FileId, Files, Format, Layer, push_merged};
use crate::util::{le_u32, le_u64};
use crate::{Error, Result};

/// VdiHeader (qemu `block/vdi.c`): text[0x40], signature u32 @0x40,
/// version u32 @0x44, header_size u32 @0x48, image_type u32 @0x4c,
/// image_flags u32 @0x50, description[256] @0x54, offset_bmap u32 @0x154,
/// offset_data u32 @0x158, cylinders, heads, sectors @0x15c..0x168,
/// sector_size u32 @0x168, unused u32, disk_size u64 @0x170, block_size u32
/// @0x178, block_extra u32 @0x17c, blocks_in_image u32 @0x180,
/// blocks_allocated u32 @0x184, uuid_image, uuid_last_snap, uuid_link,
/// uuid_parent (16 bytes each) @0x188..0x1c8.
const H_SIGNATURE: usize = 0x40;
const H_VERSION: usize = 0x44;
const H_IMAGE_TYPE: usize = 0x4c;
const H_OFFSET_BMAP: usize = 0x154;
const H_OFFSET_DATA: usize = 0x158;
const H_SECTOR_SIZE: usize = 0x168;
const H_DISK_SIZE: usize = 0x170;
const H_BLOCK_SIZE: usize = 0x178;
const H_BLOCK_EXTRA: usize = 0x17c;
const H_BLOCKS_IN_IMAGE: usize = 0x180;
const H_BLOCKS_ALLOCATED: usize = 0x184;
const H_UUID_LINK: usize = 0x1a8;
const H_UUID_PARENT: usize = 0x1b8;
const HEADER_BYTES: u64 = 0x1c8;

const SIGNATURE: u32 = 0xbeda_107f;
const VERSION_1_1: u32 = 0x0001_0001;
const TYPE_DYNAMIC: u32 = 1;
const TYPE_STATIC: u32 = 2;
const SECTOR_BYTES: u32 = 512;
/// Block map entries that name no block: never written (reads the parent,
/// or zeros), and discarded (reads zeros).
const BLOCK_FREE: u32 = 0xffff_ffff;
const BLOCK_ZERO: u32 = 0xffff_fffe;
/// VirtualBox writes 1 MiB blocks (qemu reads only those); any power of
/// two from a sector to this is accepted.
const MAX_BLOCK_BYTES: u32 = 256 << 20;

/// The header fields reading needs.
#[derive(Debug)]
struct Header {
    image_type: u32,
    offset_bmap: u64,
    offset_data: u64,
    disk_size: u64,
    block_size: u64,
    block_extra: u64,
    blocks_in_image: u64,
    blocks_allocated: u64,
}

pub(crate) fn parse(files: &mut Files, id: FileId) -> Result<Layer> {
    let f = files.get(id);
    let name = f.display();
    let header = read_header(f)?;
    let bmap_bytes = header.blocks_in_image * 4;
    if !f.contains(header.offset_bmap, bmap_bytes) {
        return Err(Error::corrupt(
            H_OFFSET_BMAP as u64,
            format!(
                "{name}: VDI block map of {} entries at file offset {} runs past the end of the {}-byte file",
                header.blocks_in_image,
                header.offset_bmap,
                f.size()
            ),
        ));
    }
    let bmap = f.read_vec(header.offset_bmap, bmap_bytes, "VDI block map")?;
    let stride = header.block_size + header.block_extra;
    let mut extents = Vec::new();
    for (i, raw) in bmap.chunks_exact(4).enumerate() {
        let i = i as u64;
        // i < blocks_in_image ≤ u32::MAX and block_size ≤ 256 MiB: no overflow.
        let virt = i * header.block_size;
        if virt >= header.disk_size {
            break;
        }
        let len = header.block_size.min(header.disk_size - virt);
        let entry = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let entry_at = header.offset_bmap + i * 4;
        let data = match entry {
            BLOCK_FREE => continue,
            BLOCK_ZERO => Data::Zero,
            index if u64::from(index) >= header.blocks_allocated => {
                return Err(Error::corrupt(
                    entry_at,
                    format!(
                        "{name}: VDI block map entry {i} names block {index}, but the image has {} blocks allocated",
                        header.blocks_allocated
                    ),
                ));
            }
            index => {
                let offset = header
                    .offset_data
                    .checked_add(u64::from(index) * stride + header.block_extra)
                    .filter(|&o| f.contains(o, len))
                    .ok_or_else(|| {
                        Error::corrupt(
                            entry_at,
                            format!(
                                "{name}: VDI block map entry {i} names block {index}, whose data lies past the end of the {}-byte file",
                                f.size()
                            ),
                        )
                    })?;
                Data::Host { file: id, offset }
            }
        };
        push_merged(&mut extents, Extent { virt, len, data });
    }
    check_disjoint_host(files, &extents, "VDI block")?;
    if header.image_type == TYPE_STATIC {
        // Every block is preallocated: the file's holes are the disk's
        // unwritten parts, as qemu reports them.
        files.set_passthrough(id);
    }
    Ok(Layer {
        format: if header.image_type == TYPE_STATIC {
            Format::VdiStatic
        } else {
            Format::VdiDynamic
        },
        virtual_size: header.disk_size,
        extents,
        backing: None,
        snapshots: Vec::new(),
    })
}

fn read_header(f: &super::HostFile) -> Result<Header> {
    let name = f.display();
    let h = f.read_vec(0, HEADER_BYTES, "VDI header")?;
    let u32_at = |at: usize| {
        le_u32(&h, at).ok_or_else(|| Error::corrupt(at as u64, format!("{name}: VDI header")))
    };
    let corrupt = |at: usize, why: String| Error::corrupt(at as u64, format!("{name}: VDI {why}"));
    if u32_at(H_SIGNATURE)? != SIGNATURE {
        return Err(corrupt(H_SIGNATURE, "signature is not 0xbeda107f".into()));
    }
    let version = u32_at(H_VERSION)?;
    if version != VERSION_1_1 {
        return Err(Error::unsupported(format!(
            "{name}: VDI header version {}.{} (snapaudit reads 1.1)",
            version >> 16,
            version & 0xffff
        )));
    }
    let image_type = u32_at(H_IMAGE_TYPE)?;
    if image_type != TYPE_DYNAMIC && image_type != TYPE_STATIC {
        let what = match image_type {
            3 => "an undo image",
            4 => "a differencing image",
            _ => "of an unknown type",
        };
        return Err(Error::unsupported(format!(
            "{name}: VDI image type {image_type} ({what}); snapaudit reads dynamic and static images"
        )));
    }
    let uuid_set = |at: usize| {
        h.get(at..at + 16)
            .is_some_and(|u| u.iter().any(|&b| b != 0))
    };
    if uuid_set(H_UUID_PARENT) || uuid_set(H_UUID_LINK) {
        return Err(Error::unsupported(format!(
            "{name}: VDI image has a parent (a differencing image, found by UUID in VirtualBox's registry); merge it with `VBoxManage clonemedium` first"
        )));
    }
    let sector_size = u32_at(H_SECTOR_SIZE)?;
    if sector_size != SECTOR_BYTES {
        return Err(Error::unsupported(format!(
            "{name}: VDI sector size {sector_size} (snapaudit reads {SECTOR_BYTES}-byte sectors)"
        )));
    }
    let block_size = u32_at(H_BLOCK_SIZE)?;
    if !block_size.is_power_of_two() || !(SECTOR_BYTES..=MAX_BLOCK_BYTES).contains(&block_size) {
        return Err(corrupt(
            H_BLOCK_SIZE,
            format!(
                "block size {block_size} is not a power of two from {SECTOR_BYTES} to {MAX_BLOCK_BYTES}"
            ),
        ));
    }
    let block_extra = u32_at(H_BLOCK_EXTRA)?;
    if block_extra > MAX_BLOCK_BYTES {
        return Err(corrupt(
            H_BLOCK_EXTRA,
            format!("block_extra of {block_extra} bytes"),
        ));
    }
    let disk_size = le_u64(&h, H_DISK_SIZE).ok_or_else(|| corrupt(H_DISK_SIZE, "header".into()))?;
    let blocks_in_image = u64::from(u32_at(H_BLOCKS_IN_IMAGE)?);
    let blocks_allocated = u64::from(u32_at(H_BLOCKS_ALLOCATED)?);
    let block_size = u64::from(block_size);
    if disk_size > blocks_in_image * block_size {
        return Err(corrupt(
            H_DISK_SIZE,
            format!(
                "disk size {disk_size} is more than its {blocks_in_image} blocks of {block_size} bytes hold"
            ),
        ));
    }
    if blocks_allocated > blocks_in_image {
        return Err(corrupt(
            H_BLOCKS_ALLOCATED,
            format!("{blocks_allocated} blocks allocated of {blocks_in_image} in the image"),
        ));
    }
    Ok(Header {
        image_type,
        offset_bmap: u64::from(u32_at(H_OFFSET_BMAP)?),
        offset_data: u64::from(u32_at(H_OFFSET_DATA)?),
        disk_size,
        block_size,
        block_extra: u64::from(block_extra),
        blocks_in_image,
        blocks_allocated,
    })
}
