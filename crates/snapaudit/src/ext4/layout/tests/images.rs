//! Images built by mke2fs in every layout the module claims to read,
//! each compared in full with e2fsprogs (see `check`), plus behaviour
//! tests: flags set by debugfs, unlink, symlink resolution, content.

use std::collections::BTreeMap;

use super::check::{self, Coverage};
use super::fixture::{Extras, Fixture};
use crate::Error;
use crate::ext4::layout::{Follow, Layout, ROOT_INO};

/// Build, compare with e2fsprogs, and check every regular file's content
/// read through `file_byte_ranges` against the tree it came from.
fn build_and_compare(
    test: &str,
    mkfs_args: &[&str],
    size: &str,
    extras: Extras,
) -> Option<(Fixture, Coverage)> {
    let fixture = Fixture::build(test, mkfs_args, size, extras)?;
    let bytes = fixture.bytes();
    let coverage = check::compare(&fixture.image, &bytes);
    let layout = Layout::open(&bytes).expect("open");
    for (path, ino) in check::paths(&coverage) {
        let inode = layout.inode(ino).expect("inode");
        let host = fixture.root.join(path.trim_start_matches('/'));
        if inode.is_regular() {
            let expected = std::fs::read(&host).expect("host file");
            assert!(
                check::read_content(&layout, &inode) == expected,
                "content of {path} differs"
            );
        } else if inode.is_symlink() {
            let expected = std::fs::read_link(&host).expect("host link");
            let target = layout.read_link(&inode).expect("read_link");
            assert_eq!(
                target,
                expected.as_os_str().as_encoded_bytes(),
                "target of {path}"
            );
        }
    }
    Some((fixture, coverage))
}

fn default_extras() -> Extras {
    Extras {
        sparse_offset_bytes: 5 << 20,
        many_entries: 300,
        index_dirs: true,
    }
}

#[test]
fn ext4_4k_matches_e2fsprogs() {
    let Some((_, coverage)) = build_and_compare(
        "ext4_4k",
        &["-t", "ext4", "-b", "4096"],
        "32M",
        default_extras(),
    ) else {
        return;
    };
    assert!(
        coverage.dirs >= 8 && coverage.extent_files >= 5,
        "{coverage:?}"
    );
    // metadata_csum is on by default: every inode, bitmap and block checked.
    assert!(coverage.checksums_verified > 50, "{coverage:?}");
}

