//! The superblock (kernel Documentation/filesystems/ext4/super.rst).

use super::csum::{self, Checksum, GroupDescCsum};
use super::features::{CompatFeatures, Features, IncompatFeatures, RoCompatFeatures};
use crate::util::{le_u16, le_u32, le_u64, slice};
use crate::{Error, Result};

/// The superblock lives at byte 1024 of the volume, whatever the block size.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Size of `struct ext4_super_block`.
pub const SUPERBLOCK_LEN: usize = 1024;
/// `s_magic`.
pub const EXT4_SUPER_MAGIC: u16 = 0xEF53;
/// Largest `s_log_block_size`: 64 KiB blocks.
const MAX_LOG_BLOCK_SIZE: u32 = 6;
/// Largest cluster size e2fsprogs creates (EXT2_MAX_CLUSTER_LOG_SIZE): 2^29 bytes.
const MAX_LOG_CLUSTER_BYTES: u32 = 29;

/// `s_state` bits (super.rst, table super_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsState(pub u16);

impl FsState {
    /// Cleanly unmounted (EXT4_VALID_FS).
    pub const VALID: u16 = 0x1;
    /// Errors detected (EXT4_ERROR_FS).
    pub const ERROR: u16 = 0x2;
    /// Orphans being recovered (EXT4_ORPHAN_FS).
    pub const ORPHANS: u16 = 0x4;

    pub fn is_valid(self) -> bool {
        self.0 & Self::VALID != 0
    }
    pub fn has_error(self) -> bool {
        self.0 & Self::ERROR != 0
    }
    pub fn orphans_being_recovered(self) -> bool {
        self.0 & Self::ORPHANS != 0
    }
}

/// `s_errors`: what the kernel does on an error (super.rst, super_errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPolicy {
    Continue,
    RemountReadOnly,
    Panic,
    Other(u16),
}

impl From<u16> for ErrorPolicy {
    fn from(s_errors: u16) -> Self {
        match s_errors {
            1 => ErrorPolicy::Continue,
            2 => ErrorPolicy::RemountReadOnly,
            3 => ErrorPolicy::Panic,
            other => ErrorPolicy::Other(other),
        }
    }
}

/// `struct ext4_super_block` (super.rst), the fields snapaudit uses, named
/// after the spec. Split lo/hi fields are combined (`_hi` only counts with
/// the 64bit feature); times include their `_hi` byte.
///
/// [`Superblock::parse`] validates the geometry (block, cluster and group
/// sizes, inode size, descriptor size) so that everything derived from it
/// — group count, offsets — is in range.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub s_inodes_count: u32,
    pub s_blocks_count: u64,
    pub s_r_blocks_count: u64,
    pub s_free_blocks_count: u64,
    pub s_free_inodes_count: u32,
    pub s_first_data_block: u32,
    pub s_log_block_size: u32,
    pub s_log_cluster_size: u32,
    pub s_blocks_per_group: u32,
    pub s_clusters_per_group: u32,
    pub s_inodes_per_group: u32,
    pub s_mtime: i64,
    pub s_wtime: i64,
    pub s_mnt_count: u16,
    /// Signed: -1 disables the mount-count check.
    pub s_max_mnt_count: i16,
    pub s_magic: u16,
    pub s_state: FsState,
    pub s_errors: ErrorPolicy,
    pub s_minor_rev_level: u16,
    pub s_lastcheck: i64,
    pub s_creator_os: u32,
    pub s_rev_level: u32,
    /// First non-reserved inode (11 for revision 0).
    pub s_first_ino: u32,
    /// Inode record size (128 for revision 0).
    pub s_inode_size: u16,
    pub s_block_group_nr: u16,
    pub s_feature_compat: CompatFeatures,
    pub s_feature_incompat: IncompatFeatures,
    pub s_feature_ro_compat: RoCompatFeatures,
    pub s_uuid: [u8; 16],
    pub s_volume_name: [u8; 16],
    pub s_last_mounted: [u8; 64],
    pub s_reserved_gdt_blocks: u16,
    pub s_journal_inum: u32,
    pub s_journal_dev: u32,
    pub s_last_orphan: u32,
    /// Group descriptor size as stored (only meaningful with 64bit); see
    /// [`Superblock::desc_size_bytes`].
    pub s_desc_size: u16,
    pub s_first_meta_bg: u32,
    pub s_mkfs_time: i64,
    pub s_min_extra_isize: u16,
    pub s_want_extra_isize: u16,
    pub s_log_groups_per_flex: u8,
    pub s_checksum_type: u8,
    pub s_kbytes_written: u64,
    pub s_error_count: u32,
    pub s_first_error_time: i64,
    pub s_first_error_ino: u32,
    pub s_first_error_block: u64,
    pub s_last_error_time: i64,
    pub s_backup_bgs: [u32; 2],
    pub s_checksum_seed: u32,
    pub s_encoding: u16,
    pub s_orphan_file_inum: u32,
    pub s_checksum: u32,
    /// crc32c of the superblock as read, for [`Superblock::checksum`].
    computed_checksum: u32,
    group_count: u32,
}

