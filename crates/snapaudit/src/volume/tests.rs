//! Volume groups found on a disk built in memory (the real lvm2 tools are
//! the oracle in `tests/tests/lvm_volumes.rs`).

use super::*;
use crate::volume::lvm::label::DiskLocn;
use crate::volume::lvm::label::tests::label;
use crate::volume::lvm::mda::tests::write_area;

const PV_UUID: &[u8; 32] = b"AAAAAABBBBCCCCDDDDEEEEFFFFGGGGGG";

/// A whole-disk PV of 4 MiB: metadata area at 4 KiB, extents of 64 KiB
/// from 1 MiB; LV `root` is extents 2..4 then 0..1 (fragmented).
fn disk(seqnos: &[(u64, usize)]) -> Vec<u8> {
    let size = 4 << 20;
    let mut d = label(
        1,
        PV_UUID,
        size,
        &[DiskLocn {
            offset: 4096,
            size: 65536,
        }],
    );
    d.resize(size as usize, 0);
    for &(seqno, offset) in seqnos {
        let text = format!(
            r#"vg0 {{ id = "vgid" seqno = {seqno} extent_size = 128
physical_volumes {{ pv0 {{ id = "AAAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG" dev_size = 8192 pe_start = 2048 pe_count = 48 }} }}
logical_volumes {{
 root {{ id = "lvid" status = ["READ", "WRITE", "VISIBLE"]
  segment1 {{ start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 2] }}
  segment2 {{ start_extent = 2 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", {seqno}0] }} }}
 pool {{ status = ["VISIBLE"] segment1 {{ start_extent = 0 extent_count = 1 type = "thin-pool" }} }}
}} }}
contents = "Text Format Volume Group"
version = 1
"#
        );
        write_area(&mut d, 4096, 65536, offset, text.as_bytes());
    }
    d[(1 << 20) + 2 * 65536 + 1024 + 0x38..][..2].copy_from_slice(&0xEF53u16.to_le_bytes());
    d
}

#[test]
fn a_whole_disk_pv_and_its_lvs() {
    // The last write (seqno 3, wrapping around the area's end) wins.
    let image = Image::from_bytes("pv.raw", disk(&[(3, 65536 - 200)]));
    let vols = Volumes::read(&image).unwrap();
    assert_eq!(vols.table.partitions.len(), 1);
    let [g] = vols.lvm.groups.as_slice() else {
        panic!("{:?}", vols.lvm)
    };
    assert!(vols.lvm.problems.is_empty(), "{:?}", vols.lvm.problems);
    assert_eq!(
        (g.name.as_str(), g.seqno, g.incomplete()),
        ("vg0", 3, false)
    );
    let root = vols.lvm.get("vg0/root").unwrap();
    assert_eq!(root.size_bytes, 3 * 65536);
    let base = (1 << 20) as u64;
    assert_eq!(
        root.segments(),
        [
            Segment {
                volume_offset: 0,
                disk_offset: base + 2 * 65536,
                len: 2 * 65536
            },
            Segment {
                volume_offset: 2 * 65536,
                disk_offset: base + 30 * 65536,
                len: 65536
            },
        ]
    );
    assert_eq!(root.fs.as_ref().map(|f| f.kind), Some(FsKind::Ext2));
    let pool = vols.lvm.get("vg0/pool").unwrap();
    assert!(
        matches!(&pool.problem, Some(LvProblem::Unsupported(m)) if m.contains("vg0/pool is a thin-pool volume")),
        "{pool:?}"
    );
    assert!(
        vols.lvm
            .get("vg0/nope")
            .unwrap_err()
            .to_string()
            .contains("vg0/root")
    );
    // Free extents: 0..2, 4..30, 31..48.
    let free: Vec<_> = g
        .free
        .iter()
        .map(|r| ((r.disk_offset - base) / 65536, r.len / 65536))
        .collect();
    assert_eq!(free, [(0, 2), (4, 26), (31, 17)]);
    let list = vols.list();
    assert_eq!(list.len(), 3);
    assert_eq!(list[1].location().volume.as_deref(), Some("vg0/root"));
    assert_eq!(list[1].volume(&image).unwrap().name(), Some("vg0/root"));
}

#[test]
fn a_corrupt_metadata_text_is_a_problem_not_a_panic() {
    let mut d = disk(&[(1, 1024)]);
    // Break the text's checksum.
    d[4096 + 1030] ^= 0x20;
    let image = Image::from_bytes("pv.raw", d);
    let vols = Volumes::read(&image).unwrap();
    assert!(vols.lvm.groups.is_empty());
    assert!(
        vols.lvm.problems[0].message.contains("checksum"),
        "{:?}",
        vols.lvm.problems
    );
}
