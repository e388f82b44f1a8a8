//! The footer of a fixed VHD (Virtual Hard Disk Image Format Specification,
//! "Hard Disk Footer Format"): a fixed VHD is the raw disk followed by this
//! 512-byte footer, which is why it is the cheapest container to write.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Seconds from the Unix epoch to the VHD epoch (2000-01-01 00:00:00 UTC).
const VHD_EPOCH: u64 = 946_684_800;
const DISK_TYPE_FIXED: u32 = 2;

/// Append the footer of a fixed VHD of `size` bytes (a multiple of 512) to
/// `file`, which holds the raw disk.
pub fn append_vhd_footer(
    file: &File,
    size: u64,
    uuid: [u8; 16],
    timestamp_unix: u64,
) -> io::Result<()> {
    file.write_all_at(&vhd_footer(size, uuid, timestamp_unix), size)?;
    file.set_len(size + 512)
}

/// The footer bytes.
pub fn vhd_footer(size: u64, uuid: [u8; 16], timestamp_unix: u64) -> [u8; 512] {
    let mut f = [0u8; 512];
    let mut put = |at: usize, v: &[u8]| f[at..at + v.len()].copy_from_slice(v);
    put(0, b"conectix");
    put(8, &2u32.to_be_bytes()); // features: reserved bit, always set
    put(12, &0x0001_0000u32.to_be_bytes()); // file format version 1.0
    put(16, &u64::MAX.to_be_bytes()); // data offset: none for a fixed disk
    let stamp = timestamp_unix
        .saturating_sub(VHD_EPOCH)
        .min(u64::from(u32::MAX)) as u32;
    put(24, &stamp.to_be_bytes());
    // Creator application "qem2": the marker qemu writes with force_size,
    // telling readers (qemu, Hyper-V, Azure) to take the disk size from
    // current_size rather than from the CHS geometry, which cannot express
    // most sizes exactly.
    put(28, b"qem2");
    put(32, &0x0001_0000u32.to_be_bytes()); // creator version
    put(36, b"Wi2k"); // creator host OS, as Hyper-V writes it
    put(40, &size.to_be_bytes()); // original size
    put(48, &size.to_be_bytes()); // current size
    put(56, &chs(size));
    put(60, &DISK_TYPE_FIXED.to_be_bytes());
    put(68, &uuid);
    let sum: u32 = f.iter().map(|&b| u32::from(b)).sum();
    f[64..68].copy_from_slice(&(!sum).to_be_bytes());
    f
}

/// The CHS geometry of the VHD specification's appendix ("CHS
/// calculation"): cylinders (16 bits), heads, sectors per track.
fn chs(size: u64) -> [u8; 4] {
    let mut total = size / 512;
    if total > 65535 * 16 * 255 {
        total = 65535 * 16 * 255;
    }
    let (mut spt, mut heads, mut cth);
    if total >= 65535 * 16 * 63 {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = cth.div_ceil(1024).max(4);
        if cth >= heads * 1024 || heads > 16 {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if cth >= heads * 1024 {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    let cylinders = (cth / heads).min(65535) as u16;
    let c = cylinders.to_be_bytes();
    [c[0], c[1], heads as u8, spt as u8]
}
