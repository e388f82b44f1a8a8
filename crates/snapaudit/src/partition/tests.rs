use super::*;

fn disk_with(bytes: Vec<u8>) -> Image {
    Image::from_bytes("mem", bytes)
}

fn mbr_entry(d: &mut [u8], sector_off: usize, i: usize, boot: u8, sys: u8, start: u32, len: u32) {
    let o = sector_off + 446 + 16 * i;
    d[o] = boot;
    d[o + 4] = sys;
    d[o + 8..o + 12].copy_from_slice(&start.to_le_bytes());
    d[o + 12..o + 16].copy_from_slice(&len.to_le_bytes());
    d[sector_off + 510] = 0x55;
    d[sector_off + 511] = 0xAA;
}

#[test]
fn blank_disk_has_no_table_and_no_partitions() {
    let t = PartitionTable::read(&disk_with(vec![0; 1 << 20])).unwrap();
    assert_eq!(t.kind, TableKind::None);
    assert!(t.partitions.is_empty());
}

#[test]
fn mbr_primary_and_partuuid() {
    let mut d = vec![0u8; 4 << 20];
    d[440..444].copy_from_slice(&0x1234abcdu32.to_le_bytes());
    mbr_entry(&mut d, 0, 0, 0x80, 0x83, 2048, 4096);
    let t = PartitionTable::read(&disk_with(d)).unwrap();
    assert_eq!(t.kind, TableKind::Mbr);
    assert_eq!(t.disk_id.as_deref(), Some("1234abcd"));
    let p = &t.partitions[0];
    assert_eq!(
        (p.index, p.start_bytes, p.size_bytes),
        (1, 2048 * 512, 4096 * 512)
    );
    assert_eq!(p.partuuid.as_deref(), Some("1234abcd-01"));
    assert!(p.bootable);
    assert_eq!(p.partition_type.name(), "linux");
    assert!(t.problems.is_empty(), "{:?}", t.problems);
}

#[test]
fn mbr_ebr_loop_is_reported_not_followed() {
    let mut d = vec![0u8; 4 << 20];
    mbr_entry(&mut d, 0, 0, 0, 0x05, 2048, 4096);
    // EBR at 2048: a logical partition, then a link to relative LBA 100…
    mbr_entry(&mut d, 2048 * 512, 0, 0, 0x83, 1, 50);
    mbr_entry(&mut d, 2048 * 512, 1, 0, 0x05, 100, 200);
    // …whose EBR links back to relative LBA 0 (the first EBR).
    mbr_entry(&mut d, (2048 + 100) * 512, 0, 0, 0x83, 1, 50);
    mbr_entry(&mut d, (2048 + 100) * 512, 1, 0, 0x05, 0, 200);
    // A zero link ends the chain; make it point back instead.
    d[(2048 + 100) * 512 + 446 + 16 + 8..(2048 + 100) * 512 + 446 + 16 + 12]
        .copy_from_slice(&50u32.to_le_bytes());
    let t = PartitionTable::read(&disk_with(d)).unwrap();
    assert_eq!(t.kind, TableKind::Mbr);
    assert!(
        t.problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.message.contains("links backwards")),
        "{:?}",
        t.problems
    );
    // The two logical partitions before the fault are kept.
    assert_eq!(t.partitions.iter().filter(|p| p.index >= 5).count(), 2);
}