/// Reads one field at `off` of the superblock bytes; the 1024 bytes were
/// checked to exist before any field is read.
fn field<T>(raw: &[u8], off: usize, read: fn(&[u8], usize) -> Option<T>) -> Result<T> {
    read(raw, off).ok_or_else(|| {
        Error::corrupt(
            SUPERBLOCK_OFFSET + off as u64,
            "superblock field out of range",
        )
    })
}

/// A fixed-size byte array field at `off`.
fn array<const N: usize>(raw: &[u8], off: usize) -> Result<[u8; N]> {
    slice(raw, off, N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            Error::corrupt(
                SUPERBLOCK_OFFSET + off as u64,
                "superblock field out of range",
            )
        })
}

/// A 32-bit time with its `_hi` byte (bits 32..39), as the kernel's
/// `ext4_get_tstamp` combines them.
fn time_with_hi(lo: u32, hi: u8) -> i64 {
    i64::from(lo) | (i64::from(hi) << 32)
}

fn corrupt_field(off: usize, what: String) -> Error {
    Error::corrupt(SUPERBLOCK_OFFSET + off as u64, what)
}

impl Superblock {
    /// Parse and validate the superblock of the filesystem in `vol` (the
    /// filesystem's bytes; the superblock is at byte 1024).
    pub fn parse(vol: &[u8]) -> Result<Superblock> {
        let raw = slice(vol, SUPERBLOCK_OFFSET as usize, SUPERBLOCK_LEN).ok_or_else(|| {
            Error::corrupt(
                0,
                format!(
                    "volume of {} bytes is too small for an ext2/3/4 superblock (needs {})",
                    vol.len(),
                    SUPERBLOCK_OFFSET as usize + SUPERBLOCK_LEN
                ),
            )
        })?;
        Self::parse_raw(raw)
    }

