//! qcow2, versions 2 and 3 (QEMU's `docs/interop/qcow2.txt`).
//!
//! Read: the header and its extensions, the active L1 table and its L2
//! tables (standard and extended, with subclusters), zero clusters (plain
//! and preallocated), compressed clusters (deflate and zstd), the backing
//! file name and format, and the internal snapshot names. Refused with an
//! `Unsupported` error that names them: encryption (AES, LUKS), an external
//! data file, and incompatible feature bits this reader does not know.
//!
//! All fields are big-endian.

use super::{
    BackingRef, Codec, Data, Extent, FileId, Files, Format, Layer, check_disjoint, push_merged,
};
use crate::{Error, Result};

/// Header fields (qcow2.txt "Header").
const H_VERSION: usize = 4;
const H_BACKING_FILE_OFFSET: usize = 8;
const H_BACKING_FILE_SIZE: usize = 16;
const H_CLUSTER_BITS: usize = 20;
const H_SIZE: usize = 24;
const H_CRYPT_METHOD: usize = 32;
const H_L1_SIZE: usize = 36;
const H_L1_TABLE_OFFSET: usize = 40;
const H_NB_SNAPSHOTS: usize = 60;
const H_SNAPSHOTS_OFFSET: usize = 64;
const H_INCOMPATIBLE_FEATURES: usize = 72;
const H_HEADER_LENGTH: usize = 100;
const H_COMPRESSION_TYPE: usize = 104;
/// A version 2 header ends here; version 3 records its own length.
const V2_HEADER_BYTES: u64 = 72;
const V3_MIN_HEADER_BYTES: u64 = 104;

const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 =
    INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

/// Header extension types.
const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_CRYPTO_HEADER: u32 = 0x0537_be77;
const EXT_DATA_FILE: u32 = 0x4441_5441;
/// No real header has more extensions than this.
const MAX_EXTENSIONS: usize = 64;

/// qemu's limits: clusters of 512 bytes to 2 MiB.
const MIN_CLUSTER_BITS: u32 = 9;
const MAX_CLUSTER_BITS: u32 = 21;
/// qemu refuses backing names longer than this.
const MAX_BACKING_NAME: u32 = 1023;
/// Names of more snapshots than this are not listed.
const MAX_LISTED_SNAPSHOTS: u32 = 1024;

/// L1 entry: offset of the L2 table, bits 9–55.
const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// L2 entry flags.
const L2E_COMPRESSED: u64 = 1 << 62;
const L2E_ZERO: u64 = 1;
const L2E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Bits 56–61 of a standard descriptor are reserved.
const L2E_STD_RESERVED: u64 = 0x3f00_0000_0000_01fe;
const SUBCLUSTERS: u64 = 32;

