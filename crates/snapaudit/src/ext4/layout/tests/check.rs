//! The comparison of one image with what e2fsprogs says about it: the
//! superblock against `dumpe2fs -h`, every group's free blocks and inodes
//! against `dumpe2fs`, every directory against `debugfs ls -p`, every inode
//! reached from the root against `debugfs stat` (fields, flags, times, data
//! runs, map blocks), and every checksum.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use super::e2fs::{self, Stat};
use crate::ext4::layout::{BlockRange, FileType, Follow, Inode, Layout, ROOT_INO, csum};

/// Upper bound on inodes compared per image, to keep tests fast.
const MAX_INODES: usize = 400;

/// What one comparison covered, for tests to assert on.
#[derive(Debug, Default)]
pub struct Coverage {
    pub dirs: usize,
    pub files: usize,
    pub indirect_files: usize,
    pub extent_files: usize,
    pub inline_inodes: usize,
    pub metadata_blocks: usize,
    pub checksums_verified: usize,
    pub paths: Vec<(String, u32)>,
}

/// Compare `vol` (the bytes of `image`) with e2fsprogs' view of it.
pub fn compare(image: &Path, vol: &[u8]) -> Coverage {
    let layout = Layout::open(vol).expect("open layout");
    let mut coverage = Coverage::default();
    compare_superblock(image, &layout, &mut coverage);
    compare_groups(image, &layout);
    walk_and_compare(image, &layout, &mut coverage);
    coverage
}