    /// Parse and validate a superblock from its 1024 bytes.
    pub fn parse_raw(raw: &[u8]) -> Result<Superblock> {
        if raw.len() < SUPERBLOCK_LEN {
            return Err(Error::corrupt(SUPERBLOCK_OFFSET, "superblock truncated"));
        }
        let s_magic = field(raw, 0x38, le_u16)?;
        if s_magic != EXT4_SUPER_MAGIC {
            return Err(corrupt_field(
                0x38,
                format!(
                    "bad ext2/3/4 superblock magic: expected {EXT4_SUPER_MAGIC:#06x}, found {s_magic:#06x}"
                ),
            ));
        }
        let s_rev_level = field(raw, 0x4C, le_u32)?;
        // Revision 0 (EXT4_GOOD_OLD_REV) has no feature fields.
        let dynamic = s_rev_level >= 1;
        let s_feature_incompat = IncompatFeatures(if dynamic {
            field(raw, 0x60, le_u32)?
        } else {
            0
        });
        let is_64bit = s_feature_incompat.contains(IncompatFeatures::IS_64BIT);
        // The _hi halves only count with the 64bit feature (ext4_blocks_count).
        let lo_hi = |lo_off: usize, hi_off: usize| -> Result<u64> {
            let lo = u64::from(field(raw, lo_off, le_u32)?);
            let hi = if is_64bit {
                u64::from(field(raw, hi_off, le_u32)?)
            } else {
                0
            };
            Ok(lo | (hi << 32))
        };
        let uuid: [u8; 16] = array(raw, 0x68)?;
        let volume_name: [u8; 16] = array(raw, 0x78)?;
        let last_mounted: [u8; 64] = array(raw, 0x88)?;
        let byte = |off: usize| field(raw, off, |b, o| b.get(o).copied());

        let mut sb = Superblock {
            s_inodes_count: field(raw, 0x0, le_u32)?,
            s_blocks_count: lo_hi(0x4, 0x150)?,
            s_r_blocks_count: lo_hi(0x8, 0x154)?,
            s_free_blocks_count: lo_hi(0xC, 0x158)?,
            s_free_inodes_count: field(raw, 0x10, le_u32)?,
            s_first_data_block: field(raw, 0x14, le_u32)?,
            s_log_block_size: field(raw, 0x18, le_u32)?,
            s_log_cluster_size: field(raw, 0x1C, le_u32)?,
            s_blocks_per_group: field(raw, 0x20, le_u32)?,
            s_clusters_per_group: field(raw, 0x24, le_u32)?,
            s_inodes_per_group: field(raw, 0x28, le_u32)?,
            s_mtime: time_with_hi(field(raw, 0x2C, le_u32)?, byte(0x275)?),
            s_wtime: time_with_hi(field(raw, 0x30, le_u32)?, byte(0x274)?),
            s_mnt_count: field(raw, 0x34, le_u16)?,
            s_max_mnt_count: field(raw, 0x36, le_u16)? as i16,
            s_magic,
            s_state: FsState(field(raw, 0x3A, le_u16)?),
            s_errors: ErrorPolicy::from(field(raw, 0x3C, le_u16)?),
            s_minor_rev_level: field(raw, 0x3E, le_u16)?,
            s_lastcheck: time_with_hi(field(raw, 0x40, le_u32)?, byte(0x277)?),
            s_creator_os: field(raw, 0x48, le_u32)?,
            s_rev_level,
            // Revision 0 has fixed values for these (EXT4_GOOD_OLD_*).
            s_first_ino: if dynamic {
                field(raw, 0x54, le_u32)?
            } else {
                11
            },
            s_inode_size: if dynamic {
                field(raw, 0x58, le_u16)?
            } else {
                128
            },
            s_block_group_nr: field(raw, 0x5A, le_u16)?,
            s_feature_compat: CompatFeatures(if dynamic {
                field(raw, 0x5C, le_u32)?
            } else {
                0
            }),
            s_feature_incompat,
            s_feature_ro_compat: RoCompatFeatures(if dynamic {
                field(raw, 0x64, le_u32)?
            } else {
                0
            }),
            s_uuid: uuid,
            s_volume_name: volume_name,
            s_last_mounted: last_mounted,
            s_reserved_gdt_blocks: field(raw, 0xCE, le_u16)?,
            s_journal_inum: field(raw, 0xE0, le_u32)?,
            s_journal_dev: field(raw, 0xE4, le_u32)?,
            s_last_orphan: field(raw, 0xE8, le_u32)?,
            s_desc_size: field(raw, 0xFE, le_u16)?,
            s_first_meta_bg: field(raw, 0x104, le_u32)?,
            s_mkfs_time: time_with_hi(field(raw, 0x108, le_u32)?, byte(0x276)?),
            s_min_extra_isize: field(raw, 0x15C, le_u16)?,
            s_want_extra_isize: field(raw, 0x15E, le_u16)?,
            s_log_groups_per_flex: byte(0x174)?,
            s_checksum_type: byte(0x175)?,
            s_kbytes_written: field(raw, 0x178, le_u64)?,
            s_error_count: field(raw, 0x194, le_u32)?,
            s_first_error_time: time_with_hi(field(raw, 0x198, le_u32)?, byte(0x278)?),
            s_first_error_ino: field(raw, 0x19C, le_u32)?,
            s_first_error_block: field(raw, 0x1A0, le_u64)?,
            s_last_error_time: time_with_hi(field(raw, 0x1CC, le_u32)?, byte(0x279)?),
            s_backup_bgs: [field(raw, 0x24C, le_u32)?, field(raw, 0x250, le_u32)?],
            s_checksum_seed: field(raw, 0x270, le_u32)?,
            s_encoding: field(raw, 0x27C, le_u16)?,
            s_orphan_file_inum: field(raw, 0x280, le_u32)?,
            s_checksum: field(raw, csum::SB_CHECKSUM_OFFSET, le_u32)?,
            computed_checksum: csum::superblock_checksum(raw)
                .ok_or_else(|| Error::corrupt(SUPERBLOCK_OFFSET, "superblock truncated"))?,
            group_count: 0,
        };
        // An external journal device has an ext4 superblock without a
        // filesystem behind it (no groups, no inodes).
        if sb
            .s_feature_incompat
            .contains(IncompatFeatures::JOURNAL_DEV)
        {
            return Err(Error::unsupported(
                "the volume is an external ext3/4 journal device, not a filesystem",
            ));
        }
        sb.group_count = sb.validate_geometry()?;
        Ok(sb)
    }

