//! A minimal read-only reader of SQLite 3 database files: enough to run
//! `SELECT blob FROM Packages` over rpm ≥ 4.16's `rpmdb.sqlite` (Fedora 33+,
//! RHEL 9, Rocky 9, Alibaba Cloud Linux 4).
//!
//! Read: the 100-byte file header (page size, with 1 meaning 65536;
//! reserved bytes per page; text encoding), the schema table on page 1 (to
//! find a table's root page and column order), table b-trees (interior
//! 0x05 and leaf 0x0D pages), records (header varints and serial types) and
//! overflow page chains. Not read: indexes, free lists, and the write-ahead
//! log: rows still in `rpmdb.sqlite-wal` are not seen. rpm checkpoints the
//! log when it closes the database, so a copy of a shut-down system holds
//! everything in the main file.
//!
//! Every page number is checked against the file, a b-tree page is visited
//! at most once (cycles end the walk), the depth is capped and an overflow
//! chain cannot visit a page twice; the payloads of one walk may not add
//! up to more than the file (overlapping cells of a hostile file), so any
//! input ends, in time linear in its size.

use crate::{Error, Result};

const MAGIC: &[u8; 16] = b"SQLite format 3\0";
const HEADER_BYTES: usize = 100;
const PAGE_INTERIOR_TABLE: u8 = 0x05;
const PAGE_LEAF_TABLE: u8 = 0x0D;
/// Deeper than any real table b-tree (a 2^64-row table with 4 cells a page
/// is 32 deep).
const MAX_DEPTH: usize = 40;

/// An open database file, borrowed.
#[derive(Debug)]
pub struct SqliteFile<'a> {
    bytes: &'a [u8],
    page_size: usize,
    /// Page size minus the reserved bytes at the end of each page.
    usable_size: usize,
    page_count: u32,
}

/// A SQL value of a record, borrowed from the page (or the assembled
/// payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'r> {
    Null,
    Int(i64),
    /// Floats are kept as their bits: nothing here needs them.
    Float(u64),
    Blob(&'r [u8]),
    Text(&'r [u8]),
}

/// A SQLite varint at `at`: value and length (1..=9 bytes).
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at.checked_add(i)?)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at.checked_add(1)?)?,
    ])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    crate::util::be_u32(b, at)
}

/// Big-endian two's-complement integer of 1..=8 bytes.
fn be_int(b: &[u8]) -> i64 {
    let mut v: i64 = if b.first().is_some_and(|&x| x & 0x80 != 0) {
        -1
    } else {
        0
    };
    for &x in b {
        v = (v << 8) | i64::from(x);
    }
    v
}

/// The values of a record (`payload` = the whole record).
pub fn parse_record(payload: &[u8]) -> Result<Vec<Value<'_>>> {
    let bad = |what: &str| Error::corrupt(0, format!("sqlite record: {what}"));
    let (header_len, n) = varint(payload, 0).ok_or_else(|| bad("truncated header size"))?;
    let header_len = usize::try_from(header_len).unwrap_or(usize::MAX);
    if header_len > payload.len() || header_len < n {
        return Err(bad("header size out of range"));
    }
    let mut at = n;
    let mut body = header_len;
    let mut out = Vec::new();
    while at < header_len {
        let (serial, len) = varint(payload, at).ok_or_else(|| bad("truncated serial type"))?;
        at += len;
        let size: usize = match serial {
            0 | 8 | 9 => 0,
            1..=4 => serial as usize,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err(bad("reserved serial type")),
            n => usize::try_from((n - 12) / 2).unwrap_or(usize::MAX),
        };
        let bytes = body
            .checked_add(size)
            .and_then(|end| payload.get(body..end))
            .ok_or_else(|| bad("value past the payload"))?;
        body += size;
        out.push(match serial {
            0 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => Value::Int(be_int(bytes)),
            7 => Value::Float(be_int(bytes) as u64),
            n if n % 2 == 0 => Value::Blob(bytes),
            _ => Value::Text(bytes),
        });
    }
    Ok(out)
}

