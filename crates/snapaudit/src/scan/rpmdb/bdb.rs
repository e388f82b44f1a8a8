//! Berkeley DB files as rpm ≤ 4.15 writes its `Packages` database (RHEL
//! and CentOS 7 and 8, Alibaba Cloud Linux 2 and 3, SUSE before 15.3): a
//! **hash** database whose keys are header numbers and whose data are
//! header blobs. B-tree databases (some rpm builds use them) are read the
//! same way, from their leaf pages.
//!
//! Not a lookup structure: every page is visited once, in file order, and
//! every key/data pair on a hash page (types 13 and 2) or b-tree leaf page
//! (type 5) is reported; data that does not fit a page lives in a chain of
//! overflow pages (type 7), assembled here. A header number seen twice
//! (a stale page) counts once. Read: the metadata page (magic 0x061561 for
//! hash, 0x053162 for b-tree, in either byte order; page size; the
//! checksum flag, which moves the item index). Not read: encrypted
//! databases (`Unsupported`), off-page duplicates (rpm does not store
//! duplicates in `Packages`).
//!
//! An overflow chain may not visit a page twice and stops at its declared
//! length; the items of one walk may not add up to more than the file
//! (items of a hostile file sharing bytes or chains). Any input ends, in
//! time and memory linear in its size.

use std::collections::HashSet;

use crate::{Error, Result};

const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;

const P_HASH_UNSORTED: u8 = 2;
const P_LBTREE: u8 = 5;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;

const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const B_KEYDATA: u8 = 1;
const B_OVERFLOW: u8 = 3;
/// Flag on a b-tree item's type: deleted.
const B_DELETE: u8 = 0x80;

/// `SIZEOF_PAGE`: the generic page header.
const PAGE_HEADER_BYTES: usize = 26;
/// `DBMETA_CHKSUM` in the meta page's `metaflags`.
const DBMETA_CHKSUM: u8 = 0x01;
/// `sizeof(PG_CHKSUM)`: alignment and checksum after the header.
const CHKSUM_BYTES: usize = 6;

/// Which access method the metadata page names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMethod {
    Hash,
    Btree,
}

/// An open database file, borrowed.
#[derive(Debug)]
pub struct BdbFile<'a> {
    bytes: &'a [u8],
    pub method: AccessMethod,
    big_endian: bool,
    page_size: usize,
    /// Offset of the item index (and of overflow data) in a page.
    overhead: usize,
    page_count: u32,
}

/// One key/data item of a page, as stored.
enum Item<'p> {
    Inline(&'p [u8]),
    /// First overflow page and total length.
    Overflow(u32, u32),
}

impl<'a> BdbFile<'a> {
    /// Reads the metadata page.
    pub fn open(bytes: &'a [u8]) -> Result<BdbFile<'a>> {
        let magic_le = crate::util::le_u32(bytes, 12)
            .ok_or_else(|| Error::corrupt(0, "bdb: truncated metadata page"))?;
        let (method, big_endian) = match (magic_le, magic_le.swap_bytes()) {
            (HASH_MAGIC, _) => (AccessMethod::Hash, false),
            (BTREE_MAGIC, _) => (AccessMethod::Btree, false),
            (_, HASH_MAGIC) => (AccessMethod::Hash, true),
            (_, BTREE_MAGIC) => (AccessMethod::Btree, true),
            _ => {
                return Err(Error::corrupt(
                    12,
                    "not a Berkeley DB hash or b-tree database",
                ));
            }
        };
        let mut db = BdbFile {
            bytes,
            method,
            big_endian,
            page_size: 0,
            overhead: PAGE_HEADER_BYTES,
            page_count: 0,
        };
        let page_size = db.u32_at(bytes, 20).unwrap_or(0) as usize;
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(Error::corrupt(20, format!("bdb: page size {page_size}")));
        }
        if bytes.get(24).copied().unwrap_or(0) != 0 {
            return Err(Error::unsupported("encrypted Berkeley DB database"));
        }
        if bytes.get(26).copied().unwrap_or(0) & DBMETA_CHKSUM != 0 {
            db.overhead += CHKSUM_BYTES;
        }
        db.page_size = page_size;
        db.page_count = u32::try_from(bytes.len() / page_size).unwrap_or(u32::MAX);
        Ok(db)
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let raw: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }

    fn u16_at(&self, b: &[u8], at: usize) -> Option<usize> {
        let raw: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(usize::from(if self.big_endian {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        }))
    }

