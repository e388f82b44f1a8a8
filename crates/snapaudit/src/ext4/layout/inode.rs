//! Inodes (kernel Documentation/filesystems/ext4/inodes.rst): locating an
//! inode in its group's inode table and parsing `struct ext4_inode`.

use super::Layout;
use super::csum::{self, Checksum, GOOD_OLD_INODE_SIZE, I_EXTRA_ISIZE_OFFSET};
use super::features::{InodeFlags, RoCompatFeatures};
use crate::util::{le_u16, le_u32};
use crate::{Error, Result};

/// Inode number of the root directory.
pub const ROOT_INO: u32 = 2;

/// The file type bits of `i_mode` (S_IFMT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Fifo,
    CharDevice,
    Directory,
    BlockDevice,
    Regular,
    Symlink,
    Socket,
    /// Not a valid S_IFMT value.
    Unknown(u16),
}

impl FileType {
    pub fn from_mode(i_mode: u16) -> FileType {
        match i_mode & 0xF000 {
            0x1000 => FileType::Fifo,
            0x2000 => FileType::CharDevice,
            0x4000 => FileType::Directory,
            0x6000 => FileType::BlockDevice,
            0x8000 => FileType::Regular,
            0xA000 => FileType::Symlink,
            0xC000 => FileType::Socket,
            other => FileType::Unknown(other),
        }
    }
}

/// An inode timestamp: seconds since the epoch and nanoseconds. With an
/// `_extra` field, its low 2 bits extend the seconds past 2038 and the
/// upper 30 bits are nanoseconds (inodes.rst "Inode Timestamps").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanoseconds: u32,
}

impl Timestamp {
    fn decode(lo: u32, extra: Option<u32>) -> Timestamp {
        // The 32-bit field is signed (times before 1970 exist); the epoch
        // bits add multiples of 2^32 seconds.
        let base = i64::from(lo as i32);
        match extra {
            Some(extra) => Timestamp {
                seconds: base + (i64::from(extra & 0x3) << 32),
                nanoseconds: extra >> 2,
            },
            None => Timestamp {
                seconds: base,
                nanoseconds: 0,
            },
        }
    }
}

/// `struct ext4_inode` (inodes.rst), the fields snapaudit uses, named after
/// the spec, lo/hi halves combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// Inode number.
    pub ino: u32,
    /// Byte offset of the inode record in the volume (the sanitizer
    /// rewrites inodes in place).
    pub offset_bytes: u64,
    /// Bytes of the inode record (`s_inode_size`).
    pub record_len_bytes: u16,
    pub i_mode: u16,
    /// `i_uid` with `l_i_uid_high`.
    pub i_uid: u32,
    /// `i_gid` with `l_i_gid_high`.
    pub i_gid: u32,
    /// `i_size_lo` with `i_size_high`.
    pub i_size: u64,
    pub i_links_count: u16,
    /// `i_blocks_lo` (+ `l_i_blocks_high` with huge_file) converted to
    /// 512-byte units whatever the HUGE_FILE flag says.
    pub i_blocks_512: u64,
    pub i_flags: InodeFlags,
    pub i_atime: Timestamp,
    pub i_ctime: Timestamp,
    pub i_mtime: Timestamp,
    /// Creation time; only in inodes with enough extra space.
    pub i_crtime: Option<Timestamp>,
    /// Deletion time (seconds; also the orphan list link on live inodes).
    pub i_dtime: u32,
    pub i_generation: u32,
    /// Extended attribute block (`i_file_acl_lo` with `l_i_file_acl_high`).
    pub i_file_acl: u64,
    /// `i_block[EXT4_N_BLOCKS]`: block map, extent tree root, inline data
    /// or fast symlink target.
    pub i_block: [u8; 60],
    /// Bytes past the first 128 used by fields (0 for 128-byte inodes).
    pub i_extra_isize: u16,
    /// Checksum as stored: `l_i_checksum_lo` and, when present, `i_checksum_hi`.
    pub i_checksum: u32,
    pub i_projid: u32,
}

