//! An LVM2 metadata area: its header and the metadata text it points to.
//!
//! lvm2 `lib/format_text/layout.h`:
//!
//! ```text
//! struct mda_header {                /* 512 bytes at the area's start */
//!     uint32_t checksum_xl;          /* of the rest of the 512 bytes */
//!     int8_t   magic[16];            /* " LVM2 x[5A%r0N*>" */
//!     uint32_t version;              /* 1 */
//!     uint64_t start;                /* absolute start byte of this header */
//!     uint64_t size;                 /* size of the metadata area */
//!     struct raw_locn raw_locns[];   /* ended by a zero entry */
//! };
//! struct raw_locn {
//!     uint64_t offset;               /* from the area's start */
//!     uint64_t size;                 /* bytes of text */
//!     uint32_t checksum;             /* of the text */
//!     uint32_t flags;                /* RAW_LOCN_IGNORED = 1 */
//! };
//! ```
//!
//! The area after the header is a circular buffer: text that runs past the
//! end of the area continues right after the header
//! (`lib/format_text/format-text.c`, `_read_metadata_location_vg`).

use super::crc::{lvm_crc, lvm_crc_continue};
use super::label::DiskLocn;
use crate::util::{le_u32, le_u64, slice};

const MDA_HEADER_BYTES: u64 = 512;
const FMTT_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
const FMTT_VERSION: u32 = 1;
const RAW_LOCN_IGNORED: u32 = 1;
const RAW_LOCNS_AT: usize = 40;

/// The current metadata text of one area, checksum verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataText {
    /// Byte offset (in the PV) of the text's first byte.
    pub offset: u64,
    pub text: Vec<u8>,
}

/// A problem with an area (offsets in the PV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdaError {
    pub offset: u64,
    pub what: String,
}

