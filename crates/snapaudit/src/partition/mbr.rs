//! Master Boot Record with extended/logical partitions.
//!
//! Whether sector 0 is an MBR at all is decided here (0x55AA plus sane
//! entries, and not a FAT/NTFS boot sector of a filesystem written straight
//! onto the disk). The extended-partition chain is walked once by
//! [`walk_ebr_chain`] with checked arithmetic, a hop limit and loop
//! detection before `mbrman` is asked to parse it: `mbrman` adds on-disk
//! u32 sector numbers without overflow checks.

use std::io::Cursor;

use super::{Partition, PartitionTable, PartitionType, TableKind, TableProblem};
use crate::Result;
use crate::util::{le_u32, slice};

const SECTOR: u64 = 512;
const ENTRY_TABLE: usize = 446;
/// More logical partitions than Linux will name (it stops at 255 minors per
/// disk); a longer chain is corrupt or hostile.
const MAX_LOGICAL: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Entry {
    boot: u8,
    sys: u8,
    starting_lba: u32,
    sectors: u32,
}

fn entry(sector: &[u8], i: usize) -> Option<Entry> {
    let e = slice(sector, ENTRY_TABLE + 16 * i, 16)?;
    Some(Entry {
        boot: e[0],
        sys: e[4],
        starting_lba: le_u32(e, 8)?,
        sectors: le_u32(e, 12)?,
    })
}

fn is_extended(sys: u8) -> bool {
    matches!(sys, 0x05 | 0x0f | 0x85)
}

/// A volume boot record of a FAT or NTFS filesystem also ends in 0x55AA;
/// tell it from an MBR by the filesystem's own signature (as blkid does).
fn looks_like_fs_boot_sector(s0: &[u8]) -> bool {
    let at = |o: usize, m: &[u8]| s0.get(o..o + m.len()) == Some(m);
    at(3, b"NTFS    ") || at(3, b"EXFAT   ") || at(0x36, b"FAT") || at(0x52, b"FAT32")
}

/// Read an MBR if sector 0 holds one (`Ok(None)` otherwise).
pub(super) fn read(disk: &[u8]) -> Result<Option<PartitionTable>> {
    let Some(s0) = disk.get(..SECTOR as usize) else {
        return Ok(None);
    };
    if s0[510..512] != [0x55, 0xAA] || looks_like_fs_boot_sector(s0) {
        return Ok(None);
    }
    let entries: Vec<Entry> = (0..4).filter_map(|i| entry(s0, i)).collect();
    // Boot indicators other than 0x00/0x80 mean this is not a partition table.
    if entries.iter().any(|e| e.boot != 0 && e.boot != 0x80) {
        return Ok(None);
    }
    if entries.iter().all(|e| e.sys == 0) {
        return Ok(None);
    }
    let signature = le_u32(s0, 440).unwrap_or(0);
    let disk_sectors = disk.len() as u64 / SECTOR;
    let mut problems = Vec::new();
    let mut partitions = Vec::new();

    let extended: Vec<&Entry> = entries.iter().filter(|e| is_extended(e.sys)).collect();
    if extended.len() > 1 {
        problems.push(TableProblem::error(
            format!(
                "the MBR has {} extended partitions; only one is allowed",
                extended.len()
            ),
            Some(ENTRY_TABLE as u64),
        ));
    }
    let chain = match extended.first() {
        Some(ext) => walk_ebr_chain(disk, ext.starting_lba, disk_sectors).map_err(
            |(fault, offset, found)| {
                (
                    format!("the extended partition chain is corrupt: {fault}"),
                    offset,
                    found,
                )
            },
        ),
        None => Ok(Vec::new()),
    };
    // A used entry starting at LBA 0 lies over the MBR itself. It is
    // corrupt, and mbrman's alignment guess panics when every used entry
    // starts there, so mbrman is not asked.
    let chain = chain.and_then(|found| {
        match entries
            .iter()
            .position(|e| e.sys != 0 && e.starting_lba == 0)
        {
            Some(i) => Err((
                format!("partition {} starts at LBA 0, over the MBR itself", i + 1),
                (ENTRY_TABLE + 16 * i) as u64,
                found,
            )),
            None => Ok(found),
        }
    });
    match chain {
        // The chain is sound, so mbrman can be trusted with it.
        Ok(_) => match parse_with_mbrman(disk) {
            Ok(parsed) => {
                for (index, start_lba, e) in parsed {
                    partitions.push(make(index, &e, start_lba, signature));
                }
            }
            Err(fault) => problems.push(TableProblem::error(
                format!("the MBR cannot be parsed: {fault}"),
                Some(ENTRY_TABLE as u64),
            )),
        },
        // mbrman refuses broken chains as a whole (and panics on some
        // tables); keep what precedes the fault.
        Err((fault, offset, found)) => {
            problems.push(TableProblem::error(fault, Some(offset)));
            for (i, e) in entries.iter().enumerate() {
                if e.sys != 0 {
                    partitions.push(make(i as u32 + 1, e, u64::from(e.starting_lba), signature));
                }
            }
            for (n, (abs_start, e)) in found.into_iter().enumerate() {
                partitions.push(make(5 + n as u32, &e, abs_start, signature));
            }
        }
    }

    Ok(Some(PartitionTable {
        kind: TableKind::Mbr,
        sector_bytes: SECTOR,
        disk_id: Some(format!("{signature:08x}")),
        partitions,
        problems,
    }))
}