impl Inode {
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.i_mode)
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type() == FileType::Symlink
    }

    pub fn is_regular(&self) -> bool {
        self.file_type() == FileType::Regular
    }

    /// Permission bits (and setuid/setgid/sticky) of `i_mode`.
    pub fn permissions(&self) -> u16 {
        self.i_mode & 0o7777
    }

    pub fn is_immutable(&self) -> bool {
        self.i_flags.contains(InodeFlags::IMMUTABLE)
    }

    pub fn is_append_only(&self) -> bool {
        self.i_flags.contains(InodeFlags::APPEND)
    }

    pub fn has_extents(&self) -> bool {
        self.i_flags.contains(InodeFlags::EXTENTS)
    }

    pub fn has_inline_data(&self) -> bool {
        self.i_flags.contains(InodeFlags::INLINE_DATA)
    }

    /// A symlink whose target is stored in `i_block` (shorter than 60 bytes
    /// and not inline data), as `ext4_inode_is_fast_symlink` decides.
    pub fn is_fast_symlink(&self) -> bool {
        self.is_symlink()
            && !self.has_inline_data()
            && self.i_size < self.i_block.len() as u64
            && !self.i_flags.contains(InodeFlags::EA_INODE)
    }

    /// `i_blocks` in blocks of `block_size_bytes` (rounded up).
    pub fn blocks_in_fs_blocks(&self, block_size_bytes: u32) -> u64 {
        self.i_blocks_512
            .div_ceil(u64::from(block_size_bytes / 512))
    }
}

impl<'a> Layout<'a> {
    /// Byte offset of inode `ino` in the volume. `ino` must be in
    /// 1..=s_inodes_count; its group's inode table must lie inside the
    /// filesystem.
    pub fn inode_offset_bytes(&self, ino: u32) -> Result<u64> {
        let sb = self.superblock();
        if ino == 0 || ino > sb.s_inodes_count {
            return Err(Error::invalid(format!(
                "inode {ino} does not exist (valid: 1..={})",
                sb.s_inodes_count
            )));
        }
        let group = (ino - 1) / sb.s_inodes_per_group;
        let index = (ino - 1) % sb.s_inodes_per_group;
        let desc = self.group_desc(group)?;
        let table = desc.bg_inode_table;
        let table_blocks = sb.inode_table_blocks();
        let table_end = table.checked_add(table_blocks);
        if table < u64::from(sb.s_first_data_block)
            || table_end.is_none_or(|end| end > sb.s_blocks_count)
        {
            return Err(Error::corrupt(
                desc.offset_bytes + 0x8,
                format!(
                    "inode table of group {group} at blocks {table}+{table_blocks} is outside the filesystem \
                     (blocks {}..{})",
                    sb.s_first_data_block, sb.s_blocks_count
                ),
            ));
        }
        Ok(
            table * u64::from(sb.block_size_bytes())
                + u64::from(index) * u64::from(sb.s_inode_size),
        )
    }

    /// The raw `s_inode_size` bytes of inode `ino` in the volume.
    pub fn inode_bytes(&self, ino: u32) -> Result<&'a [u8]> {
        let offset = self.inode_offset_bytes(ino)?;
        self.bytes_at(offset, u64::from(self.superblock().s_inode_size), "inode")
    }

    /// Read inode `ino`. Its checksum is not verified here (see
    /// [`Layout::inode_checksum`]); an inode that is not in use parses too
    /// (see [`Layout::is_inode_allocated`]).
    pub fn inode(&self, ino: u32) -> Result<Inode> {
        let offset_bytes = self.inode_offset_bytes(ino)?;
        let raw = self.inode_bytes(ino)?;
        parse_inode(self.superblock(), ino, offset_bytes, raw)
    }

    /// The inode's checksum, stored and computed; `None` without
    /// metadata_csum. Bits that the inode does not store (`i_checksum_hi`
    /// when `i_extra_isize` < 4) are masked off in both.
    pub fn inode_checksum(&self, inode: &Inode) -> Result<Option<Checksum>> {
        let sb = self.superblock();
        if !sb.has_metadata_csum() {
            return Ok(None);
        }
        let raw = self.inode_bytes(inode.ino)?;
        let computed = csum::inode_checksum(sb.csum_seed(), inode.ino, raw).ok_or_else(|| {
            Error::corrupt(
                inode.offset_bytes,
                "inode record too short for its checksum",
            )
        })?;
        let mask = csum::inode_checksum_mask(raw);
        let stored = csum::stored_inode_checksum(raw).unwrap_or(0);
        Ok(Some(Checksum {
            stored: stored & mask,
            computed: computed & mask,
        }))
    }
}