impl<'a> SqliteFile<'a> {
    /// Checks the file header.
    pub fn open(bytes: &'a [u8]) -> Result<SqliteFile<'a>> {
        if bytes.get(..16) != Some(MAGIC.as_slice()) {
            return Err(Error::corrupt(0, "not a SQLite 3 database"));
        }
        let header = bytes
            .get(..HEADER_BYTES)
            .ok_or_else(|| Error::corrupt(0, "sqlite: truncated file header"))?;
        let page_size = match be16(header, 16).unwrap_or(0) {
            1 => 65536,
            n => n,
        };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(Error::corrupt(16, format!("sqlite: page size {page_size}")));
        }
        let reserved = usize::from(*header.get(20).unwrap_or(&0));
        let usable_size = page_size - reserved;
        if usable_size < 480 {
            return Err(Error::corrupt(
                20,
                format!("sqlite: {reserved} reserved bytes per page"),
            ));
        }
        match be32(header, 56).unwrap_or(0) {
            0 | 1 => {}
            enc => {
                return Err(Error::unsupported(format!(
                    "sqlite text encoding {enc} (only UTF-8)"
                )));
            }
        }
        let page_count = u32::try_from(bytes.len() / page_size).unwrap_or(u32::MAX);
        Ok(SqliteFile {
            bytes,
            page_size,
            usable_size,
            page_count,
        })
    }

