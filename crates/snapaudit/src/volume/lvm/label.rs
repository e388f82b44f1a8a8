//! The LVM2 physical volume label and PV header.
//!
//! lvm2 `lib/label/label.h` and `lib/format_text/layout.h`:
//!
//! ```text
//! struct label_header {            /* in one of sectors 0..3 */
//!     int8_t   id[8];              /* "LABELONE" */
//!     uint64_t sector_xl;          /* sector of this label */
//!     uint32_t crc_xl;             /* from offset_xl to the end of the sector */
//!     uint32_t offset_xl;          /* label start to pv_header */
//!     int8_t   type[8];            /* "LVM2 001" */
//! };
//! struct pv_header {
//!     int8_t   pv_uuid[32];
//!     uint64_t device_size_xl;     /* bytes */
//!     struct disk_locn disk_areas_xl[];  /* data areas, {0,0}, metadata areas, {0,0} */
//! };
//! struct disk_locn { uint64_t offset; uint64_t size; };   /* bytes */
//! ```
//!
//! All fields little-endian.

use super::crc::lvm_crc;
use crate::util::{le_u32, le_u64, slice};

const SECTOR_BYTES: usize = 512;
const LABEL_SCAN_SECTORS: usize = 4;
const LABEL_ID: &[u8; 8] = b"LABELONE";
const LVM2_LABEL_TYPE: &[u8; 8] = b"LVM2 001";
/// `crc_xl` covers the sector from `offset_xl` (byte 20) on.
const LABEL_CRC_FROM: usize = 20;
const PV_UUID_BYTES: usize = 32;
const DISK_LOCN_BYTES: usize = 16;

/// A byte range of the PV, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLocn {
    pub offset: u64,
    pub size: u64,
}

/// A PV label with its header, checksum verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// Byte offset of the label sector in the PV.
    pub label_offset: u64,
    /// The 32 characters of the PV UUID, without dashes.
    pub pv_uuid: String,
    pub device_size_bytes: u64,
    pub data_areas: Vec<DiskLocn>,
    pub metadata_areas: Vec<DiskLocn>,
}

/// Why a label could not be read (offsets in the PV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    pub offset: u64,
    pub what: String,
}

/// The PV label in the first four sectors of `pv`, `Ok(None)` if there is
/// none, an error when a label is there but is corrupt.
pub fn read(pv: &[u8]) -> Result<Option<PvLabel>, LabelError> {
    for sector in 0..LABEL_SCAN_SECTORS {
        let at = sector * SECTOR_BYTES;
        let Some(lh) = slice(pv, at, SECTOR_BYTES) else {
            break;
        };
        if lh.get(..8) != Some(&LABEL_ID[..]) || lh.get(24..32) != Some(&LVM2_LABEL_TYPE[..]) {
            continue;
        }
        let err = |off: usize, what: String| LabelError {
            offset: (at + off) as u64,
            what,
        };
        let sector_xl = le_u64(lh, 8).unwrap_or(u64::MAX);
        if sector_xl != sector as u64 {
            return Err(err(
                8,
                format!("label in sector {sector} says it is in sector {sector_xl}"),
            ));
        }
        let crc_xl = le_u32(lh, 16).unwrap_or(0);
        let crc = lvm_crc(lh.get(LABEL_CRC_FROM..).unwrap_or_default());
        if crc != crc_xl {
            return Err(err(
                16,
                format!("label checksum is {crc_xl:#010x}, the sector's is {crc:#010x}"),
            ));
        }
        let offset_xl = le_u32(lh, 20).unwrap_or(u32::MAX) as usize;
        let header = lh
            .get(offset_xl..)
            .filter(|h| offset_xl >= 32 && h.len() >= PV_UUID_BYTES + 8)
            .ok_or_else(|| {
                err(
                    20,
                    format!("PV header offset {offset_xl} is outside the label sector"),
                )
            })?;
        let raw_uuid = slice(header, 0, PV_UUID_BYTES).unwrap_or_default();
        if !raw_uuid.iter().all(u8::is_ascii_alphanumeric) {
            return Err(err(
                offset_xl,
                "PV UUID is not 32 letters and digits".into(),
            ));
        }
        let pv_uuid = String::from_utf8_lossy(raw_uuid).into_owned();
        let device_size_bytes = le_u64(header, PV_UUID_BYTES).unwrap_or(0);
        // Two lists, each ended by a zero entry, inside the sector.
        let mut lists: [Vec<DiskLocn>; 2] = [Vec::new(), Vec::new()];
        let mut off = PV_UUID_BYTES + 8;
        for list in &mut lists {
            loop {
                let (Some(offset), Some(size)) = (le_u64(header, off), le_u64(header, off + 8))
                else {
                    return Err(err(
                        offset_xl + off,
                        "PV header's area lists run past the label sector".into(),
                    ));
                };
                off += DISK_LOCN_BYTES;
                if offset == 0 {
                    break;
                }
                list.push(DiskLocn { offset, size });
            }
        }
        let [data_areas, metadata_areas] = lists;
        return Ok(Some(PvLabel {
            label_offset: at as u64,
            pv_uuid,
            device_size_bytes,
            data_areas,
            metadata_areas,
        }));
    }
    Ok(None)
}

