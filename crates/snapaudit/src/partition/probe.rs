//! Filesystem probing by magic, like `blkid -p`: what a partition holds, its
//! UUID and label. Every probe is a pure function of the partition's bytes
//! and reads at most a few fixed offsets.

use serde::Serialize;

use crate::util::{cstr_lossy, le_u16, le_u32, slice, uuid_be};

/// What a probe recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    Ext2,
    Ext3,
    Ext4,
    /// An external ext3/ext4 journal device.
    Jbd,
    Xfs,
    Btrfs,
    Vfat,
    Swap,
    /// An LVM2 physical volume.
    #[serde(rename = "LVM2_member")]
    Lvm2,
    #[serde(rename = "crypto_LUKS")]
    Luks,
}

impl FsKind {
    /// The name blkid uses (`ext4`, `vfat`, `LVM2_member`, `crypto_LUKS`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Jbd => "jbd",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::Vfat => "vfat",
            FsKind::Swap => "swap",
            FsKind::Lvm2 => "LVM2_member",
            FsKind::Luks => "crypto_LUKS",
        }
    }

    /// ext2, ext3 or ext4: readable by snapaudit.
    pub fn is_ext(self) -> bool {
        matches!(self, FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4)
    }
}

/// The result of probing one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub kind: FsKind,
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// Filesystem block size where the format has one.
    pub block_bytes: Option<u32>,
    /// Version string (`FAT32`, `1` for swap, `2` for LUKS2, …).
    pub version: Option<String>,
}

impl Probe {
    fn new(kind: FsKind) -> Self {
        Probe {
            kind,
            uuid: None,
            label: None,
            block_bytes: None,
            version: None,
        }
    }
}

/// Probe `part` (a partition's bytes) for a known filesystem or volume
/// header. Order matters where signatures can coexist: LUKS and LVM headers
/// come first because a reformatted partition may keep an old ext
/// superblock further in.
pub fn probe(part: &[u8]) -> Option<Probe> {
    luks(part)
        .or_else(|| lvm2(part))
        .or_else(|| xfs(part))
        .or_else(|| ext(part))
        .or_else(|| btrfs(part))
        .or_else(|| vfat(part))
        .or_else(|| swap(part))
}

fn non_empty(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

fn uuid_at(b: &[u8], off: usize) -> Option<String> {
    let raw: [u8; 16] = slice(b, off, 16)?.try_into().ok()?;
    (raw != [0; 16]).then(|| uuid_be(&raw))
}

// ext2/3/4 superblock at byte 1024 (Documentation/filesystems/ext4/super.rst).
const EXT_SB: usize = 1024;
const EXT_MAGIC: u16 = 0xEF53;
const EXT3_FEATURE_COMPAT_HAS_JOURNAL: u32 = 0x4;
const EXT3_FEATURE_INCOMPAT_JOURNAL_DEV: u32 = 0x8;
// What ext2/ext3 drivers understand; anything more makes it ext4 (blkid's rule).
const EXT2_FEATURE_INCOMPAT_SUPP: u32 = 0x0002 | 0x0010; // filetype, meta_bg
const EXT3_FEATURE_INCOMPAT_SUPP: u32 = 0x0002 | 0x0004 | 0x0010; // + recover
const EXT2_FEATURE_RO_COMPAT_SUPP: u32 = 0x0001 | 0x0002 | 0x0004; // sparse_super, large_file, btree_dir

fn ext(b: &[u8]) -> Option<Probe> {
    let sb = slice(b, EXT_SB, 1024)?;
    if le_u16(sb, 0x38)? != EXT_MAGIC {
        return None;
    }
    let s_log_block_size = le_u32(sb, 0x18)?;
    let s_feature_compat = le_u32(sb, 0x5C)?;
    let s_feature_incompat = le_u32(sb, 0x60)?;
    let s_feature_ro_compat = le_u32(sb, 0x64)?;
    let kind = if s_feature_incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV != 0 {
        FsKind::Jbd
    } else if s_feature_incompat & !EXT3_FEATURE_INCOMPAT_SUPP != 0
        || s_feature_ro_compat & !EXT2_FEATURE_RO_COMPAT_SUPP != 0
    {
        FsKind::Ext4
    } else if s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL != 0 {
        FsKind::Ext3
    } else if s_feature_incompat & !EXT2_FEATURE_INCOMPAT_SUPP == 0 {
        FsKind::Ext2
    } else {
        FsKind::Ext4
    };
    let mut p = Probe::new(kind);
    p.uuid = uuid_at(sb, 0x68);
    p.label = non_empty(cstr_lossy(slice(sb, 0x78, 16)?));
    p.block_bytes = 1024u32
        .checked_shl(s_log_block_size)
        .filter(|&s| s <= 65536);
    p.version = Some(format!("1.{}", le_u16(sb, 0x3E)?)); // s_minor_rev_level
    Some(p)
}

// XFS superblock (xfs_sb): magic "XFSB", uuid at 32, fname[12] at 108.
fn xfs(b: &[u8]) -> Option<Probe> {
    if slice(b, 0, 4)? != b"XFSB" {
        return None;
    }
    let mut p = Probe::new(FsKind::Xfs);
    p.uuid = uuid_at(b, 32);
    p.label = non_empty(cstr_lossy(slice(b, 108, 12)?));
    p.block_bytes = Some(crate::util::be_u32(b, 4)?);
    Some(p)
}

// btrfs superblock at 64 KiB: fsid at 0x20, magic at 0x40, label at 0x12b.
const BTRFS_SB: usize = 64 * 1024;
fn btrfs(b: &[u8]) -> Option<Probe> {
    let sb = slice(b, BTRFS_SB, 0x22b)?;
    if slice(sb, 0x40, 8)? != b"_BHRfS_M" {
        return None;
    }
    let mut p = Probe::new(FsKind::Btrfs);
    p.uuid = uuid_at(sb, 0x20);
    p.label = non_empty(cstr_lossy(slice(sb, 0x12b, 256)?));
    p.block_bytes = le_u32(sb, 0x90);
    Some(p)
}

// FAT boot sector (Microsoft FAT specification): BPB checks as blkid does,
// serial and label in the extended BPB (at 0x27/0x2B for FAT12/16,
// 0x43/0x47 for FAT32).
fn vfat(b: &[u8]) -> Option<Probe> {
    let bs = slice(b, 0, 512)?;
    if bs[510..512] != [0x55, 0xAA] {
        return None;
    }
    let fat32 = slice(bs, 0x52, 5)? == b"FAT32";
    let fat16 = slice(bs, 0x36, 3)? == b"FAT";
    if !fat32 && !fat16 {
        return None;
    }
    let bytes_per_sector = le_u16(bs, 0x0B)?;
    let sectors_per_cluster = bs[0x0D];
    if !(512..=4096).contains(&bytes_per_sector)
        || !bytes_per_sector.is_power_of_two()
        || sectors_per_cluster == 0
        || !sectors_per_cluster.is_power_of_two()
    {
        return None;
    }
    let (serial_off, label_off) = if fat32 { (0x43, 0x47) } else { (0x27, 0x2B) };
    let serial = le_u32(bs, serial_off)?;
    let label = cstr_lossy(slice(bs, label_off, 11)?);
    let mut p = Probe::new(FsKind::Vfat);
    p.uuid = Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF));
    p.label = non_empty(label).filter(|l| l != "NO NAME");
    p.block_bytes = Some(u32::from(bytes_per_sector));
    p.version = Some(if fat32 { "FAT32" } else { "FAT16" }.to_string());
    Some(p)
}

