//! Feature flag sets of the superblock (super.rst, tables super_compat,
//! super_incompat, super_rocompat) and inode flags (inodes.rst, i_flags).
//!
//! Names are the ones e2fsprogs prints (`dumpe2fs -h` "Filesystem features:")
//! and accepts (`tune2fs -O name`, `mke2fs -O ^name`), so a report can tell
//! the user the exact option to use. Unknown bits print as e2fsprogs does:
//! `FEATURE_C7`, `FEATURE_I20`, `FEATURE_R14`.

use std::fmt;

/// Defines a bitflag-like set over a `u32` with named constants.
macro_rules! flag_set {
    (
        $(#[$meta:meta])*
        $name:ident, unknown_prefix = $prefix:literal,
        { $( $(#[$fmeta:meta])* $flag:ident = $bits:literal => $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            $( $(#[$fmeta])* pub const $flag: Self = Self($bits); )*

            /// Every named flag with its name, in bit order.
            const NAMED: &'static [(u32, &'static str)] = &[ $( ($bits, $text), )* ];

            pub const fn bits(self) -> u32 {
                self.0
            }

            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// Bits set that this version of snapaudit has no name for.
            pub fn unknown_bits(self) -> u32 {
                let known = Self::NAMED.iter().fold(0u32, |acc, (bits, _)| acc | bits);
                self.0 & !known
            }

            /// Names of the set bits in bit order; unknown bits as
            /// `FEATURE_<prefix><bit>` like e2fsprogs.
            pub fn names(self) -> Vec<String> {
                (0..32u32)
                    .filter(|bit| self.0 & (1 << bit) != 0)
                    .map(|bit| {
                        Self::NAMED
                            .iter()
                            .find(|(bits, _)| *bits == 1 << bit)
                            .map_or_else(|| format!("{}{}", $prefix, bit), |(_, text)| (*text).to_string())
                    })
                    .collect()
            }
        }

        impl std::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.names().join(" "))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:#x}: {})", stringify!($name), self.0, self)
            }
        }
    };
}

flag_set! {
    /// `s_feature_compat`: a kernel that does not know a bit may still mount.
    CompatFeatures, unknown_prefix = "FEATURE_C",
    {
        DIR_PREALLOC = 0x1 => "dir_prealloc",
        IMAGIC_INODES = 0x2 => "imagic_inodes",
        HAS_JOURNAL = 0x4 => "has_journal",
        EXT_ATTR = 0x8 => "ext_attr",
        RESIZE_INODE = 0x10 => "resize_inode",
        DIR_INDEX = 0x20 => "dir_index",
        LAZY_BG = 0x40 => "lazy_bg",
        EXCLUDE_BITMAP = 0x100 => "snapshot_bitmap",
        /// Superblock backups only in the two groups of `s_backup_bgs`.
        SPARSE_SUPER2 = 0x200 => "sparse_super2",
        FAST_COMMIT = 0x400 => "fast_commit",
        STABLE_INODES = 0x800 => "stable_inodes",
        ORPHAN_FILE = 0x1000 => "orphan_file",
    }
}

flag_set! {
    /// `s_feature_incompat`: a kernel or tool that does not know a bit must
    /// not touch the filesystem.
    IncompatFeatures, unknown_prefix = "FEATURE_I",
    {
        COMPRESSION = 0x1 => "compression",
        /// Directory entries record the file type.
        FILETYPE = 0x2 => "filetype",
        /// The journal must be replayed before the filesystem is consistent.
        RECOVER = 0x4 => "needs_recovery",
        /// This is an external journal device, not a filesystem.
        JOURNAL_DEV = 0x8 => "journal_dev",
        META_BG = 0x10 => "meta_bg",
        EXTENTS = 0x40 => "extent",
        /// 64-bit block numbers and group descriptors of `s_desc_size` bytes.
        IS_64BIT = 0x80 => "64bit",
        MMP = 0x100 => "mmp",
        FLEX_BG = 0x200 => "flex_bg",
        EA_INODE = 0x400 => "ea_inode",
        DIRDATA = 0x1000 => "dirdata",
        /// The checksum seed is `s_checksum_seed`, not derived from the UUID.
        CSUM_SEED = 0x2000 => "metadata_csum_seed",
        LARGEDIR = 0x4000 => "large_dir",
        INLINE_DATA = 0x8000 => "inline_data",
        ENCRYPT = 0x10000 => "encrypt",
        CASEFOLD = 0x20000 => "casefold",
    }
}