/// `pv_uuid` as LVM prints it: groups of 6-4-4-4-4-4-6 joined by dashes.
pub fn format_uuid(raw: &str) -> String {
    let mut out = String::new();
    let mut pos = 0;
    for (i, n) in [6usize, 4, 4, 4, 4, 4, 6].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(raw.get(pos..pos + n).unwrap_or_default());
        pos += n;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A label in `sector` with one data area and the given metadata areas.
    pub(crate) fn label(sector: usize, uuid: &[u8; 32], size: u64, mdas: &[DiskLocn]) -> Vec<u8> {
        let mut pv = vec![0u8; 4096];
        let at = sector * SECTOR_BYTES;
        let lh = &mut pv[at..at + SECTOR_BYTES];
        lh[..8].copy_from_slice(LABEL_ID);
        lh[8..16].copy_from_slice(&(sector as u64).to_le_bytes());
        lh[20..24].copy_from_slice(&32u32.to_le_bytes());
        lh[24..32].copy_from_slice(LVM2_LABEL_TYPE);
        lh[32..64].copy_from_slice(uuid);
        lh[64..72].copy_from_slice(&size.to_le_bytes());
        let mut off = 72;
        let mut put = |lh: &mut [u8], l: DiskLocn| {
            lh[off..off + 8].copy_from_slice(&l.offset.to_le_bytes());
            lh[off + 8..off + 16].copy_from_slice(&l.size.to_le_bytes());
            off += 16;
        };
        put(
            lh,
            DiskLocn {
                offset: 1 << 20,
                size: 0,
            },
        );
        put(lh, DiskLocn { offset: 0, size: 0 });
        for m in mdas {
            put(lh, *m);
        }
        put(lh, DiskLocn { offset: 0, size: 0 });
        let crc = lvm_crc(&lh[20..]);
        lh[16..20].copy_from_slice(&crc.to_le_bytes());
        pv
    }

    #[test]
    fn reads_a_label_in_any_of_the_first_sectors() {
        let uuid = *b"abcdefABCDEF0123456789abcdefABCD";
        let mda = DiskLocn {
            offset: 4096,
            size: 1 << 20,
        };
        for sector in 0..4 {
            let l = read(&label(sector, &uuid, 8 << 20, &[mda]))
                .unwrap()
                .unwrap();
            assert_eq!(l.label_offset, sector as u64 * 512);
            assert_eq!(l.pv_uuid, String::from_utf8_lossy(&uuid));
            assert_eq!(l.device_size_bytes, 8 << 20);
            assert_eq!(
                l.data_areas,
                [DiskLocn {
                    offset: 1 << 20,
                    size: 0
                }]
            );
            assert_eq!(l.metadata_areas, [mda]);
        }
        assert_eq!(
            format_uuid(&l_uuid()),
            "abcdef-ABCD-EF01-2345-6789-abcd-efABCD"
        );
        assert_eq!(read(&[0u8; 4096]), Ok(None));
        assert_eq!(read(&[0u8; 100]), Ok(None));
    }

    fn l_uuid() -> String {
        "abcdefABCDEF0123456789abcdefABCD".into()
    }

    #[test]
    fn corrupt_labels_are_errors() {
        let uuid = *b"abcdefABCDEF0123456789abcdefABCD";
        let mut pv = label(1, &uuid, 1 << 20, &[]);
        pv[600] ^= 1;
        assert!(read(&pv).unwrap_err().what.contains("checksum"));
        // A header offset past the sector (checksum made right).
        let mut pv = label(0, &uuid, 1 << 20, &[]);
        pv[20..24].copy_from_slice(&600u32.to_le_bytes());
        let crc = lvm_crc(&pv[20..512]);
        pv[16..20].copy_from_slice(&crc.to_le_bytes());
        assert!(read(&pv).unwrap_err().what.contains("outside"));
        // Area lists without terminators.
        let mut pv = label(0, &uuid, 1 << 20, &[]);
        pv[72..512].fill(0xff);
        let crc = lvm_crc(&pv[20..512]);
        pv[16..20].copy_from_slice(&crc.to_le_bytes());
        assert!(read(&pv).unwrap_err().what.contains("past"));
    }
}