fn compare_superblock(image: &Path, layout: &Layout<'_>, coverage: &mut Coverage) {
    let sb = layout.superblock();
    let h = e2fs::dumpe2fs_header(image);
    let num = |key: &str| -> u64 {
        h.get(key)
            .unwrap_or_else(|| panic!("dumpe2fs has no {key:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("dumpe2fs {key:?} is not a number"))
    };
    assert_eq!(
        u64::from(sb.s_inodes_count),
        num("Inode count"),
        "Inode count"
    );
    assert_eq!(sb.s_blocks_count, num("Block count"), "Block count");
    assert_eq!(
        sb.s_r_blocks_count,
        num("Reserved block count"),
        "Reserved block count"
    );
    assert_eq!(sb.s_free_blocks_count, num("Free blocks"), "Free blocks");
    assert_eq!(
        u64::from(sb.s_free_inodes_count),
        num("Free inodes"),
        "Free inodes"
    );
    assert_eq!(
        u64::from(sb.s_first_data_block),
        num("First block"),
        "First block"
    );
    assert_eq!(
        u64::from(sb.block_size_bytes()),
        num("Block size"),
        "Block size"
    );
    assert_eq!(
        u64::from(sb.s_blocks_per_group),
        num("Blocks per group"),
        "Blocks per group"
    );
    assert_eq!(
        u64::from(sb.s_inodes_per_group),
        num("Inodes per group"),
        "Inodes per group"
    );
    // Revision 0 filesystems have neither field in dumpe2fs' output.
    if sb.s_rev_level >= 1 {
        assert_eq!(u64::from(sb.s_inode_size), num("Inode size"), "Inode size");
        assert_eq!(u64::from(sb.s_first_ino), num("First inode"), "First inode");
    }
    assert_eq!(
        sb.features().to_string(),
        h["Filesystem features"],
        "features"
    );
    assert_eq!(sb.uuid(), h["Filesystem UUID"], "UUID");
    assert_eq!(
        sb.volume_name().unwrap_or_else(|| "<none>".to_string()),
        h["Filesystem volume name"],
        "volume name"
    );
    if sb.is_bigalloc() {
        assert_eq!(
            u64::from(sb.block_size_bytes()) * sb.cluster_ratio(),
            num("Cluster size"),
            "Cluster size"
        );
        assert_eq!(
            u64::from(sb.clusters_per_group()),
            num("Clusters per group")
        );
    }
    if sb.is_64bit() {
        assert_eq!(
            u64::from(sb.desc_size_bytes()),
            num("Group descriptor size")
        );
    }
    if let Some(reserved) = h.get("Reserved GDT blocks") {
        assert_eq!(
            sb.s_reserved_gdt_blocks.to_string(),
            *reserved,
            "Reserved GDT blocks"
        );
    }
    let state = &h["Filesystem state"];
    assert_eq!(
        sb.s_state.is_valid(),
        !state.contains("not clean"),
        "state {state}"
    );
    assert_eq!(
        sb.s_state.has_error(),
        state.contains("with errors"),
        "state {state}"
    );
    if let Some(checksum) = sb.checksum() {
        assert_eq!(
            format!("{:#010x}", checksum.stored),
            h["Checksum"],
            "superblock checksum"
        );
        assert!(checksum.is_valid(), "superblock checksum {checksum:?}");
        // Recomputing over a copy reproduces the stored value.
        let mut raw = layout.volume()[1024..2048].to_vec();
        raw[csum::SB_CHECKSUM_OFFSET..].fill(0);
        csum::set_superblock_checksum(&mut raw).expect("superblock length");
        assert_eq!(
            &raw[..],
            &layout.volume()[1024..2048],
            "recomputed superblock"
        );
        coverage.checksums_verified += 1;
    }
}

fn compare_groups(image: &Path, layout: &Layout<'_>) {
    let sb = layout.superblock();
    let groups = e2fs::dumpe2fs_groups(image);
    assert_eq!(groups.len(), sb.group_count() as usize, "group count");
    let free = layout.free_block_ranges().expect("free block ranges");
    let ratio = sb.cluster_ratio();
    let mut total_free_blocks = 0u64;
    for (group, dump) in groups.iter().enumerate() {
        let group = group as u32;
        let first = sb.group_first_block(group);
        let len = sb.group_len_blocks(group);
        assert_eq!(
            (first, first + len - 1),
            (dump.first_block, dump.last_block),
            "group {group} span"
        );
        // Our merged ranges cut at the group's bounds, in dumpe2fs' notation
        // (bigalloc: the last number is the last free cluster's first block).
        let ours: Vec<(u64, u64)> = free
            .iter()
            .filter_map(|r: &BlockRange| {
                let start = r.first_block.max(first);
                let end = r.end_block().min(first + len);
                (start < end).then(|| (start, end - ratio.min(end - start)))
            })
            .collect();
        assert_eq!(ours, dump.free_blocks, "free blocks of group {group}");
        total_free_blocks += ours.iter().map(|(a, b)| b - a + ratio).sum::<u64>();

        // Inode bitmap, inode by inode.
        let first_ino = group * sb.s_inodes_per_group + 1;
        let mut free_inodes: Vec<(u64, u64)> = Vec::new();
        for ino in first_ino..first_ino + sb.s_inodes_per_group {
            if !layout.is_inode_allocated(ino).expect("inode bitmap") {
                match free_inodes.last_mut() {
                    Some(last) if last.1 + 1 == u64::from(ino) => last.1 += 1,
                    _ => free_inodes.push((u64::from(ino), u64::from(ino))),
                }
            }
        }
        assert_eq!(
            free_inodes, dump.free_inodes,
            "free inodes of group {group}"
        );

        // Descriptor and bitmap checksums verify, and recomputing the
        // descriptor's gives the stored bytes back.
        if let Some(checksum) = layout.group_desc_checksum(group).expect("desc checksum") {
            assert!(
                checksum.is_valid(),
                "group {group} descriptor checksum {checksum:?}"
            );
            let mut raw = layout.group_desc_bytes(group).expect("desc bytes").to_vec();
            raw[csum::BG_CHECKSUM_OFFSET] ^= 0xFF;
            csum::set_group_desc_checksum(sb.group_desc_csum_kind(), group, &mut raw).expect("set");
            assert_eq!(raw, layout.group_desc_bytes(group).expect("desc bytes"));
        }
        for checksum in [
            layout
                .block_bitmap_checksum(group)
                .expect("block bitmap checksum"),
            layout
                .inode_bitmap_checksum(group)
                .expect("inode bitmap checksum"),
        ]
        .into_iter()
        .flatten()
        {
            assert!(
                checksum.is_valid(),
                "group {group} bitmap checksum {checksum:?}"
            );
        }
    }
    // dumpe2fs' header counts free blocks the same way (clusters × ratio).
    let header_free = e2fs::dumpe2fs_header(image)["Free blocks"]
        .parse::<u64>()
        .expect("free blocks");
    assert_eq!(
        total_free_blocks, header_free,
        "free blocks in bitmaps vs superblock"
    );
}

/// Breadth-first walk from the root with `read_dir`, comparing each
/// directory with `debugfs ls -p` and each inode with `debugfs stat`.
fn walk_and_compare(image: &Path, layout: &Layout<'_>, coverage: &mut Coverage) {
    let mut queue: VecDeque<(u32, String)> = VecDeque::from([(ROOT_INO, String::new())]);
    let mut seen: BTreeSet<u32> = BTreeSet::from([ROOT_INO]);
    let mut inodes: Vec<(u32, String)> = vec![(ROOT_INO, "/".to_string())];
    let mut dirs: Vec<(u32, Vec<(String, u32)>)> = Vec::new();
    while let Some((dir_ino, dir_path)) = queue.pop_front() {
        let entries = layout.read_dir(dir_ino).expect("read_dir");
        let mut listed = Vec::new();
        for entry in entries {
            let name = String::from_utf8(entry.name.clone()).expect("utf-8 names in fixtures");
            listed.push((name.clone(), entry.ino));
            if name == "." || name == ".." || !seen.insert(entry.ino) || inodes.len() >= MAX_INODES
            {
                continue;
            }
            let path = format!("{dir_path}/{name}");
            inodes.push((entry.ino, path.clone()));
            if layout.inode(entry.ino).expect("inode").is_dir() {
                queue.push_back((entry.ino, path));
            }
        }
        dirs.push((dir_ino, listed));
    }

    let mut requests: Vec<String> = dirs
        .iter()
        .map(|(ino, _)| format!("ls -p <{ino}>"))
        .collect();
    requests.extend(inodes.iter().map(|(ino, _)| format!("stat <{ino}>")));
    let answers = e2fs::debugfs_batch(image, &requests, false);
    let (ls_answers, stat_answers) = answers.split_at(dirs.len());

    for ((dir_ino, ours), ls) in dirs.iter().zip(ls_answers) {
        let theirs: Vec<(String, u32)> = e2fs::parse_ls_p(ls)
            .into_iter()
            .map(|e| (e.name, e.ino))
            .collect();
        assert_eq!(ours, &theirs, "entries of directory inode {dir_ino}");
        coverage.dirs += 1;
    }
    for ((ino, path), text) in inodes.iter().zip(stat_answers) {
        let inode = layout.inode(*ino).expect("inode");
        compare_inode(layout, &inode, &e2fs::parse_stat(text), coverage);
        // Lookup by path finds the same inode without following the last link.
        assert_eq!(
            layout.lookup(path, Follow::Parents).expect("lookup"),
            *ino,
            "lookup {path}"
        );
        coverage.paths.push((path.clone(), *ino));
    }
}

fn compare_inode(layout: &Layout<'_>, inode: &Inode, stat: &Stat, coverage: &mut Coverage) {
    let ino = inode.ino;
    let field = |key: &str| -> &str {
        stat.fields
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("debugfs stat <{ino}> has no {key:?}"))
    };
    assert_eq!(field("Inode"), ino.to_string());
    assert_eq!(
        format!("{:#x}", inode.i_flags.bits()),
        field("Flags"),
        "flags of {ino}"
    );
    assert_eq!(
        format!("{:04o}", inode.permissions()),
        field("Mode"),
        "mode of {ino}"
    );
    assert_eq!(inode.i_uid.to_string(), field("User"), "uid of {ino}");
    assert_eq!(inode.i_gid.to_string(), field("Group"), "gid of {ino}");
    assert_eq!(inode.i_size.to_string(), field("Size"), "size of {ino}");
    assert_eq!(
        inode.i_links_count.to_string(),
        field("Links"),
        "links of {ino}"
    );
    assert_eq!(
        inode.i_blocks_512.to_string(),
        field("Blockcount"),
        "i_blocks of {ino}"
    );
    assert_eq!(
        inode.i_generation.to_string(),
        field("Generation"),
        "generation of {ino}"
    );
    for (name, ours) in [
        ("ctime", Some(inode.i_ctime)),
        ("atime", Some(inode.i_atime)),
        ("mtime", Some(inode.i_mtime)),
        ("crtime", inode.i_crtime),
    ] {
        if let Some(&(lo, extra)) = stat.times.get(name) {
            let ours = ours.unwrap_or_else(|| panic!("{name} of {ino} missing"));
            let seconds = i64::from(lo as i32) + extra.map_or(0, |e| i64::from(e & 3) << 32);
            assert_eq!(
                (ours.seconds, ours.nanoseconds),
                (seconds, extra.map_or(0, |e| e >> 2)),
                "{name} of {ino}"
            );
        }
    }
    if let Some(checksum) = layout.inode_checksum(inode).expect("inode checksum") {
        assert!(checksum.is_valid(), "inode {ino} checksum {checksum:?}");
        assert_eq!(
            format!("{:#010x}", inode.i_checksum),
            field("Inode checksum"),
            "checksum of {ino}"
        );
        // Recompute over a copy with the checksum fields scrambled.
        let raw = layout.inode_bytes(ino).expect("inode bytes");
        let mut copy = raw.to_vec();
        copy[csum::I_CHECKSUM_LO_OFFSET] ^= 0x5A;
        csum::set_inode_checksum(layout.superblock().csum_seed(), ino, &mut copy).expect("set");
        assert_eq!(copy, raw, "recomputed inode {ino}");
        coverage.checksums_verified += 1;
    }

    if inode.has_inline_data() {
        coverage.inline_inodes += 1;
        let ranges = layout.file_byte_ranges(inode).expect("inline ranges");
        let covered: u64 = ranges.iter().map(|r| r.len_bytes).sum();
        assert_eq!(covered, inode.i_size, "inline ranges of {ino}");
        // debugfs reports the room for inline data (60 + system.data) for
        // files and directories; the file's bytes fit in it.
        if let Some(room) = stat.fields.get("Size of inline data") {
            assert!(
                covered <= room.parse::<u64>().expect("inline size"),
                "inline ranges of {ino}"
            );
        }
        return;
    }
    let map = layout.file_map(inode).expect("file map");
    let ours: Vec<(u64, u64, u64, bool)> = map
        .extents
        .iter()
        .map(|e| (e.logical_block, e.physical_block, e.len_blocks, e.uninit))
        .collect();
    assert_eq!(ours, stat.data, "data runs of inode {ino}");
    let mut our_meta = map.metadata_blocks.clone();
    our_meta.sort_unstable();
    let mut their_meta = stat.metadata.clone();
    their_meta.sort_unstable();
    assert_eq!(our_meta, their_meta, "map blocks of inode {ino}");
    coverage.metadata_blocks += our_meta.len();
    if !map.extents.is_empty() || !map.metadata_blocks.is_empty() {
        if inode.has_extents() {
            coverage.extent_files += 1;
        } else {
            coverage.indirect_files += 1;
        }
    }
    if inode.file_type() != FileType::Directory {
        coverage.files += 1;
    }
    verify_block_checksums(layout, inode, &map.metadata_blocks, coverage);
}

/// Extent tree blocks and directory leaf blocks carry their own checksums
/// with metadata_csum.
fn verify_block_checksums(
    layout: &Layout<'_>,
    inode: &Inode,
    metadata: &[u64],
    coverage: &mut Coverage,
) {
    let sb = layout.superblock();
    if !sb.has_metadata_csum() {
        return;
    }
    let seed = sb.csum_seed();
    if inode.has_extents() {
        for &block in metadata {
            let bytes = layout.block(block).expect("tree block");
            assert_eq!(
                csum::extent_block_checksum(seed, inode.ino, inode.i_generation, bytes),
                csum::stored_extent_block_checksum(bytes),
                "extent block {block} of inode {}",
                inode.ino
            );
            coverage.checksums_verified += 1;
        }
    }
    if inode.is_dir() {
        for extent in layout.file_extents(inode).expect("dir extents") {
            for block in extent.physical_block..extent.physical_block + extent.len_blocks {
                let bytes = layout.block(block).expect("dir block");
                // htree index blocks have a different tail; leaves have the dirent tail.
                if let Some(computed) =
                    csum::dir_block_checksum(seed, inode.ino, inode.i_generation, bytes)
                {
                    assert_eq!(
                        Some(computed),
                        csum::stored_dir_block_checksum(bytes),
                        "dir block {block}"
                    );
                    coverage.checksums_verified += 1;
                }
            }
        }
    }
}

/// The content of `inode` read through `file_byte_ranges`, holes as zeros.
pub fn read_content(layout: &Layout<'_>, inode: &Inode) -> Vec<u8> {
    let mut content = vec![0u8; usize::try_from(inode.i_size).expect("small file")];
    for range in layout.file_byte_ranges(inode).expect("byte ranges") {
        let start = range.volume_offset_bytes as usize;
        let bytes = &layout.volume()[start..start + range.len_bytes as usize];
        let at = range.file_offset_bytes as usize;
        content[at..at + bytes.len()].copy_from_slice(bytes);
    }
    content
}

/// Map from path to inode number for every path the walk reached.
pub fn paths(coverage: &Coverage) -> BTreeMap<&str, u32> {
    coverage
        .paths
        .iter()
        .map(|(p, i)| (p.as_str(), *i))
        .collect()
}