flag_set! {
    /// `s_feature_ro_compat`: a kernel that does not know a bit may mount
    /// read-only.
    RoCompatFeatures, unknown_prefix = "FEATURE_R",
    {
        SPARSE_SUPER = 0x1 => "sparse_super",
        LARGE_FILE = 0x2 => "large_file",
        HUGE_FILE = 0x8 => "huge_file",
        /// Group descriptors carry a crc16 checksum (e2fsprogs: `uninit_bg`).
        GDT_CSUM = 0x10 => "uninit_bg",
        DIR_NLINK = 0x20 => "dir_nlink",
        EXTRA_ISIZE = 0x40 => "extra_isize",
        HAS_SNAPSHOT = 0x80 => "snapshot",
        QUOTA = 0x100 => "quota",
        /// Block bitmaps and extents count clusters of blocks.
        BIGALLOC = 0x200 => "bigalloc",
        /// crc32c checksums on all metadata.
        METADATA_CSUM = 0x400 => "metadata_csum",
        REPLICA = 0x800 => "replica",
        READONLY = 0x1000 => "read-only",
        PROJECT = 0x2000 => "project",
        SHARED_BLOCKS = 0x4000 => "shared_blocks",
        VERITY = 0x8000 => "verity",
        ORPHAN_PRESENT = 0x10000 => "orphan_present",
    }
}

flag_set! {
    /// `i_flags` of an inode (inodes.rst, table ifield_flags). Names are
    /// the kernel's EXT4_*_FL without prefix and suffix, lowercase.
    InodeFlags, unknown_prefix = "FLAG_",
    {
        SECRM = 0x1 => "secrm",
        UNRM = 0x2 => "unrm",
        COMPR = 0x4 => "compr",
        SYNC = 0x8 => "sync",
        /// `chattr +i`: no write, unlink, rename or link.
        IMMUTABLE = 0x10 => "immutable",
        /// `chattr +a`: writes only append.
        APPEND = 0x20 => "append",
        NODUMP = 0x40 => "nodump",
        NOATIME = 0x80 => "noatime",
        DIRTY = 0x100 => "dirty",
        COMPRBLK = 0x200 => "comprblk",
        NOCOMPR = 0x400 => "nocompr",
        ENCRYPT = 0x800 => "encrypt",
        /// Hashed-tree (htree) directory.
        INDEX = 0x1000 => "index",
        IMAGIC = 0x2000 => "imagic",
        JOURNAL_DATA = 0x4000 => "journal_data",
        NOTAIL = 0x8000 => "notail",
        DIRSYNC = 0x10000 => "dirsync",
        TOPDIR = 0x20000 => "topdir",
        /// `i_blocks` counts filesystem blocks, not 512-byte sectors.
        HUGE_FILE = 0x40000 => "huge_file",
        EXTENTS = 0x80000 => "extents",
        VERITY = 0x100000 => "verity",
        EA_INODE = 0x200000 => "ea_inode",
        DAX = 0x2000000 => "dax",
        INLINE_DATA = 0x10000000 => "inline_data",
        PROJINHERIT = 0x20000000 => "projinherit",
        CASEFOLD = 0x40000000 => "casefold",
    }
}

/// The three superblock feature sets together, displayed the way
/// `dumpe2fs -h` prints "Filesystem features:" (compat, then incompat,
/// then ro_compat, each in bit order; `(none)` when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    pub compat: CompatFeatures,
    pub incompat: IncompatFeatures,
    pub ro_compat: RoCompatFeatures,
}

impl Features {
    /// All names in dumpe2fs order.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.compat.names();
        names.extend(self.incompat.names());
        names.extend(self.ro_compat.names());
        names
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&names.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_bit_order_and_e2fsprogs_spelling() {
        let features = Features {
            compat: CompatFeatures::HAS_JOURNAL | CompatFeatures::DIR_INDEX,
            incompat: IncompatFeatures::FILETYPE
                | IncompatFeatures::EXTENTS
                | IncompatFeatures(1 << 20),
            ro_compat: RoCompatFeatures::GDT_CSUM,
        };
        assert_eq!(
            features.to_string(),
            "has_journal dir_index filetype extent FEATURE_I20 uninit_bg"
        );
        assert_eq!(features.incompat.unknown_bits(), 1 << 20);
        assert!(features.incompat.contains(IncompatFeatures::EXTENTS));
        assert!(
            !features
                .incompat
                .contains(IncompatFeatures::EXTENTS | IncompatFeatures::IS_64BIT)
        );
        assert_eq!(Features::default().to_string(), "(none)");
    }
}