/// Regression (hostile-mbr-ebr-loop): an EBR whose link entry is of
/// extended type, with sectors, at relative LBA 0 points back at the first
/// EBR. It was taken for the end of the chain, so the loop went unreported
/// (Linux and sfdisk follow it round and round).
#[test]
fn ebr_link_back_to_relative_lba_0_is_a_loop() {
    let build = |link_sys: u8, link_sectors: u32| {
        let mut d = vec![0u8; 4 << 20];
        mbr_entry(&mut d, 0, 0, 0, 0x05, 2048, 4096);
        mbr_entry(&mut d, 2048 * 512, 0, 0, 0x83, 1, 50);
        mbr_entry(&mut d, 2048 * 512, 1, 0, 0x05, 100, 200);
        mbr_entry(&mut d, (2048 + 100) * 512, 0, 0, 0x83, 1, 50);
        mbr_entry(&mut d, (2048 + 100) * 512, 1, 0, link_sys, 0, link_sectors);
        PartitionTable::read(&disk_with(d)).unwrap()
    };
    let looped = build(0x05, 200);
    assert!(
        looped
            .problems
            .iter()
            .any(|p| p.severity == Severity::Error
                && p.message.contains("links back to the first EBR")),
        "{:?}",
        looped.problems
    );
    // Both logical partitions are still listed, once each.
    let logical: Vec<u32> = looped
        .partitions
        .iter()
        .map(|p| p.index)
        .filter(|i| *i >= 5)
        .collect();
    assert_eq!(logical, vec![5, 6]);
    // An empty link entry (type 0), or one without sectors, ends the chain.
    for (sys, sectors) in [(0x00, 0), (0x05, 0)] {
        let t = build(sys, sectors);
        assert!(
            t.problems.is_empty(),
            "{sys:#x}/{sectors}: {:?}",
            t.problems
        );
        assert_eq!(t.partitions.len(), 3);
    }
}

/// Regression (fuzz: partition_table crash-1892ed29): one used entry at
/// LBA 0 and nothing else made mbrman's alignment guess unwrap `None`. The
/// panic was caught, but it is a table over its own MBR: our error now,
/// and mbrman is not asked.
#[test]
fn mbr_entry_at_lba_0_is_an_error_not_an_mbrman_panic() {
    for (start, len) in [(0u32, 0u32), (0, 2048)] {
        let mut d = vec![0u8; 1 << 20];
        mbr_entry(&mut d, 0, 1, 0, 0x83, start, len);
        let t = PartitionTable::read(&disk_with(d)).unwrap();
        assert_eq!(t.kind, TableKind::Mbr);
        assert!(
            t.problems.iter().any(|p| p.severity == Severity::Error
                && p.message == "partition 2 starts at LBA 0, over the MBR itself"),
            "{:?}",
            t.problems
        );
        assert_eq!(t.partitions.len(), 1);
        assert_eq!(t.partitions[0].index, 2);
    }
}

#[test]
fn fat_boot_sector_is_not_an_mbr() {
    let mut d = vec![0u8; 1 << 20];
    d[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
    d[0x0D] = 4;
    d[0x52..0x57].copy_from_slice(b"FAT32");
    d[0x43..0x47].copy_from_slice(&0x92B4BA66u32.to_le_bytes());
    d[0x47..0x52].copy_from_slice(b"MYLABEL    ");
    d[510] = 0x55;
    d[511] = 0xAA;
    let t = PartitionTable::read(&disk_with(d)).unwrap();
    assert_eq!(t.kind, TableKind::None);
    let fs = t.partitions[0].fs.as_ref().unwrap();
    assert_eq!(fs.kind, FsKind::Vfat);
    assert_eq!(fs.uuid.as_deref(), Some("92B4-BA66"));
    assert_eq!(fs.label.as_deref(), Some("MYLABEL"));
}

#[test]
fn overlapping_and_past_end_partitions_are_errors() {
    let mut d = vec![0u8; 1 << 20];
    mbr_entry(&mut d, 0, 0, 0, 0x83, 100, 1000);
    mbr_entry(&mut d, 0, 1, 0, 0x83, 500, 100_000);
    let t = PartitionTable::read(&disk_with(d)).unwrap();
    let msgs: Vec<&str> = t.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("overlap")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("ends at byte")), "{msgs:?}");
}

#[test]
fn gpt_garbage_signature_without_valid_header_is_an_error_problem() {
    let mut d = vec![0u8; 1 << 20];
    d[512..520].copy_from_slice(b"EFI PART");
    let t = PartitionTable::read(&disk_with(d)).unwrap();
    assert_eq!(t.kind, TableKind::Gpt);
    assert!(t.partitions.is_empty());
    assert_eq!(t.problems[0].severity, Severity::Error);
}