    fn page(&self, pgno: u32) -> Result<&'a [u8]> {
        if pgno == 0 || pgno > self.page_count {
            return Err(Error::corrupt(
                0,
                format!("sqlite: page {pgno} outside the file"),
            ));
        }
        let start = (pgno as usize - 1) * self.page_size;
        self.bytes
            .get(start..start + self.page_size)
            .ok_or_else(|| Error::corrupt(start as u64, "sqlite: page past the end"))
    }

    fn page_offset(&self, pgno: u32) -> u64 {
        (u64::from(pgno).saturating_sub(1)).saturating_mul(self.page_size as u64)
    }

    /// Root page and column names of table `name`, from the schema.
    pub fn table(&self, name: &str) -> Result<(u32, Vec<String>)> {
        let mut found = None;
        self.for_each_row(1, &mut |_, payload| {
            let values = parse_record(payload)?;
            if found.is_none()
                && values.first() == Some(&Value::Text(b"table"))
                && values.get(1).is_some_and(
                    |v| matches!(v, Value::Text(t) if t.eq_ignore_ascii_case(name.as_bytes())),
                )
            {
                let root = match values.get(3) {
                    Some(Value::Int(r)) => u32::try_from(*r).ok(),
                    _ => None,
                };
                let sql = match values.get(4) {
                    Some(Value::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                    _ => String::new(),
                };
                found = root.map(|r| (r, column_names(&sql)));
            }
            Ok(())
        })?;
        found.ok_or_else(|| Error::corrupt(0, format!("sqlite: no table {name} in the schema")))
    }

    /// Calls `f(rowid, payload)` for every row of the table b-tree rooted
    /// at `root`, in page order. Overflowing payloads are assembled into a
    /// reused buffer.
    pub fn for_each_row(
        &self,
        root: u32,
        f: &mut dyn FnMut(i64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut visited = vec![false; self.page_count as usize + 1];
        let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
        let mut assembled = Vec::new();
        // Cells do not overlap and an overflow page belongs to one cell,
        // so the payloads of a sound table add up to less than the file.
        // Cells of a hostile file may all point at the same bytes: this
        // budget keeps the work linear.
        let mut budget_bytes = self.bytes.len();
        while let Some((pgno, depth)) = stack.pop() {
            let page = self.page(pgno)?;
            let seen = visited
                .get_mut(pgno as usize)
                .ok_or_else(|| Error::corrupt(0, "sqlite: page number"))?;
            if std::mem::replace(seen, true) {
                return Err(Error::corrupt(
                    self.page_offset(pgno),
                    format!("sqlite: b-tree page {pgno} reached twice"),
                ));
            }
            if depth > MAX_DEPTH {
                return Err(Error::corrupt(
                    self.page_offset(pgno),
                    "sqlite: b-tree too deep",
                ));
            }
            let hdr = if pgno == 1 { HEADER_BYTES } else { 0 };
            let bad = |what: String| {
                Error::corrupt(
                    self.page_offset(pgno) + hdr as u64,
                    format!("sqlite page {pgno}: {what}"),
                )
            };
            let kind = *page.get(hdr).ok_or_else(|| bad("no header".into()))?;
            let cells = be16(page, hdr + 3).ok_or_else(|| bad("no header".into()))?;
            let pointers = match kind {
                PAGE_INTERIOR_TABLE => hdr + 12,
                PAGE_LEAF_TABLE => hdr + 8,
                other => return Err(bad(format!("page type {other:#04x} in a table b-tree"))),
            };
            let cell_at = |i: usize| -> Result<usize> {
                let at = be16(page, pointers + 2 * i)
                    .ok_or_else(|| bad("cell pointer array past the page".into()))?;
                if at >= self.usable_size {
                    return Err(bad(format!("cell offset {at}")));
                }
                Ok(at)
            };
            if kind == PAGE_INTERIOR_TABLE {
                let right = be32(page, hdr + 8).ok_or_else(|| bad("no right pointer".into()))?;
                // Pushed in reverse so that children pop in key order.
                stack.push((right, depth + 1));
                for i in (0..cells).rev() {
                    let at = cell_at(i)?;
                    let child = be32(page, at).ok_or_else(|| bad("truncated cell".into()))?;
                    stack.push((child, depth + 1));
                }
                continue;
            }
            for i in 0..cells {
                let at = cell_at(i)?;
                let (payload_len, n1) =
                    varint(page, at).ok_or_else(|| bad("truncated cell".into()))?;
                let (rowid, n2) =
                    varint(page, at + n1).ok_or_else(|| bad("truncated cell".into()))?;
                let start = at + n1 + n2;
                // No payload is larger than the file that holds it.
                let payload_len = usize::try_from(payload_len)
                    .ok()
                    .filter(|&p| p <= self.bytes.len())
                    .ok_or_else(|| bad(format!("payload of {payload_len} bytes")))?;
                budget_bytes = budget_bytes
                    .checked_sub(payload_len)
                    .ok_or_else(|| bad("payloads add up to more than the file".into()))?;
                let local = self.local_bytes(payload_len);
                let local_bytes = page
                    .get(start..start + local)
                    .filter(|_| start + local <= self.usable_size)
                    .ok_or_else(|| bad("payload past the page".into()))?;
                if local == payload_len {
                    f(rowid as i64, local_bytes)?;
                    continue;
                }
                let first =
                    be32(page, start + local).ok_or_else(|| bad("no overflow pointer".into()))?;
                assembled.clear();
                assembled.extend_from_slice(local_bytes);
                self.read_overflow(first, payload_len, &mut assembled)?;
                f(rowid as i64, &assembled)?;
            }
        }
        Ok(())
    }

    /// Bytes of a table-leaf payload of `p` bytes stored on the page itself
    /// (file format §1.6).
    fn local_bytes(&self, p: usize) -> usize {
        let u = self.usable_size;
        let x = u - 35;
        if p <= x {
            return p;
        }
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((p - m) % (u - 4));
        if k <= x { k } else { m }
    }

    /// Appends the overflow chain from `pgno` to `out` until it holds
    /// `total` bytes. A chain that ends early, or revisits a page, is
    /// corrupt.
    fn read_overflow(&self, mut pgno: u32, total: usize, out: &mut Vec<u8>) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        while out.len() < total {
            if !seen.insert(pgno) {
                return Err(Error::corrupt(
                    self.page_offset(pgno),
                    format!("sqlite: overflow chain loops at page {pgno}"),
                ));
            }
            let page = self.page(pgno)?;
            let want = (total - out.len()).min(self.usable_size - 4);
            let data = page
                .get(4..4 + want)
                .ok_or_else(|| Error::corrupt(self.page_offset(pgno), "sqlite: overflow page"))?;
            out.extend_from_slice(data);
            pgno = be32(page, 0).unwrap_or(0);
        }
        Ok(())
    }
}

/// Column names of a `CREATE TABLE name (col type …, …)` statement, in
/// order; table constraints (`PRIMARY KEY(…)`, `UNIQUE`, …) are not
/// columns.
fn column_names(sql: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (sql.find('('), sql.rfind(')')) else {
        return Vec::new();
    };
    let Some(body) = sql.get(open + 1..close) else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in body.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter_map(|p| {
            let word = p.split_whitespace().next()?;
            let name = word.trim_matches(|c| matches!(c, '"' | '\'' | '`' | '[' | ']'));
            let constraint = ["PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k));
            (!constraint).then(|| name.to_string())
        })
        .collect()
}

/// Calls `f` with each header blob of rpm's `Packages` table.
pub fn for_each_package_blob(bytes: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<()> {
    let db = SqliteFile::open(bytes)?;
    let (root, columns) = db.table("Packages")?;
    let blob_column = columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case("blob"))
        .unwrap_or(1);
    db.for_each_row(root, &mut |_, payload| {
        // A row that does not parse is skipped: the others still count.
        if let Ok(values) = parse_record(payload) {
            if let Some(Value::Blob(b) | Value::Text(b)) = values.get(blob_column) {
                f(b);
            }
        }
        Ok(())
    })
}
