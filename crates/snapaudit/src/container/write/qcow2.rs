//! A qcow2 v3 writer (QEMU `docs/interop/qcow2.txt`), laid out for one
//! sequential pass over the source: the header cluster, then every
//! non-zero data cluster in guest order, then the L2 tables, the L1 table,
//! the refcount blocks and the refcount table. Refcounts are 16 bits (the
//! qemu default) and every cluster's is 1, so every L1/L2 entry carries the
//! COPIED flag, as `qemu-img check` expects of an image without snapshots.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const CLUSTER_BITS: u32 = 16;
const CLUSTER: u64 = 1 << CLUSTER_BITS;
const L2_ENTRIES: u64 = CLUSTER / 8;
/// 16-bit refcounts: this many clusters per refcount block.
const REFCOUNTS_PER_BLOCK: u64 = CLUSTER / 2;
const COPIED: u64 = 1 << 63;
const HEADER_LENGTH: u32 = 104;

/// Write the `size`-byte raw disk in `src` (whose data segments are
/// `data`, ascending; everything else reads as zeros) to `out` as qcow2.
/// `out` must be empty. Returns the number of data clusters written.
pub fn write_qcow2(src: &File, size: u64, data: &[(u64, u64)], out: &File) -> io::Result<u64> {
    let mut buf = vec![0u8; CLUSTER as usize];
    // Guest cluster → host cluster, in guest order.
    let mut mapped: Vec<(u64, u64)> = Vec::new();
    let mut next_host = 1u64; // Cluster 0 is the header.
    let mut last_cluster = None;
    for &(start, end) in data {
        let end = end.min(size);
        let mut cluster = start / CLUSTER;
        while cluster * CLUSTER < end {
            if last_cluster.is_some_and(|l| l >= cluster) {
                cluster += 1;
                continue; // Already written with the previous segment.
            }
            last_cluster = Some(cluster);
            let at = cluster * CLUSTER;
            let len = CLUSTER.min(size - at) as usize;
            buf.fill(0);
            src.read_exact_at(&mut buf[..len], at)?;
            if buf.iter().any(|&b| b != 0) {
                out.write_all_at(&buf, next_host * CLUSTER)?;
                mapped.push((cluster, next_host));
                next_host += 1;
            }
            cluster += 1;
        }
    }
    let n_data = mapped.len() as u64;
    let l1_size = size.div_ceil(CLUSTER * L2_ENTRIES);
    let l1_clusters = (l1_size * 8).div_ceil(CLUSTER).max(1);
    // One L2 table per L1 entry that maps anything.
    let mut l2_tables: Vec<u64> = mapped.iter().map(|(g, _)| g / L2_ENTRIES).collect();
    l2_tables.dedup();
    let n_l2 = l2_tables.len() as u64;
    let fixed = 1 + n_data + n_l2 + l1_clusters;
    // The refcount structures count themselves: iterate to the fixpoint.
    let (mut rb, mut rt) = (1u64, 1u64);
    loop {
        let total = fixed + rb + rt;
        let rb2 = total.div_ceil(REFCOUNTS_PER_BLOCK);
        let rt2 = (rb2 * 8).div_ceil(CLUSTER);
        if rb2 == rb && rt2 == rt {
            break;
        }
        (rb, rt) = (rb2, rt2);
    }
    let total = fixed + rb + rt;
    let l2_base = next_host;
    let l1_base = l2_base + n_l2;
    let rb_base = l1_base + l1_clusters;
    let rt_base = rb_base + rb;

    // L2 tables.
    let mut l1 = vec![0u8; (l1_clusters * CLUSTER) as usize];
    let mut m = mapped.iter().peekable();
    for (i, table) in l2_tables.iter().enumerate() {
        buf.fill(0);
        while let Some(&&(guest, host)) = m.peek() {
            if guest / L2_ENTRIES != *table {
                break;
            }
            let slot = ((guest % L2_ENTRIES) * 8) as usize;
            buf[slot..slot + 8].copy_from_slice(&((host * CLUSTER) | COPIED).to_be_bytes());
            m.next();
        }
        let host = l2_base + i as u64;
        out.write_all_at(&buf, host * CLUSTER)?;
        let slot = (*table * 8) as usize;
        l1[slot..slot + 8].copy_from_slice(&((host * CLUSTER) | COPIED).to_be_bytes());
    }
    out.write_all_at(&l1, l1_base * CLUSTER)?;
    // Refcount blocks: 1 for every cluster in use.
    let mut block = vec![0u8; CLUSTER as usize];
    let mut table = vec![0u8; (rt * CLUSTER) as usize];
    for b in 0..rb {
        block.fill(0);
        let first = b * REFCOUNTS_PER_BLOCK;
        for c in first..total.min(first + REFCOUNTS_PER_BLOCK) {
            let slot = ((c - first) * 2) as usize;
            block[slot..slot + 2].copy_from_slice(&1u16.to_be_bytes());
        }
        out.write_all_at(&block, (rb_base + b) * CLUSTER)?;
        let slot = (b * 8) as usize;
        table[slot..slot + 8].copy_from_slice(&((rb_base + b) * CLUSTER).to_be_bytes());
    }
    out.write_all_at(&table, rt_base * CLUSTER)?;
    out.write_all_at(&header(size, l1_size, l1_base, rt_base, rt), 0)?;
    out.set_len(total * CLUSTER)?;
    Ok(n_data)
}

/// The header cluster: version 3, no features, 16-bit refcounts, followed
/// by the end-of-extensions marker (zeros).
fn header(size: u64, l1_size: u64, l1_base: u64, rt_base: u64, rt_clusters: u64) -> Vec<u8> {
    let mut h = vec![0u8; CLUSTER as usize];
    let mut put = |at: usize, v: &[u8]| h[at..at + v.len()].copy_from_slice(v);
    put(0, b"QFI\xfb");
    put(4, &3u32.to_be_bytes());
    put(20, &CLUSTER_BITS.to_be_bytes());
    put(24, &size.to_be_bytes());
    put(36, &(l1_size as u32).to_be_bytes());
    put(40, &(l1_base * CLUSTER).to_be_bytes());
    put(48, &(rt_base * CLUSTER).to_be_bytes());
    put(56, &(rt_clusters as u32).to_be_bytes());
    put(96, &4u32.to_be_bytes()); // refcount_order: 16-bit refcounts
    put(100, &HEADER_LENGTH.to_be_bytes());
    h
}
