//! The LVM2 text metadata grammar (lvm2 `lib/config/config.c`, the format
//! `vgcfgbackup` writes):
//!
//! ```text
//! file    = item*
//! item    = name '=' value | name '{' item* '}'
//! value   = string | integer | '[' (value (',' value)*)? ']'
//! string  = '"' (char | '\"' | '\\')* '"'
//! comment = '#' to end of line
//! ```
//!
//! Nesting is bounded by [`MAX_DEPTH`], the input by [`MAX_TEXT_BYTES`] and
//! integers by `i64`: anything else is an error naming the byte offset in
//! the text.

/// Deepest section nesting accepted. Real metadata nests four levels
/// (`vg { logical_volumes { lv { segment1 { … } } } }`).
pub const MAX_DEPTH: usize = 16;
/// Largest metadata text accepted (lvm2's default metadata area is 1 MiB;
/// `--metadatasize` can make it larger, but the text of a VG with
/// thousands of LVs still fits).
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// Most values in one array (a `stripes` list has two per stripe).
const MAX_ARRAY: usize = 1 << 16;

/// A value of `key = value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
    Array(Vec<Value>),
}

/// A `name { … }` section (or the whole file): its items in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub values: Vec<(String, Value)>,
    pub sections: Vec<(String, Section)>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn array(&self, key: &str) -> Option<&[Value]> {
        match self.get(key)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The strings of an array value (`status = ["READ", "WRITE"]`).
    pub fn strings(&self, key: &str) -> Vec<&str> {
        self.array(key)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }
}

/// Why the text could not be parsed: a byte offset in the text and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub what: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "metadata text byte {}: {}", self.offset, self.what)
    }
}

/// Parse a metadata text. A NUL ends the text (the metadata area stores it
/// NUL-terminated).
pub fn parse(text: &[u8]) -> Result<Section, SyntaxError> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    if end > MAX_TEXT_BYTES {
        return Err(SyntaxError {
            offset: 0,
            what: format!("{end} bytes of text; at most {MAX_TEXT_BYTES} are read"),
        });
    }
    let mut p = Parser {
        s: text.get(..end).unwrap_or_default(),
        at: 0,
    };
    let root = p.items(0)?;
    p.skip_blank();
    if p.at < p.s.len() {
        return Err(p.err("'}' without a section to close"));
    }
    Ok(root)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn err(&self, what: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset: self.at,
            what: what.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    /// Skip white space and comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.at += 1;
            } else if c == b'#' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.at += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Items up to a `}` (depth > 0) or the end (depth 0).
    fn items(&mut self, depth: usize) -> Result<Section, SyntaxError> {
        let mut out = Section::default();
        loop {
            self.skip_blank();
            match self.peek() {
                None if depth == 0 => return Ok(out),
                None => return Err(self.err("end of text inside a section (missing '}')")),
                Some(b'}') if depth > 0 => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'}') => return Ok(out),
                _ => {}
            }
            let name = self.name()?;
            self.skip_blank();
            match self.peek() {
                Some(b'=') => {
                    self.at += 1;
                    self.skip_blank();
                    let v = self.value(true)?;
                    out.values.push((name, v));
                }
                Some(b'{') => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(self.err(format!("sections nested more than {MAX_DEPTH} deep")));
                    }
                    self.at += 1;
                    let s = self.items(depth + 1)?;
                    out.sections.push((name, s));
                }
                _ => return Err(self.err(format!("expected '=' or '{{' after {name:?}"))),
            }
        }
    }

    fn name(&mut self) -> Result<String, SyntaxError> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"_.+-".contains(&c))
        {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(self.s.get(start..self.at).unwrap_or_default()).into_owned())
    }

    fn value(&mut self, array_allowed: bool) -> Result<Value, SyntaxError> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') if array_allowed => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blank();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                        return Ok(Value::Array(items));
                    }
                    if !items.is_empty() {
                        if self.peek() != Some(b',') {
                            return Err(self.err("expected ',' or ']' in an array"));
                        }
                        self.at += 1;
                        self.skip_blank();
                    }
                    if items.len() >= MAX_ARRAY {
                        return Err(self.err(format!("array of more than {MAX_ARRAY} values")));
                    }
                    items.push(self.value(false)?);
                }
            }
            Some(b'[') => Err(self.err("arrays do not nest")),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.int().map(Value::Int),
            _ => Err(self.err("expected a string, an integer or an array")),
        }
    }

    fn int(&mut self) -> Result<i64, SyntaxError> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let mut v: i64 = 0;
        let digits_start = self.at;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            let d = i64::from(c - b'0');
            v = v
                .checked_mul(10)
                .and_then(|v| {
                    if negative {
                        v.checked_sub(d)
                    } else {
                        v.checked_add(d)
                    }
                })
                .ok_or_else(|| SyntaxError {
                    offset: start,
                    what: "integer does not fit in 64 bits".into(),
                })?;
            self.at += 1;
        }
        if self.at == digits_start {
            return Err(self.err("expected digits"));
        }
        if self.peek() == Some(b'.') {
            return Err(self.err("floating-point values are not used in LVM2 metadata"));
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.at;
        self.at += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(SyntaxError {
                        offset: start,
                        what: "unterminated string".into(),
                    });
                }
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c) => out.push(c),
                        None => continue,
                    }
                    self.at += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"vg0 {
id = "abc"
seqno = 3
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = 8192	# 4 Megabytes

physical_volumes {

pv0 {
id = "x"
device = "/dev/loop0"	# Hint only
dev_size = 204800
pe_start = 2048
}
}
logical_volumes {
root {
segment1 {
stripes = [
"pv0", 0
]
}
}
}
}
# Generated by LVM2
contents = "Text Format Volume Group"
description = "quote \" and \\ back"
version = 1
"#;

    #[test]
    fn parses_a_vg() {
        let root = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(root.int("version"), Some(1));
        assert_eq!(root.str("description"), Some("quote \" and \\ back"));
        let vg = root.section("vg0").unwrap();
        assert_eq!(vg.int("seqno"), Some(3));
        assert_eq!(vg.strings("status"), ["RESIZEABLE", "READ", "WRITE"]);
        assert_eq!(vg.array("flags"), Some(&[][..]));
        let pv = vg
            .section("physical_volumes")
            .and_then(|s| s.section("pv0"))
            .unwrap();
        assert_eq!(pv.int("pe_start"), Some(2048));
        let seg = vg
            .section("logical_volumes")
            .and_then(|s| s.section("root"))
            .and_then(|s| s.section("segment1"))
            .unwrap();
        assert_eq!(
            seg.array("stripes").unwrap(),
            &[Value::Str("pv0".into()), Value::Int(0)]
        );
    }

    #[test]
    fn hostile_text_is_an_error() {
        let deep = "a {".repeat(MAX_DEPTH + 1) + &"}".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).unwrap_err().what.contains("nested"));
        let ok = "a {".repeat(MAX_DEPTH) + &"}".repeat(MAX_DEPTH);
        parse(ok.as_bytes()).unwrap();
        let e = parse(b"x = 99999999999999999999").unwrap_err();
        assert!(e.what.contains("64 bits"), "{e}");
        assert_eq!(
            parse(b"x = -9223372036854775808").unwrap().int("x"),
            Some(i64::MIN)
        );
        for bad in [
            &b"x = \"open"[..],
            b"x {",
            b"x = [1, [2]]",
            b"x = 1.5",
            b"}",
            b"x",
            b"x = [1 2]",
            b"= 3",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // Text stops at the NUL terminator.
        assert_eq!(parse(b"x = 1\0garbage {").unwrap().int("x"), Some(1));
    }
}
