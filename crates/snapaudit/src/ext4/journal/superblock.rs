//! The journal superblock (block 0 of the journal).
//!
//! Layout: the kernel's Documentation/filesystems/ext4/journal.rst,
//! "Super Block", and `journal_superblock_t` in include/linux/jbd2.h. Every
//! field is big-endian.

use super::block::{BlockType, Header, JBD2_MAGIC_NUMBER, jbd2_chksum};
use crate::util::{be_u32, slice};
use crate::{Error, Result};

/// `s_feature_compat`: a crc32 of each transaction in its commit block
/// (checksum v1).
pub const COMPAT_CHECKSUM: u32 = 0x1;
/// `s_feature_incompat` bits.
pub const INCOMPAT_REVOKE: u32 = 0x1;
pub const INCOMPAT_64BIT: u32 = 0x2;
pub const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
pub const INCOMPAT_CSUM_V2: u32 = 0x8;
pub const INCOMPAT_CSUM_V3: u32 = 0x10;
pub const INCOMPAT_FAST_COMMIT: u32 = 0x20;
const INCOMPAT_KNOWN: u32 = INCOMPAT_REVOKE
    | INCOMPAT_64BIT
    | INCOMPAT_ASYNC_COMMIT
    | INCOMPAT_CSUM_V2
    | INCOMPAT_CSUM_V3
    | INCOMPAT_FAST_COMMIT;
/// `s_checksum_type` of crc32c, the only one checksum v2/v3 use.
const JBD2_CRC32C_CHKSUM: u8 = 4;

/// Byte offsets of the fields this module reads or rewrites.
pub(crate) const S_SEQUENCE: usize = 0x18;
pub(crate) const S_START: usize = 0x1C;
pub(crate) const S_CHECKSUM: usize = 0xFC;
/// `sizeof(journal_superblock_t)`: what the superblock checksum covers.
pub(crate) const JSB_BYTES: usize = 1024;

/// `journal_superblock_t`, the fields recovery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSuperblock {
    /// Version 1 (`JBD2_SUPERBLOCK_V1`) has no feature fields.
    pub version: u8,
    pub s_blocksize: u32,
    /// Blocks in the journal, this superblock included.
    pub s_maxlen: u32,
    /// First block of log information.
    pub s_first: u32,
    /// First commit ID expected in the log.
    pub s_sequence: u32,
    /// Block number of the start of the log; 0 means the journal is empty.
    pub s_start: u32,
    pub s_errno: i32,
    pub s_feature_compat: u32,
    pub s_feature_incompat: u32,
    pub s_feature_ro_compat: u32,
    pub s_uuid: [u8; 16],
    pub s_checksum_type: u8,
    pub s_checksum: u32,
}

impl JournalSuperblock {
    /// Parse and check the superblock in `raw` (journal block 0, at
    /// volume offset `at` for error messages) of a journal whose inode
    /// holds `inode_blocks` blocks of `fs_block_bytes`.
    pub fn parse(raw: &[u8], at: u64, fs_block_bytes: u32, inode_blocks: u64) -> Result<Self> {
        let bad = |what: String| Error::corrupt(at, format!("journal superblock: {what}"));
        let header = Header::parse(raw).ok_or_else(|| bad("shorter than its header".into()))?;
        if header.h_magic != JBD2_MAGIC_NUMBER {
            return Err(bad(format!(
                "magic {:#010x}, expected {JBD2_MAGIC_NUMBER:#010x}",
                header.h_magic
            )));
        }
        let version = match header.blocktype() {
            Some(BlockType::SuperblockV1) => 1,
            Some(BlockType::SuperblockV2) => 2,
            _ => {
                return Err(bad(format!(
                    "block type {}, expected 3 or 4 (superblock v1 or v2)",
                    header.h_blocktype
                )));
            }
        };
        let field = |off: usize| be_u32(raw, off).ok_or_else(|| bad("truncated".into()));
        let v2 = |off: usize| if version == 2 { field(off) } else { Ok(0) };
        let uuid = if version == 2 {
            slice(raw, 0x30, 16)
                .and_then(|u| u.try_into().ok())
                .ok_or_else(|| bad("truncated".into()))?
        } else {
            [0; 16]
        };
        let sb = JournalSuperblock {
            version,
            s_blocksize: field(0xC)?,
            s_maxlen: field(0x10)?,
            s_first: field(0x14)?,
            s_sequence: field(S_SEQUENCE)?,
            s_start: field(S_START)?,
            s_errno: field(0x20)? as i32,
            s_feature_compat: v2(0x24)?,
            s_feature_incompat: v2(0x28)?,
            s_feature_ro_compat: v2(0x2C)?,
            s_uuid: uuid,
            s_checksum_type: if version == 2 {
                *raw.get(0x50).ok_or_else(|| bad("truncated".into()))?
            } else {
                0
            },
            s_checksum: v2(S_CHECKSUM)?,
        };
        sb.validate(raw, fs_block_bytes, inode_blocks, &bad)?;
        Ok(sb)
    }