// Linux swap: "SWAPSPACE2" in the last 10 bytes of the first page; the
// header (uuid at 1024+12, label at 1024+28) follows the boot block.
fn swap(b: &[u8]) -> Option<Probe> {
    for page in [4096usize, 8192, 16384, 65536] {
        let magic = slice(b, page - 10, 10)?;
        if magic == b"SWAPSPACE2" || magic == b"SWAP-SPACE" {
            let mut p = Probe::new(FsKind::Swap);
            if magic == b"SWAPSPACE2" {
                p.uuid = uuid_at(b, 1024 + 12);
                p.label = non_empty(cstr_lossy(slice(b, 1024 + 28, 16)?));
                p.version = Some("1".into());
            }
            p.block_bytes = Some(page as u32);
            return Some(p);
        }
    }
    None
}

// LVM2 label: "LABELONE" in one of the first four sectors, type "LVM2 001";
// the PV header it points to starts with the 32-character PV UUID.
fn lvm2(b: &[u8]) -> Option<Probe> {
    for sector in 0..4usize {
        let lh = slice(b, sector * 512, 512)?;
        if &lh[..8] != b"LABELONE" || slice(lh, 24, 8)? != b"LVM2 001" {
            continue;
        }
        let pv_off = usize::try_from(le_u32(lh, 20)?).ok()?;
        let raw = slice(lh, pv_off, 32)?;
        let id = std::str::from_utf8(raw).ok()?;
        // LVM prints PV UUIDs in groups of 6-4-4-4-4-4-6.
        let mut out = String::new();
        let mut pos = 0;
        for (i, n) in [6usize, 4, 4, 4, 4, 4, 6].iter().enumerate() {
            if i > 0 {
                out.push('-');
            }
            out.push_str(id.get(pos..pos + n)?);
            pos += n;
        }
        let mut p = Probe::new(FsKind::Lvm2);
        p.uuid = Some(out);
        p.version = Some("LVM2 001".into());
        return Some(p);
    }
    None
}

// LUKS1/2 header: magic "LUKS\xba\xbe", version (big-endian u16) at 6, the
// UUID as text at 168; LUKS2 also has a label at 24.
fn luks(b: &[u8]) -> Option<Probe> {
    if slice(b, 0, 6)? != b"LUKS\xba\xbe" {
        return None;
    }
    let version = u16::from_be_bytes(slice(b, 6, 2)?.try_into().ok()?);
    let mut p = Probe::new(FsKind::Luks);
    p.uuid = non_empty(cstr_lossy(slice(b, 168, 40)?));
    if version == 2 {
        p.label = non_empty(cstr_lossy(slice(b, 24, 48)?));
    }
    p.version = Some(version.to_string());
    Some(p)
}