    /// Check every number that offsets are derived from, and return the
    /// number of block groups.
    fn validate_geometry(&self) -> Result<u32> {
        if self.s_log_block_size > MAX_LOG_BLOCK_SIZE {
            return Err(corrupt_field(
                0x18,
                format!(
                    "s_log_block_size {} gives a block size over 64 KiB (expected 0..={MAX_LOG_BLOCK_SIZE})",
                    self.s_log_block_size
                ),
            ));
        }
        let block_bits = self.block_size_bytes() * 8;
        if self.is_bigalloc() {
            if self.s_log_cluster_size < self.s_log_block_size
                || 10 + self.s_log_cluster_size > MAX_LOG_CLUSTER_BYTES
            {
                return Err(corrupt_field(
                    0x1C,
                    format!(
                        "s_log_cluster_size {} must be between s_log_block_size {} and {}",
                        self.s_log_cluster_size,
                        self.s_log_block_size,
                        MAX_LOG_CLUSTER_BYTES - 10
                    ),
                ));
            }
            let expected_blocks_per_group =
                u64::from(self.s_clusters_per_group) << self.cluster_bits();
            if expected_blocks_per_group != u64::from(self.s_blocks_per_group) {
                return Err(corrupt_field(
                    0x20,
                    format!(
                        "s_blocks_per_group {} should be s_clusters_per_group {} × cluster ratio {} = {expected_blocks_per_group}",
                        self.s_blocks_per_group,
                        self.s_clusters_per_group,
                        self.cluster_ratio()
                    ),
                ));
            }
        }
        // One bitmap block describes one group, so a group has at most
        // 8 × block size clusters and inodes.
        let clusters_per_group = self.clusters_per_group();
        if clusters_per_group == 0 || clusters_per_group > block_bits {
            return Err(corrupt_field(
                0x24,
                format!("clusters per group {clusters_per_group} must be in 1..={block_bits}"),
            ));
        }
        if self.s_inodes_per_group == 0 || self.s_inodes_per_group > block_bits {
            return Err(corrupt_field(
                0x28,
                format!(
                    "s_inodes_per_group {} must be in 1..={block_bits}",
                    self.s_inodes_per_group
                ),
            ));
        }
        let inode_size = u32::from(self.s_inode_size);
        if inode_size < 128 || !inode_size.is_power_of_two() || inode_size > self.block_size_bytes()
        {
            return Err(corrupt_field(
                0x58,
                format!(
                    "s_inode_size {inode_size} must be a power of two between 128 and the block size {}",
                    self.block_size_bytes()
                ),
            ));
        }
        if self.is_64bit() {
            let desc_size = self.s_desc_size;
            if !(64..=1024).contains(&desc_size) || !desc_size.is_power_of_two() {
                return Err(corrupt_field(
                    0xFE,
                    format!(
                        "s_desc_size {desc_size} must be a power of two between 64 and 1024 with 64bit"
                    ),
                ));
            }
            if u32::from(desc_size) > self.block_size_bytes() {
                return Err(corrupt_field(
                    0xFE,
                    format!("s_desc_size {desc_size} is larger than a block"),
                ));
            }
        }
        if u64::from(self.s_first_data_block) >= self.s_blocks_count {
            return Err(corrupt_field(
                0x14,
                format!(
                    "s_first_data_block {} must be below s_blocks_count {}",
                    self.s_first_data_block, self.s_blocks_count
                ),
            ));
        }
        // Byte offsets of blocks are computed as block × block size; with the
        // whole filesystem addressable in u64 bytes none of them overflows.
        if self
            .s_blocks_count
            .checked_mul(u64::from(self.block_size_bytes()))
            .is_none()
        {
            return Err(corrupt_field(
                0x4,
                format!(
                    "s_blocks_count {} × block size {} overflows 64-bit byte offsets",
                    self.s_blocks_count,
                    self.block_size_bytes()
                ),
            ));
        }
        let data_blocks = self.s_blocks_count - u64::from(self.s_first_data_block);
        let group_count = data_blocks.div_ceil(u64::from(self.s_blocks_per_group));
        let group_count = u32::try_from(group_count).map_err(|_| {
            corrupt_field(
                0x4,
                format!(
                    "s_blocks_count {} gives {group_count} groups, more than 2^32",
                    self.s_blocks_count
                ),
            )
        })?;
        // Every inode number must fall in a group (ext4_fill_super checks
        // equality; a smaller count is tolerated here, a larger one would put
        // inodes in groups that do not exist).
        let max_inodes = u64::from(group_count) * u64::from(self.s_inodes_per_group);
        if u64::from(self.s_inodes_count) > max_inodes {
            return Err(corrupt_field(
                0x0,
                format!(
                    "s_inodes_count {} exceeds {group_count} groups × s_inodes_per_group {} = {max_inodes}",
                    self.s_inodes_count, self.s_inodes_per_group
                ),
            ));
        }
        Ok(group_count)
    }