/// Parse `raw` (the `s_inode_size` bytes of inode `ino`).
pub(crate) fn parse_inode(
    sb: &super::Superblock,
    ino: u32,
    offset_bytes: u64,
    raw: &[u8],
) -> Result<Inode> {
    let truncated =
        |off: usize| Error::corrupt(offset_bytes + off as u64, format!("inode {ino} truncated"));
    let rd16 = |off: usize| le_u16(raw, off).ok_or_else(|| truncated(off));
    let rd32 = |off: usize| le_u32(raw, off).ok_or_else(|| truncated(off));

    let record_len = raw.len();
    let i_extra_isize = if record_len > GOOD_OLD_INODE_SIZE {
        rd16(I_EXTRA_ISIZE_OFFSET)?
    } else {
        0
    };
    // The extra fields must fit in the record and keep 4-byte alignment
    // (e2fsck's check_inode_extra_space).
    let extra_end = GOOD_OLD_INODE_SIZE + usize::from(i_extra_isize);
    if record_len > GOOD_OLD_INODE_SIZE && (extra_end > record_len || i_extra_isize % 4 != 0) {
        return Err(Error::corrupt(
            offset_bytes + I_EXTRA_ISIZE_OFFSET as u64,
            format!(
                "inode {ino}: i_extra_isize {i_extra_isize} must be a multiple of 4 and at most {}",
                record_len - GOOD_OLD_INODE_SIZE
            ),
        ));
    }
    // An extra field exists when it ends within 128 + i_extra_isize.
    let extra = |off: usize| -> Result<Option<u32>> {
        if off + 4 <= extra_end && record_len > GOOD_OLD_INODE_SIZE {
            Ok(Some(rd32(off)?))
        } else {
            Ok(None)
        }
    };

    let i_flags = InodeFlags(rd32(0x20)?);
    let blocks_lo = u64::from(rd32(0x1C)?);
    let huge_file = sb.s_feature_ro_compat.contains(RoCompatFeatures::HUGE_FILE);
    let i_blocks_512 = if huge_file {
        let raw_blocks = blocks_lo | (u64::from(rd16(0x74)?) << 32);
        if i_flags.contains(InodeFlags::HUGE_FILE) {
            // Counted in filesystem blocks.
            raw_blocks.saturating_mul(u64::from(sb.block_size_bytes() / 512))
        } else {
            raw_blocks
        }
    } else {
        blocks_lo
    };

    let mut i_block = [0u8; 60];
    i_block.copy_from_slice(raw.get(0x28..0x28 + 60).ok_or_else(|| truncated(0x28))?);

    let checksum_lo = u32::from(rd16(csum::I_CHECKSUM_LO_OFFSET)?);
    // i_checksum_hi (16 bits at 0x82) exists when i_extra_isize ≥ 4.
    let has_checksum_hi =
        record_len > GOOD_OLD_INODE_SIZE && extra_end >= csum::I_CHECKSUM_HI_OFFSET + 2;
    let checksum_hi = if has_checksum_hi {
        u32::from(rd16(csum::I_CHECKSUM_HI_OFFSET)?)
    } else {
        0
    };
    let i_crtime = match extra(0x90)? {
        Some(crtime) => Some(Timestamp::decode(crtime, extra(0x94)?)),
        None => None,
    };

    Ok(Inode {
        ino,
        offset_bytes,
        record_len_bytes: sb.s_inode_size,
        i_mode: rd16(0x0)?,
        i_uid: u32::from(rd16(0x2)?) | (u32::from(rd16(0x78)?) << 16),
        i_gid: u32::from(rd16(0x18)?) | (u32::from(rd16(0x7A)?) << 16),
        i_size: u64::from(rd32(0x4)?) | (u64::from(rd32(0x6C)?) << 32),
        i_links_count: rd16(0x1A)?,
        i_blocks_512,
        i_flags,
        i_atime: Timestamp::decode(rd32(0x8)?, extra(0x8C)?),
        i_ctime: Timestamp::decode(rd32(0xC)?, extra(0x84)?),
        i_mtime: Timestamp::decode(rd32(0x10)?, extra(0x88)?),
        i_crtime,
        i_dtime: rd32(0x14)?,
        i_generation: rd32(0x64)?,
        i_file_acl: u64::from(rd32(0x68)?) | (u64::from(rd16(0x76)?) << 32),
        i_block,
        i_extra_isize,
        i_checksum: checksum_lo | (checksum_hi << 16),
        i_projid: extra(0x9C)?.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_decode_epoch_bits_and_nanoseconds() {
        // 2038-01-19T03:14:08Z is 2^31: stored as lo = 0x8000_0000 (negative
        // as i32) with epoch bits 1.
        let t = Timestamp::decode(0x8000_0000, Some(1 | (5 << 2)));
        assert_eq!(t.seconds, 1 << 31);
        assert_eq!(t.nanoseconds, 5);
        // Without an extra field a time before 1970 stays negative.
        assert_eq!(Timestamp::decode(u32::MAX, None).seconds, -1);
    }

    #[test]
    fn file_type_from_mode() {
        assert_eq!(FileType::from_mode(0o100644), FileType::Regular);
        assert_eq!(FileType::from_mode(0o040755), FileType::Directory);
        assert_eq!(FileType::from_mode(0o120777), FileType::Symlink);
        assert_eq!(FileType::from_mode(0o000644), FileType::Unknown(0));
    }
}