/// The parsed header, as far as reading needs it.
#[derive(Debug, Clone)]
struct Header {
    version: u32,
    cluster_bits: u32,
    size: u64,
    l1_size: u32,
    l1_table_offset: u64,
    extended_l2: bool,
    codec: Codec,
    backing: Option<BackingRef>,
    nb_snapshots: u32,
    snapshots_offset: u64,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

pub(crate) fn parse(files: &mut Files, id: FileId) -> Result<Layer> {
    let header = read_header(files, id)?;
    let f = files.get(id);
    let name = f.display();
    let cluster = 1u64 << header.cluster_bits;
    let entry_bytes: u64 = if header.extended_l2 { 16 } else { 8 };
    let l2_entries = cluster / entry_bytes;
    // The disk needs this many L1 entries; a smaller table would leave part
    // of the disk unmapped, a larger one is allowed (qemu rounds up).
    let bytes_per_l1 = cluster * l2_entries;
    let needed = header.size.div_ceil(bytes_per_l1);
    if u64::from(header.l1_size) < needed {
        return Err(Error::corrupt(
            H_L1_SIZE as u64,
            format!(
                "{name}: qcow2 L1 table has {} entries, the {}-byte disk needs {needed}",
                header.l1_size, header.size
            ),
        ));
    }
    let l1 = f.read_vec(header.l1_table_offset, needed * 8, "qcow2 L1 table")?;
    let mut extents = Vec::new();
    let mut l2 = vec![0u8; cluster as usize];
    let subcluster = cluster / SUBCLUSTERS;
    for (i, raw) in l1.chunks_exact(8).enumerate() {
        let l1e = u64::from_be_bytes(raw.try_into().unwrap_or([0; 8]));
        let l2_offset = l1e & L1E_OFFSET_MASK;
        if l2_offset == 0 {
            continue; // Unallocated: backing file or zeros.
        }
        let l1e_at = header.l1_table_offset + i as u64 * 8;
        if !l2_offset.is_multiple_of(cluster) {
            return Err(Error::corrupt(
                l1e_at,
                format!("{name}: qcow2 L1 entry {i} points at {l2_offset}, not cluster-aligned"),
            ));
        }
        f.read_into(l2_offset, &mut l2, "qcow2 L2 table")?;
        let table_virt = i as u64 * bytes_per_l1;
        for j in 0..l2_entries {
            let virt = table_virt + j * cluster;
            if virt >= header.size {
                break;
            }
            let len = cluster.min(header.size - virt);
            let at = (j * entry_bytes) as usize;
            let l2e = be64(&l2, at);
            let entry_at = l2_offset + at as u64;
            let ctx = EntryCtx {
                name: &name,
                entry_at,
                file: id,
                file_size: f.size(),
                cluster,
                cluster_bits: header.cluster_bits,
                codec: header.codec,
            };
            if l2e & L2E_COMPRESSED != 0 {
                // A compressed cluster is whole in both entry formats (the
                // bitmap of an extended entry is reserved for it).
                let data = ctx.compressed(l2e)?;
                push_merged(&mut extents, Extent { virt, len, data });
            } else if header.extended_l2 {
                let bitmap = be64(&l2, at + 8);
                extended_entry(&ctx, l2e, bitmap, virt, len, subcluster, &mut extents)?;
            } else {
                standard_entry(&ctx, l2e, virt, len, header.version, &mut extents)?;
            }
        }
    }
    check_no_overlap(&extents, &name)?;
    let snapshots = snapshot_names(f, &header)?;
    Ok(Layer {
        format: Format::Qcow2,
        virtual_size: header.size,
        extents,
        backing: header.backing,
        snapshots,
    })
}

struct EntryCtx<'a> {
    name: &'a str,
    entry_at: u64,
    file: FileId,
    file_size: u64,
    cluster: u64,
    cluster_bits: u32,
    codec: Codec,
}