    /// Block size: 2^(10 + s_log_block_size), 1 KiB to 64 KiB.
    pub fn block_size_bytes(&self) -> u32 {
        1024 << self.s_log_block_size
    }

    pub fn is_64bit(&self) -> bool {
        self.s_feature_incompat.contains(IncompatFeatures::IS_64BIT)
    }

    pub fn is_bigalloc(&self) -> bool {
        self.s_feature_ro_compat
            .contains(RoCompatFeatures::BIGALLOC)
    }

    /// log2 of blocks per cluster (0 without bigalloc).
    pub fn cluster_bits(&self) -> u32 {
        if self.is_bigalloc() {
            self.s_log_cluster_size - self.s_log_block_size
        } else {
            0
        }
    }

    /// Blocks per cluster (1 without bigalloc).
    pub fn cluster_ratio(&self) -> u64 {
        1 << self.cluster_bits()
    }

    /// Clusters per group (= blocks per group without bigalloc).
    pub fn clusters_per_group(&self) -> u32 {
        if self.is_bigalloc() {
            self.s_clusters_per_group
        } else {
            self.s_blocks_per_group
        }
    }

    /// Number of block groups: ceil((s_blocks_count - s_first_data_block) /
    /// s_blocks_per_group).
    pub fn group_count(&self) -> u32 {
        self.group_count
    }

    /// Group descriptor size in bytes: `s_desc_size` with 64bit, else 32.
    pub fn desc_size_bytes(&self) -> u32 {
        if self.is_64bit() {
            u32::from(self.s_desc_size)
        } else {
            32
        }
    }

    /// Group descriptors per block.
    pub fn descs_per_block(&self) -> u32 {
        self.block_size_bytes() / self.desc_size_bytes()
    }

    /// All three feature sets, displayable as dumpe2fs prints them.
    pub fn features(&self) -> Features {
        Features {
            compat: self.s_feature_compat,
            incompat: self.s_feature_incompat,
            ro_compat: self.s_feature_ro_compat,
        }
    }

    /// Free blocks an unprivileged user can allocate: `s_free_blocks_count`
    /// minus the root reserve `s_r_blocks_count` (saturating at 0).
    pub fn free_blocks_excluding_reserved(&self) -> u64 {
        self.s_free_blocks_count
            .saturating_sub(self.s_r_blocks_count)
    }

