//! LVM2's checksum (lvm2 `lib/misc/crc.c`): the reflected CRC-32 polynomial
//! of zlib, started at `INITIAL_CRC` and without the final inversion.

/// `INITIAL_CRC` of `lib/misc/crc.h`.
const INITIAL_CRC: u32 = 0xf597_a6cf;

/// `calc_crc(INITIAL_CRC, buf, len)`.
pub fn lvm_crc(buf: &[u8]) -> u32 {
    lvm_crc_continue(INITIAL_CRC, buf)
}

/// `calc_crc(crc, buf, len)`: the checksum of more bytes after those that
/// gave `crc` (metadata text that wraps around its area).
pub fn lvm_crc_continue(crc: u32, buf: &[u8]) -> u32 {
    // crc32fast inverts its state on the way in and out; lvm2 does not.
    let mut h = crc32fast::Hasher::new_with_initial(!crc);
    h.update(buf);
    !h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lvm2's own nibble-table loop, as the definition.
    fn reference(initial: u32, buf: &[u8]) -> u32 {
        const CRCTAB: [u32; 16] = [
            0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158,
            0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4,
            0xa00ae278, 0xbdbdf21c,
        ];
        let mut crc = initial;
        for &b in buf {
            crc ^= u32::from(b);
            crc = (crc >> 4) ^ CRCTAB[(crc & 0xf) as usize];
            crc = (crc >> 4) ^ CRCTAB[(crc & 0xf) as usize];
        }
        crc
    }

    #[test]
    fn equals_lvm2s_loop() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in [0, 1, 19, 492, 1000] {
            assert_eq!(lvm_crc(&data[..n]), reference(INITIAL_CRC, &data[..n]));
        }
        let split = lvm_crc_continue(lvm_crc(&data[..300]), &data[300..]);
        assert_eq!(split, lvm_crc(&data));
    }
}