fn make(index: u32, e: &Entry, start_lba: u64, signature: u32) -> Partition {
    Partition {
        index,
        start_bytes: start_lba * SECTOR,
        size_bytes: u64::from(e.sectors) * SECTOR,
        partition_type: PartitionType::Mbr(e.sys),
        name: None,
        // Linux's PARTUUID for MBR disks: disk signature and partition number.
        partuuid: Some(format!("{signature:08x}-{index:02x}")),
        bootable: e.boot == 0x80,
        fs: None,
    }
}

type ChainFault = (String, u64, Vec<(u64, Entry)>);

/// Follow the EBR chain from the extended partition at `ext_lba`. Returns the
/// logical partitions with absolute start LBAs, or a fault with the byte
/// offset of the bad EBR and the partitions found before it.
fn walk_ebr_chain(
    disk: &[u8],
    ext_lba: u32,
    disk_sectors: u64,
) -> Result<Vec<(u64, Entry)>, ChainFault> {
    let mut found = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut ebr_rel: u64 = 0;
    loop {
        let ebr_lba = u64::from(ext_lba) + ebr_rel;
        let offset = ebr_lba * SECTOR;
        if !seen.insert(ebr_lba) {
            return Err((
                format!("the EBR at LBA {ebr_lba} links back to an earlier EBR (a loop)"),
                offset,
                found,
            ));
        }
        if found.len() >= MAX_LOGICAL {
            return Err((
                format!("more than {MAX_LOGICAL} logical partitions"),
                offset,
                found,
            ));
        }
        if ebr_lba >= disk_sectors {
            return Err((
                format!(
                    "the EBR at LBA {ebr_lba} lies past the end of the image ({disk_sectors} sectors)"
                ),
                offset,
                found,
            ));
        }
        let Some(sector) = disk.get(offset as usize..(offset + SECTOR) as usize) else {
            return Err((
                format!("the EBR at LBA {ebr_lba} cannot be read"),
                offset,
                found,
            ));
        };
        if sector[510..512] != [0x55, 0xAA] {
            if ebr_rel == 0 {
                // An empty extended partition need not carry an EBR.
                return Ok(found);
            }
            return Err((
                format!("the EBR at LBA {ebr_lba} has no 0x55AA signature"),
                offset,
                found,
            ));
        }
        let (Some(logical), Some(next)) = (entry(sector, 0), entry(sector, 1)) else {
            return Err((format!("the EBR at LBA {ebr_lba} is short"), offset, found));
        };
        // mbrman adds the EBR's LBA to its first entry's start in u32
        // whether or not the entry is used: past 2^32 that wraps (a wrong
        // start, or a panic with overflow checks), so even an unused entry
        // that far out keeps the table from mbrman.
        let start = ebr_lba + u64::from(logical.starting_lba);
        if start > u64::from(u32::MAX) {
            let what = if logical.sys != 0 {
                "a logical partition"
            } else {
                "an unused entry"
            };
            return Err((
                format!("{what} in the EBR at LBA {ebr_lba} starts beyond 2 TiB"),
                offset,
                found,
            ));
        }
        if logical.sys != 0 {
            found.push((start, logical));
        }
        // Link offsets are relative to the first EBR, so an extended-type
        // link with sectors but offset 0 points back at the first EBR:
        // Linux and sfdisk follow it round and round (mbrman stops, taking
        // it for the end). It is a loop, not the end of the chain.
        if next.starting_lba == 0 && is_extended(next.sys) && next.sectors != 0 {
            return Err((
                format!(
                    "the EBR at LBA {ebr_lba} links back to the first EBR at LBA {ext_lba} (a loop)"
                ),
                offset,
                found,
            ));
        }
        if next.sys == 0 || next.starting_lba == 0 {
            return Ok(found);
        }
        // Each link is relative to the extended partition's start and must
        // move forward: that is what mbrman requires and what ends the walk.
        let next_rel = u64::from(next.starting_lba);
        if next_rel <= ebr_rel {
            return Err((
                format!(
                    "the EBR at LBA {ebr_lba} links backwards to LBA {}",
                    u64::from(ext_lba) + next_rel
                ),
                offset,
                found,
            ));
        }
        if u64::from(ext_lba) + next_rel > u64::from(u32::MAX) {
            return Err((
                format!("the EBR at LBA {ebr_lba} links beyond 2 TiB"),
                offset,
                found,
            ));
        }
        ebr_rel = next_rel;
    }
}

/// Primary and logical partitions as mbrman reads them (the chain was
/// validated first), numbered the way Linux numbers them.
fn parse_with_mbrman(disk: &[u8]) -> Result<Vec<(u32, u64, Entry)>, String> {
    // Defence in depth, as for the gpt crate: a panic in the third-party
    // parser must become an error, not abort the audit.
    let parsed = std::panic::catch_unwind(|| {
        let mut cur = Cursor::new(disk);
        mbrman::MBR::read_from(&mut cur, SECTOR as u32)
    });
    let mbr = match parsed {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("the mbrman parser failed on this table".to_string()),
    };
    let conv = |p: &mbrman::MBRPartitionEntry| Entry {
        boot: p.boot,
        sys: p.sys,
        starting_lba: p.starting_lba,
        sectors: p.sectors,
    };
    let mut out = Vec::new();
    for (i, p) in mbr.header.iter() {
        if p.is_used() {
            out.push((i as u32, u64::from(p.starting_lba), conv(p)));
        }
    }
    let logicals = mbr.logical_partitions.iter().map(|l| &l.partition);
    for (n, p) in logicals
        .filter(|p| p.is_used() && p.sectors > 0)
        .enumerate()
    {
        out.push((5 + n as u32, u64::from(p.starting_lba), conv(p)));
    }
    Ok(out)
}