    /// The journal holds transactions that must be replayed
    /// (INCOMPAT_RECOVER): the on-disk metadata is not the whole truth.
    pub fn needs_recovery(&self) -> bool {
        self.s_feature_incompat.contains(IncompatFeatures::RECOVER)
    }

    pub fn has_journal(&self) -> bool {
        self.s_feature_compat.contains(CompatFeatures::HAS_JOURNAL)
    }

    /// Cleanly unmounted with no error recorded: `s_state` has VALID and not
    /// ERROR, and the journal needs no recovery.
    pub fn is_clean(&self) -> bool {
        self.s_state.is_valid() && !self.s_state.has_error() && !self.needs_recovery()
    }

    /// The kernel recorded errors: `s_state` has ERROR, or `s_error_count`
    /// is non-zero (e2fsck clears both).
    pub fn has_errors(&self) -> bool {
        self.s_state.has_error() || self.s_error_count > 0
    }

    /// Inodes were left on the orphan list (unlinked while open, or a
    /// truncate in progress) or are being recovered.
    pub fn has_orphans(&self) -> bool {
        self.s_last_orphan != 0 || self.s_state.orphans_being_recovered()
    }

    pub fn has_metadata_csum(&self) -> bool {
        self.s_feature_ro_compat
            .contains(RoCompatFeatures::METADATA_CSUM)
    }

    /// Group descriptors carry checksums (gdt_csum or metadata_csum): only
    /// then are the UNINIT group flags honoured (ext4_has_group_desc_csum).
    pub fn has_group_desc_csum(&self) -> bool {
        self.has_metadata_csum()
            || self
                .s_feature_ro_compat
                .contains(RoCompatFeatures::GDT_CSUM)
    }

    /// The seed of every metadata_csum checksum: `s_checksum_seed` with the
    /// metadata_csum_seed feature, else crc32c(~0, s_uuid).
    pub fn csum_seed(&self) -> u32 {
        if self
            .s_feature_incompat
            .contains(IncompatFeatures::CSUM_SEED)
        {
            self.s_checksum_seed
        } else {
            csum::ext4_crc32c(!0, &self.s_uuid)
        }
    }

    /// Which group descriptor checksum this filesystem uses.
    pub fn group_desc_csum_kind(&self) -> GroupDescCsum {
        if self.has_metadata_csum() {
            GroupDescCsum::Crc32c {
                csum_seed: self.csum_seed(),
            }
        } else if self
            .s_feature_ro_compat
            .contains(RoCompatFeatures::GDT_CSUM)
        {
            GroupDescCsum::Crc16 {
                uuid: self.s_uuid,
                has_64bit: self.is_64bit(),
            }
        } else {
            GroupDescCsum::None
        }
    }

    /// The superblock checksum, stored and computed from the bytes parsed;
    /// `None` without metadata_csum. To recompute after modifying a copy of
    /// the superblock, use [`csum::set_superblock_checksum`].
    pub fn checksum(&self) -> Option<Checksum> {
        self.has_metadata_csum().then_some(Checksum {
            stored: self.s_checksum,
            computed: self.computed_checksum,
        })
    }

    /// Volume label (`s_volume_name`), lossy UTF-8, `None` when empty.
    pub fn volume_name(&self) -> Option<String> {
        let name = crate::util::cstr_lossy(&self.s_volume_name);
        (!name.is_empty()).then_some(name)
    }

    /// Where the filesystem was last mounted (`s_last_mounted`), `None` when
    /// empty.
    pub fn last_mounted(&self) -> Option<String> {
        let name = crate::util::cstr_lossy(&self.s_last_mounted);
        (!name.is_empty()).then_some(name)
    }

    /// The filesystem UUID in its canonical text form.
    pub fn uuid(&self) -> String {
        crate::util::uuid_be(&self.s_uuid)
    }

    /// Bytes of the whole filesystem: s_blocks_count × block size.
    pub fn fs_size_bytes(&self) -> u64 {
        self.s_blocks_count
            .saturating_mul(u64::from(self.block_size_bytes()))
    }
}