#[test]
fn ext4_1k_128_byte_inodes_matches_e2fsprogs() {
    // 128-byte inodes store only the low 16 bits of the inode checksum and
    // have no crtime; 1 KiB blocks start at block 1 with 4 groups.
    let Some((fixture, coverage)) = build_and_compare(
        "ext4_1k",
        &["-t", "ext4", "-b", "1024", "-I", "128"],
        "32M",
        default_extras(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    assert_eq!(layout.superblock().s_first_data_block, 1);
    assert_eq!(layout.superblock().group_count(), 4);
    let root = layout.inode(ROOT_INO).expect("root");
    assert_eq!(root.i_crtime, None);
    assert!(coverage.checksums_verified > 20, "{coverage:?}");
}

#[test]
fn ext3_1k_indirect_maps_match_e2fsprogs() {
    // A data block 70 MiB into a file needs the triple-indirect tree with
    // 1 KiB blocks (12 + 256 + 256² blocks end at ~64 MiB).
    let extras = Extras {
        sparse_offset_bytes: 70 << 20,
        ..default_extras()
    };
    let Some((fixture, coverage)) =
        build_and_compare("ext3_1k", &["-t", "ext3", "-b", "1024"], "32M", extras)
    else {
        return;
    };
    assert!(
        coverage.indirect_files >= 4 && coverage.extent_files == 0,
        "{coverage:?}"
    );
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let sparse = layout
        .lookup_inode("/var/sparse", Follow::All)
        .expect("sparse");
    let map = layout.file_map(&sparse).expect("map");
    // One data block and the TIND, DIND and IND blocks above it.
    assert_eq!(map.extents.len(), 1);
    assert_eq!(map.extents[0].logical_block, (70 << 20) / 1024);
    assert_eq!(map.metadata_blocks.len(), 3);
    let big = layout.lookup_inode("/bin/big", Follow::All).expect("big");
    // 1.5 MB at 1 KiB blocks uses the double-indirect tree: 1 IND + 1 DIND + 5 IND.
    assert_eq!(layout.file_metadata_blocks(&big).expect("meta").len(), 7);
}

#[test]
fn ext3_4k_indirect_maps_match_e2fsprogs() {
    let Some((_, coverage)) = build_and_compare(
        "ext3_4k",
        &["-t", "ext3", "-b", "4096"],
        "32M",
        default_extras(),
    ) else {
        return;
    };
    assert!(coverage.indirect_files >= 4, "{coverage:?}");
}

#[test]
fn ext2_revision_0_matches_e2fsprogs() {
    let Some((fixture, _)) = build_and_compare(
        "ext2_rev0",
        &["-t", "ext2", "-r", "0", "-b", "1024"],
        "16M",
        Extras::default(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let sb = layout.superblock();
    assert_eq!(
        (sb.s_rev_level, sb.s_inode_size, sb.s_first_ino),
        (0, 128, 11)
    );
    assert_eq!(sb.features().to_string(), "(none)");
}

#[test]
fn ext4_uninit_bg_without_flex_bg_matches_e2fsprogs() {
    // gdt_csum (crc16 descriptor checksums) and BLOCK_UNINIT groups whose
    // bitmaps and inode tables live in their own group.
    let Some((fixture, _)) = build_and_compare(
        "ext4_uninit_bg",
        &[
            "-t",
            "ext4",
            "-b",
            "1024",
            "-O",
            "^metadata_csum,uninit_bg,^flex_bg",
        ],
        "32M",
        default_extras(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let uninit_groups = (0..layout.superblock().group_count())
        .filter(|&g| layout.group_desc(g).expect("desc").bg_flags.block_uninit())
        .count();
    assert!(
        uninit_groups >= 1,
        "expected BLOCK_UNINIT groups to exercise"
    );
}

#[test]
fn ext4_flex_bg_block_uninit_matches_e2fsprogs() {
    // flex_bg packs all bitmaps and tables into group 0; the other groups
    // are BLOCK_UNINIT and entirely free but for superblock backups.
    let Some((fixture, _)) = build_and_compare(
        "ext4_flex_bg",
        &["-t", "ext4", "-b", "1024", "-O", "flex_bg", "-G", "16"],
        "64M",
        Extras::default(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    assert!(
        (1..layout.superblock().group_count()).any(|g| layout
            .group_desc(g)
            .expect("desc")
            .bg_flags
            .block_uninit())
    );
}

#[test]
fn ext4_meta_bg_matches_e2fsprogs() {
    // 256-block groups at 1 KiB: 32 groups, 16 descriptors per block, so
    // two meta groups with descriptor blocks in groups 0, 1, 15, 16, 17, 31.
    let Some((fixture, _)) = build_and_compare(
        "ext4_meta_bg",
        &[
            "-t",
            "ext4",
            "-b",
            "1024",
            "-g",
            "256",
            "-O",
            "meta_bg,^resize_inode",
            "-N",
            "512",
        ],
        "8M",
        Extras::default(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let sb = layout.superblock();
    assert!(sb.has_meta_bg() && sb.group_count() == 32);
    // Group 16 starts the second meta group; being even it has no
    // superblock backup, so its descriptor block is its first block.
    assert!(!sb.bg_has_super(16) && sb.bg_has_super(1));
    assert_eq!(sb.desc_block(17), sb.group_first_block(16));
    assert_eq!(sb.desc_block(3), sb.superblock_block() + 1);
}

#[test]
fn ext4_bigalloc_1k_matches_e2fsprogs() {
    let Some((fixture, _)) = build_and_compare(
        "ext4_bigalloc_1k",
        &["-t", "ext4", "-b", "1024", "-O", "bigalloc", "-C", "16384"],
        "16M",
        default_extras(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    assert_eq!(layout.superblock().cluster_ratio(), 16);
    // Every free range is whole clusters.
    for range in layout.free_block_ranges().expect("free") {
        assert_eq!(
            (range.first_block % 16, range.len_blocks % 16),
            (0, 0),
            "{range:?}"
        );
    }
}

#[test]
fn ext4_bigalloc_4k_matches_e2fsprogs() {
    build_and_compare(
        "ext4_bigalloc_4k",
        &["-t", "ext4", "-b", "4096", "-O", "bigalloc", "-C", "65536"],
        "64M",
        default_extras(),
    );
}

#[test]
fn ext4_inline_data_matches_e2fsprogs() {
    let Some((fixture, coverage)) = build_and_compare(
        "ext4_inline_data",
        &["-t", "ext4", "-b", "4096", "-O", "inline_data"],
        "16M",
        default_extras(),
    ) else {
        return;
    };
    assert!(coverage.inline_inodes >= 3, "{coverage:?}");
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    // /etc/ssh holds one entry, so it is an inline directory: lookups
    // through it work, and its ".." is /etc.
    let ssh = layout.lookup_inode("/etc/ssh", Follow::All).expect("ssh");
    assert!(ssh.has_inline_data(), "expected /etc/ssh to be inline");
    let etc = layout.lookup("/etc", Follow::All).expect("etc");
    assert_eq!(layout.lookup("/etc/ssh/..", Follow::All).expect(".."), etc);
    let key = layout
        .lookup_inode("/etc/ssh/../ssh/ssh_host_ed25519_key", Follow::All)
        .expect("key");
    assert_eq!(
        check::read_content(&layout, &key),
        super::fixture::pseudo_random(411, 7)
    );
    let entries = layout.read_dir(ssh.ino).expect("read_dir");
    let names: Vec<&[u8]> = entries.iter().map(|e| &e.name[..]).collect();
    assert_eq!(names, vec![&b"."[..], b"..", b"ssh_host_ed25519_key"]);
    let hostname = layout
        .lookup_inode("/etc/hostname", Follow::All)
        .expect("hostname");
    assert!(hostname.has_inline_data());
    assert_eq!(check::read_content(&layout, &hostname), b"fixture\n");
}

/// The fixture used by the behaviour tests below.
fn ext4_fixture(test: &str) -> Option<Fixture> {
    Fixture::build(
        test,
        &["-t", "ext4", "-b", "4096"],
        "32M",
        Extras {
            sparse_offset_bytes: 1 << 20,
            many_entries: 0,
            index_dirs: false,
        },
    )
}

#[test]
fn immutable_and_append_flags_set_by_debugfs_are_read() {
    let Some(fixture) = ext4_fixture("flags") else {
        return;
    };
    fixture.debugfs_write(&[
        "set_inode_field /etc/shadow flags 0x80010",
        "set_inode_field /etc/hostname flags 0x80020",
    ]);
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let shadow = layout
        .lookup_inode("/etc/shadow", Follow::All)
        .expect("shadow");
    assert!(shadow.is_immutable() && !shadow.is_append_only());
    let hostname = layout
        .lookup_inode("/etc/hostname", Follow::All)
        .expect("hostname");
    assert!(hostname.is_append_only() && !hostname.is_immutable());
    // debugfs keeps the inode checksum right; so does our reading of it.
    assert!(
        layout
            .inode_checksum(&shadow)
            .expect("csum")
            .is_some_and(|c| c.is_valid())
    );
    check::compare(&fixture.image, &bytes);
}

#[test]
fn unlinked_file_is_gone_and_its_blocks_are_free() {
    let Some(fixture) = ext4_fixture("unlink") else {
        return;
    };
    let before = fixture.bytes();
    let layout = Layout::open(&before).expect("open");
    let key = layout
        .lookup_inode("/etc/ssh/ssh_host_ed25519_key", Follow::All)
        .expect("key");
    let key_blocks = layout.file_extents(&key).expect("extents");
    assert_eq!(key_blocks.len(), 1);
    let block = key_blocks[0].physical_block;
    assert!(layout.is_inode_allocated(key.ino).expect("bitmap"));
    assert!(layout.is_block_allocated(block).expect("bitmap"));

    fixture.debugfs_write(&["rm /etc/ssh/ssh_host_ed25519_key"]);
    let after = fixture.bytes();
    let layout = Layout::open(&after).expect("open");
    assert!(matches!(
        layout.lookup("/etc/ssh/ssh_host_ed25519_key", Follow::All),
        Err(Error::NotFound { .. })
    ));
    assert!(!layout.is_inode_allocated(key.ino).expect("bitmap"));
    assert!(!layout.is_block_allocated(block).expect("bitmap"));
    assert!(
        layout
            .free_block_ranges()
            .expect("free")
            .iter()
            .any(|r| (r.first_block..r.end_block()).contains(&block))
    );
    // The freed block still holds the key bytes: deleted data the scanner
    // must find in unallocated space.
    let offset = (block * 4096) as usize;
    assert_eq!(
        &after[offset..offset + 411],
        &super::fixture::pseudo_random(411, 7)[..]
    );
    check::compare(&fixture.image, &after);
}

#[test]
fn symlinks_resolve_inside_the_image() {
    let Some(fixture) = ext4_fixture("symlinks") else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let ino = |path: &str, follow: Follow| layout.lookup(path, follow);
    let os_release = ino("/usr/lib/os-release", Follow::Never).expect("os-release");
    // Relative, absolute, through a usr-merge directory link, and a link
    // whose ".." climbs past the root.
    assert_eq!(
        ino("/etc/os-release", Follow::All).expect("rel"),
        os_release
    );
    assert_eq!(
        ino("/etc/abs-os-release", Follow::All).expect("abs"),
        os_release
    );
    assert_eq!(
        ino("/lib/os-release", Follow::Parents).expect("usr-merge"),
        os_release
    );
    assert_eq!(
        ino("/etc/libdir/os-release", Follow::All).expect("abs dir"),
        os_release
    );
    assert_eq!(
        ino("/etc/long-link", Follow::All).expect("slow link"),
        os_release
    );
    assert_eq!(
        ino("/etc/dotdot-hostname", Follow::All).expect("dotdot"),
        ino("/etc/hostname", Follow::Never).expect("hostname")
    );
    assert_eq!(
        ino("/../../etc/./hostname", Follow::Never).expect(".."),
        ino("etc/hostname", Follow::Never).expect("rel")
    );
    assert_eq!(ino("/", Follow::All).expect("root"), ROOT_INO);
    // Parents: the last component stays the link itself.
    let link = ino("/etc/os-release", Follow::Parents).expect("lstat");
    assert!(layout.inode(link).expect("inode").is_symlink());
    // Never: a link in the middle is refused.
    assert!(matches!(
        ino("/lib/os-release", Follow::Never),
        Err(Error::InvalidInput { .. })
    ));
    // A loop ends with an error, not a hang.
    match ino("/loop1", Follow::All) {
        Err(Error::InvalidInput { what }) => assert!(what.contains("too many levels"), "{what}"),
        other => panic!("loop resolved to {other:?}"),
    }
    assert!(matches!(
        ino("/etc/missing", Follow::All),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        ino("/etc/hostname/x", Follow::All),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn uninitialized_extents_are_reported_and_read_as_holes() {
    let Some(fixture) = ext4_fixture("fallocate") else {
        return;
    };
    fixture.debugfs_write(&[
        "write /dev/null prealloc",
        "fallocate /prealloc 0 99",
        "sif /prealloc size 409600",
    ]);
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let prealloc = layout
        .lookup_inode("/prealloc", Follow::All)
        .expect("prealloc");
    let extents = layout.file_extents(&prealloc).expect("extents");
    assert!(
        !extents.is_empty() && extents.iter().all(|e| e.uninit),
        "{extents:?}"
    );
    assert_eq!(extents.iter().map(|e| e.len_blocks).sum::<u64>(), 100);
    assert!(
        layout
            .file_byte_ranges(&prealloc)
            .expect("ranges")
            .is_empty()
    );
    check::compare(&fixture.image, &bytes);
}

#[test]
fn contiguous_file_is_one_byte_range_clipped_to_its_size() {
    let Some(fixture) = ext4_fixture("byte_ranges") else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let big = layout
        .lookup_inode("/usr/bin/big", Follow::All)
        .expect("big");
    let ranges = layout.file_byte_ranges(&big).expect("ranges");
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    assert_eq!(
        (ranges[0].file_offset_bytes, ranges[0].len_bytes),
        (0, 1_500_000)
    );
    assert_eq!(ranges[0].volume_offset_bytes % 4096, 0);
    // The sparse file: one range, at its data, not at offset 0.
    let sparse = layout
        .lookup_inode("/var/sparse", Follow::All)
        .expect("sparse");
    let ranges = layout.file_byte_ranges(&sparse).expect("ranges");
    assert_eq!(ranges.len(), 1);
    assert_eq!(ranges[0].file_offset_bytes, 1 << 20);
    assert_eq!(ranges[0].len_bytes, b"tail of a sparse file".len() as u64);
}

#[test]
fn superblock_state_counters_and_recovery_flag() {
    let Some(fixture) = ext4_fixture("state") else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let sb = layout.superblock();
    assert!(sb.is_clean() && !sb.has_errors() && !sb.needs_recovery() && sb.has_journal());
    assert_eq!(
        sb.free_blocks_excluding_reserved(),
        sb.s_free_blocks_count - sb.s_r_blocks_count
    );
    // Mark the journal as needing recovery and the state as having errors.
    fixture.debugfs_write(&["feature needs_recovery", "ssv state 2", "ssv error_count 3"]);
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let sb = layout.superblock();
    assert!(sb.needs_recovery() && sb.has_errors() && !sb.is_clean());
    assert_eq!(sb.s_error_count, 3);
    // debugfs rewrote the superblock checksum; it still verifies.
    assert!(sb.checksum().is_some_and(|c| c.is_valid()));
    let header = super::e2fs::dumpe2fs_header(&fixture.image);
    assert_eq!(sb.features().to_string(), header["Filesystem features"]);
}

#[test]
fn corrupt_checksums_are_detected() {
    let Some(fixture) = ext4_fixture("checksums") else {
        return;
    };
    let mut bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let shadow = layout
        .lookup_inode("/etc/shadow", Follow::All)
        .expect("shadow");
    let desc_offset = layout.group_desc(0).expect("desc").offset_bytes as usize;
    // Flip one bit in the inode's i_size and in the descriptor's free count.
    bytes[shadow.offset_bytes as usize + 4] ^= 1;
    bytes[desc_offset + 0xC] ^= 1;
    bytes[1024 + 0x10] ^= 1;
    let layout = Layout::open(&bytes).expect("open");
    let shadow = layout.inode(shadow.ino).expect("inode");
    assert!(
        !layout
            .inode_checksum(&shadow)
            .expect("csum")
            .expect("metadata_csum")
            .is_valid()
    );
    assert!(
        !layout
            .group_desc_checksum(0)
            .expect("csum")
            .expect("metadata_csum")
            .is_valid()
    );
    assert!(
        !layout
            .superblock()
            .checksum()
            .expect("metadata_csum")
            .is_valid()
    );
}

#[test]
fn read_dir_offsets_point_at_the_entries() {
    let Some(fixture) = ext4_fixture("offsets") else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let etc = layout.lookup("/etc", Follow::All).expect("etc");
    let entries = layout.read_dir(etc).expect("read_dir");
    let names: BTreeMap<Vec<u8>, u32> = entries.iter().map(|e| (e.name.clone(), e.ino)).collect();
    assert!(names.contains_key(&b"shadow"[..]) && names.contains_key(&b".."[..]));
    for entry in &entries {
        let at = entry.offset_bytes as usize;
        // inode, rec_len, name_len, file_type, name — as stored.
        assert_eq!(
            u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")),
            entry.ino
        );
        assert_eq!(
            u32::from(u16::from_le_bytes(
                bytes[at + 4..at + 6].try_into().expect("2")
            )),
            entry.rec_len
        );
        assert_eq!(usize::from(bytes[at + 6]), entry.name.len());
        assert_eq!(&bytes[at + 8..at + 8 + entry.name.len()], &entry.name[..]);
    }
}

#[test]
fn corrupt_maps_are_errors_with_offsets() {
    let Some(fixture) = Fixture::build(
        "corrupt_maps",
        &["-t", "ext3", "-b", "1024"],
        "16M",
        Extras::default(),
    ) else {
        return;
    };
    let mut bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let big = layout
        .lookup_inode("/usr/bin/big", Follow::All)
        .expect("big");
    let dind = u32::from_le_bytes(big.i_block[13 * 4..14 * 4].try_into().expect("4"));
    assert_ne!(
        dind, 0,
        "1.5 MB at 1 KiB blocks needs a double-indirect block"
    );
    // Point the double-indirect block's second slot back at itself: a loop.
    let slot = dind as usize * 1024 + 4;
    bytes[slot..slot + 4].copy_from_slice(&dind.to_le_bytes());
    let layout = Layout::open(&bytes).expect("open");
    match layout.file_map(&big) {
        Err(Error::Corrupt { offset, what }) => {
            assert_eq!(offset, slot as u64, "{what}");
            assert!(what.contains("referenced twice"), "{what}");
        }
        other => panic!("looping map gave {other:?}"),
    }
    // A pointer past the end of the filesystem.
    let first_data = big.offset_bytes as usize + 0x28;
    bytes[first_data..first_data + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let layout = Layout::open(&bytes).expect("open");
    match layout.file_extents(&layout.inode(big.ino).expect("inode")) {
        Err(Error::Corrupt { offset, what }) => {
            assert_eq!(offset, first_data as u64);
            assert!(what.contains("outside the filesystem"), "{what}");
        }
        other => panic!("out-of-range pointer gave {other:?}"),
    }
}

#[test]
fn corrupt_extent_header_is_an_error_at_i_block() {
    let Some(fixture) = ext4_fixture("corrupt_extent") else {
        return;
    };
    let mut bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let big = layout
        .lookup_inode("/usr/bin/big", Follow::All)
        .expect("big");
    let i_block_at = big.offset_bytes as usize + 0x28;
    bytes[i_block_at] = 0x0B;
    let layout = Layout::open(&bytes).expect("open");
    match layout.file_extents(&layout.inode(big.ino).expect("inode")) {
        Err(Error::Corrupt { offset, what }) => {
            assert_eq!(offset, i_block_at as u64);
            assert!(what.contains("expected 0xf30a, found 0xf30b"), "{what}");
        }
        other => panic!("bad magic gave {other:?}"),
    }
    // eh_depth 6 is deeper than any tree the kernel builds.
    bytes[i_block_at] = 0x0A;
    bytes[i_block_at + 6] = 6;
    let layout = Layout::open(&bytes).expect("open");
    assert!(matches!(
        layout.file_extents(&layout.inode(big.ino).expect("inode")),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn superblock_errors_name_the_field() {
    let Some(fixture) = ext4_fixture("corrupt_superblock") else {
        return;
    };
    let good = fixture.bytes();
    let corrupt_at = |offset: usize, value: &[u8]| {
        let mut bytes = good[..64 << 10].to_vec();
        bytes[1024 + offset..1024 + offset + value.len()].copy_from_slice(value);
        crate::ext4::layout::Superblock::parse(&bytes)
    };
    match corrupt_at(0x38, &[0x34, 0x12]) {
        Err(Error::Corrupt { offset, what }) => {
            assert_eq!(offset, 1024 + 0x38);
            assert!(what.contains("expected 0xef53, found 0x1234"), "{what}");
        }
        other => panic!("bad magic gave {other:?}"),
    }
    assert!(matches!(
        corrupt_at(0x18, &[7, 0, 0, 0]),
        Err(Error::Corrupt { offset: 0x418, .. })
    ));
    assert!(matches!(
        corrupt_at(0x28, &[0, 0, 0, 0]),
        Err(Error::Corrupt { offset: 0x428, .. })
    ));
    assert!(matches!(
        corrupt_at(0x58, &[100, 0]),
        Err(Error::Corrupt { offset: 0x458, .. })
    ));
    // INCOMPAT_JOURNAL_DEV: valid, but not a filesystem.
    let incompat = u32::from_le_bytes(good[1024 + 0x60..1024 + 0x64].try_into().expect("4")) | 0x8;
    assert!(matches!(
        corrupt_at(0x60, &incompat.to_le_bytes()),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        crate::ext4::layout::Superblock::parse(&good[..1500]),
        Err(Error::Corrupt { offset: 0, .. })
    ));
}

/// `lookup_indexed` (one scan per directory, for callers that look up
/// every file of a walk) answers exactly like the linear `lookup`: every
/// path of the tree, with either symlink policy, through the same index,
/// and misses (absent names, names below a file) fail alike.
#[test]
fn indexed_lookup_matches_linear_lookup() {
    use crate::ext4::layout::DirIndex;
    let Some((fixture, coverage)) = build_and_compare(
        "indexed_lookup",
        &["-t", "ext4", "-b", "1024"],
        "16M",
        default_extras(),
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let layout = Layout::open(&bytes).expect("open");
    let index = DirIndex::default();
    let mut compared = 0;
    for (path, _) in check::paths(&coverage) {
        for probe in [
            path.to_string(),
            format!("{path}/absent"),
            format!("{path}x"),
        ] {
            for follow in [Follow::All, Follow::Parents] {
                let linear = layout.lookup(&probe, follow).map_err(|e| e.to_string());
                let indexed = layout
                    .lookup_indexed(&probe, follow, &index)
                    .map_err(|e| e.to_string());
                assert_eq!(indexed, linear, "{probe} ({follow:?})");
                compared += 1;
            }
        }
    }
    assert!(compared > 300, "{compared}");
}