impl EntryCtx<'_> {
    fn aligned(&self, offset: u64) -> Result<()> {
        if !offset.is_multiple_of(self.cluster) {
            return Err(Error::corrupt(
                self.entry_at,
                format!(
                    "{}: qcow2 L2 entry points at {offset}, not cluster-aligned",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    /// An uncompressed L2 entry with none of the `reserved` bits set.
    fn no_reserved_bits(&self, l2e: u64, reserved: u64) -> Result<()> {
        if l2e & reserved != 0 {
            return Err(Error::corrupt(
                self.entry_at,
                format!(
                    "{}: qcow2 L2 entry {l2e:#x} has reserved bits set",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    /// Data must start inside the file (`what` says whose data, for the
    /// error).
    fn starts_inside(&self, offset: u64, what: &str) -> Result<()> {
        if offset >= self.file_size {
            return Err(Error::corrupt(
                self.entry_at,
                format!(
                    "{}: qcow2 {what} {offset}, past the end of the {}-byte file",
                    self.name, self.file_size
                ),
            ));
        }
        Ok(())
    }

    /// `len` bytes of host data at `offset`, mapping `virt`. Data must
    /// start inside the file; a tail past its end reads as zeros, as qemu
    /// reads it (the last cluster of a file is often not written whole).
    fn push_host(&self, virt: u64, len: u64, offset: u64, out: &mut Vec<Extent>) -> Result<()> {
        self.starts_inside(offset, "L2 entry points at")?;
        let inside = len.min(self.file_size - offset);
        push_merged(
            out,
            Extent {
                virt,
                len: inside,
                data: Data::Host {
                    file: self.file,
                    offset,
                },
            },
        );
        push_merged(
            out,
            Extent {
                virt: virt + inside,
                len: len - inside,
                data: Data::Zero,
            },
        );
        Ok(())
    }

    /// A compressed cluster descriptor (qcow2.txt "Compressed Clusters
    /// Descriptor"): the host offset in the low `x` bits, the number of
    /// additional 512-byte sectors above them.
    fn compressed(&self, l2e: u64) -> Result<Data> {
        let x = 62 - (self.cluster_bits - 8);
        let offset = l2e & ((1u64 << x) - 1);
        let extra_sectors = (l2e & !L2E_COMPRESSED & !(1u64 << 63)) >> x;
        let stored_len = (extra_sectors + 1) * 512 - (offset & 511);
        // The last sector may run past the end of the file: qemu does not
        // pad the final compressed cluster.
        self.starts_inside(offset, "compressed cluster at")?;
        let stored_len = stored_len.min(self.file_size - offset);
        Ok(Data::Compressed {
            file: self.file,
            offset,
            stored_len,
            unit_len: self.cluster,
            skip: 0,
            codec: self.codec,
        })
    }
}

fn standard_entry(
    ctx: &EntryCtx<'_>,
    l2e: u64,
    virt: u64,
    len: u64,
    version: u32,
    out: &mut Vec<Extent>,
) -> Result<()> {
    ctx.no_reserved_bits(l2e, L2E_STD_RESERVED)?;
    let offset = l2e & L2E_OFFSET_MASK;
    if version >= 3 && l2e & L2E_ZERO != 0 {
        // A zero cluster, preallocated (with an offset) or not.
        push_merged(
            out,
            Extent {
                virt,
                len,
                data: Data::Zero,
            },
        );
        return Ok(());
    }
    if offset == 0 {
        return Ok(()); // Unallocated.
    }
    ctx.aligned(offset)?;
    ctx.push_host(virt, len, offset, out)
}

/// An extended L2 entry: the standard descriptor plus a 64-bit bitmap whose
/// low 32 bits say which subclusters are allocated and high 32 bits which
/// read as zeros.
fn extended_entry(
    ctx: &EntryCtx<'_>,
    l2e: u64,
    bitmap: u64,
    virt: u64,
    len: u64,
    subcluster: u64,
    out: &mut Vec<Extent>,
) -> Result<()> {
    // Bit 0 (the standard entry's zero flag) is unused: the bitmap says.
    ctx.no_reserved_bits(l2e, L2E_STD_RESERVED & !1)?;
    let alloc = bitmap as u32;
    let zero = (bitmap >> 32) as u32;
    if alloc & zero != 0 {
        return Err(Error::corrupt(
            ctx.entry_at + 8,
            format!(
                "{}: qcow2 subcluster bitmap {bitmap:#x} marks subclusters both allocated and zero",
                ctx.name
            ),
        ));
    }
    let offset = l2e & L2E_OFFSET_MASK;
    if offset == 0 && alloc != 0 {
        return Err(Error::corrupt(
            ctx.entry_at,
            format!(
                "{}: qcow2 L2 entry has allocated subclusters but no host cluster",
                ctx.name
            ),
        ));
    }
    if alloc != 0 {
        ctx.aligned(offset)?;
    }
    for sc in 0..SUBCLUSTERS {
        let sc_virt = virt + sc * subcluster;
        if sc_virt >= virt + len {
            break;
        }
        let sc_len = subcluster.min(virt + len - sc_virt);
        if alloc >> sc & 1 != 0 {
            ctx.push_host(sc_virt, sc_len, offset + sc * subcluster, out)?;
        } else if zero >> sc & 1 != 0 {
            push_merged(
                out,
                Extent {
                    virt: sc_virt,
                    len: sc_len,
                    data: Data::Zero,
                },
            );
        }
    }
    Ok(())
}

/// Two guest clusters sharing one host cluster do not happen in the active
/// L1 of a sound image (sharing comes only from internal snapshots, whose
/// tables are not read); a reader that followed them could be looping over
/// hostile tables or reading one file's data as another's.
fn check_no_overlap(extents: &[Extent], name: &str) -> Result<()> {
    // Only uncompressed clusters: compressed ones are byte-packed, and the
    // sector-rounded length qcow2 records for each may reach into the next.
    let mut claims: Vec<(u64, u64, u64)> = extents
        .iter()
        .filter_map(|e| match e.data {
            Data::Host { offset, .. } => Some((offset, offset + e.len, offset)),
            _ => None,
        })
        .collect();
    check_disjoint(&mut claims, name, "qcow2 data cluster")
}

fn read_header(files: &Files, id: FileId) -> Result<Header> {
    let f = files.get(id);
    let name = f.display();
    let head = f.read_vec(0, V2_HEADER_BYTES.min(f.size()), "qcow2 header")?;
    if head.len() < V2_HEADER_BYTES as usize {
        return Err(Error::corrupt(
            0,
            format!("{name}: qcow2 header is truncated ({} bytes)", head.len()),
        ));
    }
    let version = be32(&head, H_VERSION);
    if version != 2 && version != 3 {
        return Err(Error::unsupported(format!(
            "{name}: qcow2 version {version} (snapaudit reads versions 2 and 3)"
        )));
    }
    let cluster_bits = be32(&head, H_CLUSTER_BITS);
    if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
        return Err(Error::corrupt(
            H_CLUSTER_BITS as u64,
            format!(
                "{name}: qcow2 cluster_bits {cluster_bits} is outside {MIN_CLUSTER_BITS}..={MAX_CLUSTER_BITS}"
            ),
        ));
    }
    let crypt_method = be32(&head, H_CRYPT_METHOD);
    if crypt_method != 0 {
        let what = match crypt_method {
            1 => "AES",
            2 => "LUKS",
            _ => "unknown",
        };
        return Err(Error::unsupported(format!(
            "{name}: qcow2 image is encrypted ({what}); snapaudit does not decrypt images"
        )));
    }
    let (header_length, incompatible) = if version == 3 {
        let v3 = f.read_vec(0, V3_MIN_HEADER_BYTES, "qcow2 v3 header")?;
        let len = u64::from(be32(&v3, H_HEADER_LENGTH));
        if len < V3_MIN_HEADER_BYTES || len > f.size() || len > 1 << 20 {
            return Err(Error::corrupt(
                H_HEADER_LENGTH as u64,
                format!("{name}: qcow2 header_length {len} is impossible"),
            ));
        }
        (len, be64(&v3, H_INCOMPATIBLE_FEATURES))
    } else {
        (V2_HEADER_BYTES, 0)
    };
    let unknown = incompatible & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(Error::unsupported(format!(
            "{name}: qcow2 incompatible feature bits {unknown:#x} are not known to snapaudit"
        )));
    }
    if incompatible & INCOMPAT_DATA_FILE != 0 {
        return Err(Error::unsupported(format!(
            "{name}: qcow2 image keeps its data in an external data file; snapaudit does not read those"
        )));
    }
    let codec = if incompatible & INCOMPAT_COMPRESSION != 0 {
        let full = f.read_vec(0, header_length, "qcow2 header")?;
        match full.get(H_COMPRESSION_TYPE) {
            Some(0) => Codec::Deflate,
            Some(1) => Codec::Zstd,
            Some(t) => {
                return Err(Error::unsupported(format!(
                    "{name}: qcow2 compression type {t} is not known to snapaudit"
                )));
            }
            None => {
                return Err(Error::corrupt(
                    H_HEADER_LENGTH as u64,
                    format!(
                        "{name}: qcow2 compression type bit set but the header is too short for the field"
                    ),
                ));
            }
        }
    } else {
        Codec::Deflate
    };
    let backing_format = read_extensions(files, id, header_length)?;
    let backing_file_offset = be64(&head, H_BACKING_FILE_OFFSET);
    let backing_file_size = be32(&head, H_BACKING_FILE_SIZE);
    let backing = if backing_file_offset != 0 && backing_file_size != 0 {
        if backing_file_size > MAX_BACKING_NAME {
            return Err(Error::corrupt(
                H_BACKING_FILE_SIZE as u64,
                format!("{name}: qcow2 backing file name of {backing_file_size} bytes"),
            ));
        }
        let raw = f.read_vec(
            backing_file_offset,
            u64::from(backing_file_size),
            "qcow2 backing file name",
        )?;
        Some(BackingRef {
            name: String::from_utf8_lossy(&raw).into_owned(),
            format: backing_format,
        })
    } else {
        None
    };
    Ok(Header {
        version,
        cluster_bits,
        size: be64(&head, H_SIZE),
        l1_size: be32(&head, H_L1_SIZE),
        l1_table_offset: be64(&head, H_L1_TABLE_OFFSET),
        extended_l2: incompatible & INCOMPAT_EXTL2 != 0,
        codec,
        backing,
        nb_snapshots: be32(&head, H_NB_SNAPSHOTS),
        snapshots_offset: be64(&head, H_SNAPSHOTS_OFFSET),
    })
}

/// Walk the header extensions; returns the backing file format, refusing
/// encryption headers and external data files found there.
fn read_extensions(files: &Files, id: FileId, header_length: u64) -> Result<Option<String>> {
    let f = files.get(id);
    let name = f.display();
    let mut at = header_length;
    let mut backing_format = None;
    for _ in 0..MAX_EXTENSIONS {
        if !f.contains(at, 8) {
            // Version 2 images may end right after the header.
            return Ok(backing_format);
        }
        let h = f.read_vec(at, 8, "qcow2 header extension")?;
        let kind = be32(&h, 0);
        let len = u64::from(be32(&h, 4));
        match kind {
            EXT_END => return Ok(backing_format),
            EXT_BACKING_FORMAT => {
                let raw = f.read_vec(at + 8, len.min(64), "qcow2 backing format")?;
                backing_format = Some(
                    String::from_utf8_lossy(&raw)
                        .trim_end_matches('\0')
                        .to_string(),
                );
            }
            EXT_CRYPTO_HEADER => {
                return Err(Error::unsupported(format!(
                    "{name}: qcow2 image carries an encryption header; snapaudit does not decrypt images"
                )));
            }
            EXT_DATA_FILE => {
                return Err(Error::unsupported(format!(
                    "{name}: qcow2 image names an external data file; snapaudit does not read those"
                )));
            }
            _ => {}
        }
        at = at.checked_add(8 + len.next_multiple_of(8)).ok_or_else(|| {
            Error::corrupt(at, format!("{name}: qcow2 header extension length {len}"))
        })?;
    }
    Err(Error::corrupt(
        header_length,
        format!("{name}: more than {MAX_EXTENSIONS} qcow2 header extensions"),
    ))
}

/// The names of the internal snapshots (qcow2.txt "Snapshots"), for
/// `inspect`. The active L1 table is what is read, whatever they hold.
fn snapshot_names(f: &super::HostFile, header: &Header) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut at = header.snapshots_offset;
    for _ in 0..header.nb_snapshots.min(MAX_LISTED_SNAPSHOTS) {
        let fixed = f.read_vec(at, 40, "qcow2 snapshot header")?;
        let id_len = u64::from(u16::from_be_bytes([fixed[12], fixed[13]]));
        let name_len = u64::from(u16::from_be_bytes([fixed[14], fixed[15]]));
        let extra_len = u64::from(be32(&fixed, 36));
        let name_at = at + 40 + extra_len + id_len;
        let raw = f.read_vec(name_at, name_len, "qcow2 snapshot name")?;
        names.push(String::from_utf8_lossy(&raw).into_owned());
        at = (name_at + name_len).next_multiple_of(8);
    }
    Ok(names)
}
