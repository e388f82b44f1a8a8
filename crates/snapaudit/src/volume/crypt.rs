//! Encrypted volumes: what their headers say without a key.
//!
//! - LUKS1 (`cryptsetup` docs/on-disk-format.pdf): `cipher_name[32]` at 8,
//!   `cipher_mode[32]` at 40, `uuid[40]` at 168.
//! - LUKS2 (docs/on-disk-format-luks2.pdf): a 4096-byte binary header
//!   (`hdr_size` big-endian at 8, `uuid[40]` at 168) followed by a JSON area
//!   up to `hdr_size`, whose `segments` carry the `encryption` cipher.
//! - BitLocker: the volume boot record's OEM id `-FVE-FS-` at byte 3.
//!
//! VeraCrypt/TrueCrypt volumes have no plaintext signature at all (the
//! header is encrypted with a random salt in front), so they cannot be told
//! from random data cheaply and are not detected.

use crate::util::{cstr_lossy, slice};

const LUKS_MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
const LUKS2_BINARY_HEADER_BYTES: usize = 4096;
/// cryptsetup's largest LUKS2 metadata area (4 MiB with its copy).
const LUKS2_MAX_JSON_BYTES: usize = 4 << 20;
const BITLOCKER_OEM_ID: &[u8; 8] = b"-FVE-FS-";

/// An encrypted volume's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// `LUKS1`, `LUKS2`, `BitLocker`.
    pub format: &'static str,
    /// `aes-xts-plain64`, …, where the header says.
    pub cipher: Option<String>,
    pub uuid: Option<String>,
}

/// The encryption header at the start of `bytes` (a partition or LV), if any.
pub fn detect(bytes: &[u8]) -> Option<Encryption> {
    if slice(bytes, 0, 6)? == LUKS_MAGIC {
        let version = u16::from_be_bytes(slice(bytes, 6, 2)?.try_into().ok()?);
        let uuid = Some(cstr_lossy(slice(bytes, 168, 40)?)).filter(|u| !u.is_empty());
        return Some(match version {
            1 => {
                let name = cstr_lossy(slice(bytes, 8, 32)?);
                let mode = cstr_lossy(slice(bytes, 40, 32)?);
                Encryption {
                    format: "LUKS1",
                    cipher: Some(format!("{name}-{mode}")).filter(|_| !name.is_empty()),
                    uuid,
                }
            }
            _ => Encryption {
                format: "LUKS2",
                cipher: luks2_cipher(bytes),
                uuid,
            },
        });
    }
    if slice(bytes, 3, 8)? == BITLOCKER_OEM_ID {
        return Some(Encryption {
            format: "BitLocker",
            cipher: None,
            uuid: None,
        });
    }
    None
}

/// The first segment's `encryption` in the LUKS2 JSON area.
fn luks2_cipher(bytes: &[u8]) -> Option<String> {
    let hdr_size = u64::from_be_bytes(slice(bytes, 8, 8)?.try_into().ok()?);
    let end = usize::try_from(hdr_size)
        .ok()?
        .min(LUKS2_BINARY_HEADER_BYTES + LUKS2_MAX_JSON_BYTES)
        .min(bytes.len());
    let area = bytes.get(LUKS2_BINARY_HEADER_BYTES..end)?;
    let json = &area[..area.iter().position(|&b| b == 0).unwrap_or(area.len())];
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let segments = v.get("segments")?.as_object()?;
    let mut keys: Vec<&String> = segments.keys().collect();
    keys.sort_by_key(|k| k.parse::<u64>().unwrap_or(u64::MAX));
    let first = segments.get(*keys.first()?)?;
    Some(first.get("encryption")?.as_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luks_headers_and_bitlocker() {
        let mut l1 = vec![0u8; 1024];
        l1[..6].copy_from_slice(LUKS_MAGIC);
        l1[7] = 1;
        l1[8..11].copy_from_slice(b"aes");
        l1[40..56].copy_from_slice(b"cbc-essiv:sha256");
        l1[168..172].copy_from_slice(b"abcd");
        let e = detect(&l1).unwrap();
        assert_eq!(
            (e.format, e.cipher.as_deref(), e.uuid.as_deref()),
            ("LUKS1", Some("aes-cbc-essiv:sha256"), Some("abcd"))
        );
        let mut l2 = vec![0u8; 16384];
        l2[..6].copy_from_slice(LUKS_MAGIC);
        l2[7] = 2;
        l2[8..16].copy_from_slice(&16384u64.to_be_bytes());
        let json =
            br#"{"keyslots":{},"segments":{"0":{"type":"crypt","encryption":"aes-xts-plain64"}}}"#;
        l2[4096..4096 + json.len()].copy_from_slice(json);
        assert_eq!(
            detect(&l2).unwrap().cipher.as_deref(),
            Some("aes-xts-plain64")
        );
        // A hostile size or JSON only loses the cipher.
        l2[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        l2[4096] = b'x';
        assert_eq!(detect(&l2).unwrap().cipher, None);
        let mut bl = vec![0u8; 512];
        bl[3..11].copy_from_slice(BITLOCKER_OEM_ID);
        assert_eq!(detect(&bl).unwrap().format, "BitLocker");
        assert_eq!(detect(&[0u8; 512]), None);
        assert_eq!(detect(&[]), None);
    }
}