    fn validate(
        &self,
        raw: &[u8],
        fs_block_bytes: u32,
        inode_blocks: u64,
        bad: &dyn Fn(String) -> Error,
    ) -> Result<()> {
        if self.s_blocksize != fs_block_bytes {
            return Err(bad(format!(
                "s_blocksize {} differs from the filesystem's {fs_block_bytes}-byte blocks",
                self.s_blocksize
            )));
        }
        // The journal's inode must hold every block the superblock claims
        // (e2fsck: "journal superblock is corrupt"); a claim of 2^32 blocks
        // ends here, before any is read.
        if u64::from(self.s_maxlen) > inode_blocks {
            return Err(bad(format!(
                "s_maxlen {} blocks, but the journal inode holds {inode_blocks}",
                self.s_maxlen
            )));
        }
        if self.s_first == 0 || self.s_first >= self.s_maxlen {
            return Err(bad(format!(
                "s_first {} is outside the log (1..{})",
                self.s_first, self.s_maxlen
            )));
        }
        if self.s_start != 0 && !(self.s_first..self.s_maxlen).contains(&self.s_start) {
            return Err(bad(format!(
                "s_start {} is outside the log ({}..{})",
                self.s_start, self.s_first, self.s_maxlen
            )));
        }
        let unknown = self.s_feature_incompat & !INCOMPAT_KNOWN;
        if unknown != 0 {
            return Err(Error::unsupported(format!(
                "journal: unknown incompatible journal features {unknown:#x}"
            )));
        }
        if self.has_incompat(INCOMPAT_FAST_COMMIT) {
            return Err(Error::unsupported(
                "journal: fast commit blocks are not replayed offline",
            ));
        }
        if self.has_incompat(INCOMPAT_CSUM_V2) && self.has_incompat(INCOMPAT_CSUM_V3) {
            return Err(bad(
                "both checksum v2 and v3 are set (the kernel refuses it)".into(),
            ));
        }
        if self.has_csum_v2or3() {
            if self.s_feature_compat & COMPAT_CHECKSUM != 0 {
                return Err(bad(
                    "both checksum v1 and v2/v3 are set (the kernel refuses it)".into(),
                ));
            }
            if self.s_checksum_type != JBD2_CRC32C_CHKSUM {
                return Err(bad(format!(
                    "s_checksum_type {}, expected 4 (crc32c) with checksum v2/v3",
                    self.s_checksum_type
                )));
            }
            let computed = superblock_checksum(raw).ok_or_else(|| bad("truncated".into()))?;
            if computed != self.s_checksum {
                return Err(bad(format!(
                    "checksum {:#010x}, computed {computed:#010x}",
                    self.s_checksum
                )));
            }
        }
        Ok(())
    }

    pub fn has_incompat(&self, bit: u32) -> bool {
        self.s_feature_incompat & bit != 0
    }

    pub fn has_csum_v1(&self) -> bool {
        self.s_feature_compat & COMPAT_CHECKSUM != 0
    }

    pub fn has_csum_v2or3(&self) -> bool {
        self.has_incompat(INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)
    }

    pub fn is_64bit(&self) -> bool {
        self.has_incompat(INCOMPAT_64BIT)
    }

    /// `j_csum_seed`: crc32c(~0, s_uuid).
    pub fn csum_seed(&self) -> u32 {
        jbd2_chksum(!0, &self.s_uuid)
    }

    /// `journal_tag_bytes()`: 16 for tag3 (checksum v3); otherwise 8 or 12
    /// (64-bit), plus 2 under checksum v2.
    pub fn tag_bytes(&self) -> usize {
        if self.has_incompat(INCOMPAT_CSUM_V3) {
            return 16;
        }
        let mut sz = 12;
        if self.has_incompat(INCOMPAT_CSUM_V2) {
            sz += 2;
        }
        if self.is_64bit() { sz } else { sz - 4 }
    }

    /// Bytes at the end of descriptor and revoke blocks taken by their
    /// checksum tail (`struct jbd2_journal_block_tail`).
    pub fn tail_bytes(&self) -> usize {
        if self.has_csum_v2or3() { 4 } else { 0 }
    }

    /// Feature names, for messages.
    pub fn feature_names(&self) -> String {
        let mut names = vec![format!("v{}", self.version)];
        for (bit, name) in [
            (INCOMPAT_REVOKE, "revoke"),
            (INCOMPAT_64BIT, "64bit"),
            (INCOMPAT_ASYNC_COMMIT, "async_commit"),
            (INCOMPAT_CSUM_V2, "csum_v2"),
            (INCOMPAT_CSUM_V3, "csum_v3"),
        ] {
            if self.has_incompat(bit) {
                names.push(name.into());
            }
        }
        if self.has_csum_v1() {
            names.push("csum_v1".into());
        }
        names.join(" ")
    }
}

/// `jbd2_superblock_csum()`: crc32c(~0, the 1024-byte superblock with
/// `s_checksum` zeroed). `None` when `raw` is shorter.
pub fn superblock_checksum(raw: &[u8]) -> Option<u32> {
    let mut sb = raw.get(..JSB_BYTES)?.to_vec();
    sb.get_mut(S_CHECKSUM..S_CHECKSUM + 4)?.fill(0);
    Some(jbd2_chksum(!0, &sb))
}

/// The journal superblock as e2fsck leaves it after recovery
/// (`e2fsck_journal_release` with reset): the log emptied (`s_start` = 0),
/// `s_sequence` the transaction after the last one replayed, and the
/// checksum recomputed under checksum v2/v3.
pub fn reset_superblock(raw: &mut [u8], sb: &JournalSuperblock, next_sequence: u32) -> Option<()> {
    raw.get_mut(S_START..S_START + 4)?.fill(0);
    raw.get_mut(S_SEQUENCE..S_SEQUENCE + 4)?
        .copy_from_slice(&next_sequence.to_be_bytes());
    if sb.has_csum_v2or3() {
        let csum = superblock_checksum(raw)?;
        raw.get_mut(S_CHECKSUM..S_CHECKSUM + 4)?
            .copy_from_slice(&csum.to_be_bytes());
    }
    Some(())
}