    fn page(&self, pgno: u32) -> Option<&'a [u8]> {
        let start = (pgno as usize).checked_mul(self.page_size)?;
        self.bytes.get(start..start.checked_add(self.page_size)?)
    }

    /// The items of a hash or b-tree leaf page, in index order; `None` for
    /// other pages.
    fn items(&self, pgno: u32, page: &'a [u8]) -> Option<Vec<Item<'a>>> {
        let kind = *page.get(25)?;
        // A page whose number field disagrees is unused or stale.
        if self.u32_at(page, 8)? != pgno {
            return None;
        }
        let hash = match kind {
            P_HASH | P_HASH_UNSORTED if self.method == AccessMethod::Hash => true,
            P_LBTREE if self.method == AccessMethod::Btree => false,
            _ => return None,
        };
        let entries = self.u16_at(page, 20)?;
        let mut offsets = Vec::with_capacity(entries.min(self.page_size / 2));
        for i in 0..entries {
            let at = self.u16_at(page, self.overhead + 2 * i)?;
            if at < self.overhead || at >= self.page_size {
                return None;
            }
            offsets.push(at);
        }
        // An item ends where the next one (by offset) starts: hash items
        // carry no length.
        let mut sorted = offsets.clone();
        sorted.sort_unstable();
        let end_of = |at: usize| {
            let next = sorted.partition_point(|&o| o <= at);
            sorted.get(next).copied().unwrap_or(self.page_size)
        };
        let mut out = Vec::with_capacity(offsets.len());
        for &at in &offsets {
            let item = if hash {
                match *page.get(at)? {
                    H_KEYDATA => Item::Inline(page.get(at + 1..end_of(at))?),
                    H_OFFPAGE => {
                        Item::Overflow(self.u32_at(page, at + 4)?, self.u32_at(page, at + 8)?)
                    }
                    _ => return None,
                }
            } else {
                let len = self.u16_at(page, at)?;
                let kind = *page.get(at + 2)?;
                match kind & !B_DELETE {
                    _ if kind & B_DELETE != 0 => Item::Inline(&[]),
                    B_KEYDATA => Item::Inline(page.get(at + 3..at + 3 + len)?),
                    B_OVERFLOW => {
                        Item::Overflow(self.u32_at(page, at + 4)?, self.u32_at(page, at + 8)?)
                    }
                    _ => return None,
                }
            };
            out.push(item);
        }
        Some(out)
    }

    /// The bytes of an overflow item: the chain from `pgno`, `total` bytes.
    fn overflow(&self, mut pgno: u32, total: u32, out: &mut Vec<u8>) -> Result<()> {
        let total = total as usize;
        if total > self.bytes.len() {
            return Err(Error::corrupt(
                0,
                format!("bdb: overflow item of {total} bytes"),
            ));
        }
        out.clear();
        let mut seen = HashSet::new();
        while out.len() < total {
            let at = (pgno as u64).saturating_mul(self.page_size as u64);
            if pgno == 0 || !seen.insert(pgno) {
                return Err(Error::corrupt(
                    at,
                    format!("bdb: overflow chain ends or loops at page {pgno}"),
                ));
            }
            let page = self.page(pgno).ok_or_else(|| {
                Error::corrupt(at, format!("bdb: overflow page {pgno} outside the file"))
            })?;
            if page.get(25) != Some(&P_OVERFLOW) {
                return Err(Error::corrupt(
                    at,
                    format!("bdb: page {pgno} in an overflow chain is not an overflow page"),
                ));
            }
            let len = self.u16_at(page, 22).unwrap_or(0).min(total - out.len());
            let data = page
                .get(self.overhead..self.overhead + len)
                .ok_or_else(|| Error::corrupt(at, "bdb: overflow length past the page"))?;
            out.extend_from_slice(data);
            pgno = self.u32_at(page, 16).unwrap_or(0);
            if len == 0 && out.len() < total {
                return Err(Error::corrupt(at, "bdb: empty overflow page"));
            }
        }
        Ok(())
    }

    /// Calls `f(key, data)` for every key/data pair, each key once. A pair
    /// whose overflow chain is corrupt is skipped.
    pub fn for_each_pair(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        let mut seen_keys: HashSet<Vec<u8>> = HashSet::new();
        let mut key_buf = Vec::new();
        let mut data_buf = Vec::new();
        // Items do not overlap and an overflow page belongs to one item, so
        // the items of a sound file add up to less than the file; a hostile
        // one may point every item at the same chain. The budget keeps the
        // work linear.
        let mut budget_bytes = self.bytes.len();
        let mut spend = |n: usize| -> Result<()> {
            budget_bytes = budget_bytes
                .checked_sub(n)
                .ok_or_else(|| Error::corrupt(0, "bdb: items add up to more than the file"))?;
            Ok(())
        };
        for pgno in 1..self.page_count {
            let Some(page) = self.page(pgno) else { break };
            let Some(items) = self.items(pgno, page) else {
                continue;
            };
            for pair in items.chunks_exact(2) {
                let [key, data] = pair else { continue };
                spend(pair_len(key).saturating_add(pair_len(data)))?;
                let key: &[u8] = match key {
                    Item::Inline(k) => k,
                    Item::Overflow(p, n) => {
                        if self.overflow(*p, *n, &mut key_buf).is_err() {
                            continue;
                        }
                        &key_buf
                    }
                };
                if !seen_keys.insert(key.to_vec()) {
                    continue;
                }
                match data {
                    Item::Inline(d) => f(key, d),
                    Item::Overflow(p, n) => {
                        if self.overflow(*p, *n, &mut data_buf).is_ok() {
                            f(key, &data_buf);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Bytes an item stands for (its declared length when off-page).
fn pair_len(item: &Item<'_>) -> usize {
    match item {
        Item::Inline(b) => b.len(),
        Item::Overflow(_, n) => *n as usize,
    }
}

/// Calls `f` with each header blob of rpm's `Packages` database (key 0
/// holds rpm's next-instance counter, not a header).
pub fn for_each_package_blob(bytes: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<()> {
    let db = BdbFile::open(bytes)?;
    db.for_each_pair(&mut |key, data| {
        if key != [0, 0, 0, 0] {
            f(data);
        }
    })
}