/// Read the metadata area `area` of `pv` (the PV's bytes). `Ok(None)` for
/// an area whose metadata is flagged ignored (`pvchange --metadataignore`)
/// or that holds no text yet.
pub fn read(pv: &[u8], area: DiskLocn) -> Result<Option<MetadataText>, MdaError> {
    let err = |off: u64, what: String| MdaError {
        offset: area.offset.saturating_add(off),
        what,
    };
    let area_end = area
        .offset
        .checked_add(area.size)
        .filter(|&e| e <= pv.len() as u64 && area.size >= MDA_HEADER_BYTES)
        .ok_or_else(|| {
            err(
                0,
                format!(
                    "metadata area of {} bytes at byte {} is outside the {}-byte PV",
                    area.size,
                    area.offset,
                    pv.len()
                ),
            )
        })?;
    // Both bounds checked just above.
    let mda = pv
        .get(area.offset as usize..area_end as usize)
        .unwrap_or_default();
    let header = slice(mda, 0, MDA_HEADER_BYTES as usize).unwrap_or_default();
    if header.get(4..20) != Some(&FMTT_MAGIC[..]) {
        return Err(err(
            4,
            "metadata area header has no \" LVM2 x[5A%r0N*>\" magic".into(),
        ));
    }
    let checksum_xl = le_u32(header, 0).unwrap_or(0);
    let crc = lvm_crc(header.get(4..).unwrap_or_default());
    if crc != checksum_xl {
        return Err(err(
            0,
            format!(
                "metadata area header checksum is {checksum_xl:#010x}, the header's is {crc:#010x}"
            ),
        ));
    }
    let version = le_u32(header, 20).unwrap_or(0);
    if version != FMTT_VERSION {
        return Err(err(
            20,
            format!("metadata area header version {version}, expected 1"),
        ));
    }
    let start = le_u64(header, 24).unwrap_or(0);
    let size = le_u64(header, 32).unwrap_or(0);
    if start != area.offset || size != area.size {
        return Err(err(
            24,
            format!(
                "metadata area header says it is {size} bytes at byte {start}; the PV label says {} at {}",
                area.size, area.offset
            ),
        ));
    }
    // raw_locns[0] is the committed metadata (a second slot holds
    // precommitted metadata during an update, not yet in force).
    let offset = le_u64(header, RAW_LOCNS_AT).unwrap_or(0);
    let text_bytes = le_u64(header, RAW_LOCNS_AT + 8).unwrap_or(0);
    let checksum = le_u32(header, RAW_LOCNS_AT + 16).unwrap_or(0);
    let flags = le_u32(header, RAW_LOCNS_AT + 20).unwrap_or(0);
    if offset == 0 || flags & RAW_LOCN_IGNORED != 0 {
        return Ok(None);
    }
    let buffer_bytes = area.size - MDA_HEADER_BYTES;
    if offset < MDA_HEADER_BYTES || offset >= area.size || text_bytes > buffer_bytes {
        return Err(err(
            RAW_LOCNS_AT as u64,
            format!(
                "metadata text of {text_bytes} bytes at offset {offset} does not fit the {}-byte area",
                area.size
            ),
        ));
    }
    if text_bytes as usize > super::text::MAX_TEXT_BYTES {
        return Err(err(
            RAW_LOCNS_AT as u64 + 8,
            format!("metadata text of {text_bytes} bytes is larger than snapaudit reads"),
        ));
    }
    // The text up to the end of the area, then the rest from just after the
    // header. All in range: offset < size, text_bytes ≤ size − 512, so the
    // wrapped part ends before the text's start.
    let first_len = text_bytes.min(area.size - offset);
    let first = mda
        .get(offset as usize..(offset + first_len) as usize)
        .unwrap_or_default();
    let wrapped = text_bytes - first_len;
    let second = mda
        .get(MDA_HEADER_BYTES as usize..(MDA_HEADER_BYTES + wrapped) as usize)
        .unwrap_or_default();
    let crc = lvm_crc_continue(lvm_crc(first), second);
    if crc != checksum {
        return Err(err(
            offset,
            format!("metadata text checksum is {checksum:#010x}, the text's is {crc:#010x}"),
        ));
    }
    let mut text = Vec::with_capacity(text_bytes as usize);
    text.extend_from_slice(first);
    text.extend_from_slice(second);
    Ok(Some(MetadataText {
        offset: area.offset + offset,
        text,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An area of `size` bytes at `at` in `pv` holding `text` at `offset`
    /// (wrapping when it runs past the end).
    pub(crate) fn write_area(pv: &mut [u8], at: usize, size: usize, offset: usize, text: &[u8]) {
        let area = &mut pv[at..at + size];
        area.fill(0);
        let first_len = text.len().min(size - offset);
        area[offset..offset + first_len].copy_from_slice(&text[..first_len]);
        let rest = &text[first_len..];
        area[512..512 + rest.len()].copy_from_slice(rest);
        let crc = lvm_crc_continue(lvm_crc(&text[..first_len]), rest);
        let h = &mut area[..512];
        h[4..20].copy_from_slice(FMTT_MAGIC);
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[24..32].copy_from_slice(&(at as u64).to_le_bytes());
        h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
        h[40..48].copy_from_slice(&(offset as u64).to_le_bytes());
        h[48..56].copy_from_slice(&(text.len() as u64).to_le_bytes());
        h[56..60].copy_from_slice(&crc.to_le_bytes());
        let hc = lvm_crc(&h[4..]);
        h[..4].copy_from_slice(&hc.to_le_bytes());
    }

    #[test]
    fn reads_plain_and_wrapped_text() {
        let text = b"vg { seqno = 1 }\n".repeat(20);
        let mut pv = vec![0u8; 8192];
        let area = DiskLocn {
            offset: 4096,
            size: 2048,
        };
        write_area(&mut pv, 4096, 2048, 600, &text);
        let got = read(&pv, area).unwrap().unwrap();
        assert_eq!(got.text, text);
        assert_eq!(got.offset, 4096 + 600);
        // Wraps: starts 100 bytes before the end of the area.
        write_area(&mut pv, 4096, 2048, 1948, &text);
        assert_eq!(read(&pv, area).unwrap().unwrap().text, text);
        // A flipped byte of the wrapped part fails the checksum.
        pv[4096 + 512 + 5] ^= 1;
        assert!(read(&pv, area).unwrap_err().what.contains("checksum"));
    }

    #[test]
    fn hostile_areas_are_errors() {
        let mut pv = vec![0u8; 8192];
        let area = DiskLocn {
            offset: 4096,
            size: 2048,
        };
        assert!(read(&pv, area).unwrap_err().what.contains("magic"));
        assert!(
            read(
                &pv,
                DiskLocn {
                    offset: 8000,
                    size: 2048
                }
            )
            .is_err()
        );
        assert!(
            read(
                &pv,
                DiskLocn {
                    offset: u64::MAX,
                    size: 2
                }
            )
            .is_err()
        );
        write_area(&mut pv, 4096, 2048, 600, b"x = 1");
        // Text size larger than the buffer (header checksum made right).
        let h = &mut pv[4096..4096 + 512];
        h[48..56].copy_from_slice(&5000u64.to_le_bytes());
        let hc = lvm_crc(&h[4..]);
        h[..4].copy_from_slice(&hc.to_le_bytes());
        assert!(read(&pv, area).unwrap_err().what.contains("does not fit"));
        // Text starting inside the header.
        let h = &mut pv[4096..4096 + 512];
        h[40..48].copy_from_slice(&100u64.to_le_bytes());
        h[48..56].copy_from_slice(&10u64.to_le_bytes());
        let hc = lvm_crc(&h[4..]);
        h[..4].copy_from_slice(&hc.to_le_bytes());
        assert!(read(&pv, area).unwrap_err().what.contains("does not fit"));
    }
}
