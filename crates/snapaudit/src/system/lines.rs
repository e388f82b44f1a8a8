//! Line splitting shared by the configuration-file parsers.
//!
//! Every parser here reports problems by line number (1-based) and the
//! sanitizer edits files in place by byte offset, so lines are yielded with
//! both. Input is bytes from a possibly corrupt filesystem: nothing here
//! assumes UTF-8, and the number of lines and the length of a line that a
//! caller will look at are bounded.

/// One line of a file: its 1-based number, the byte offset of its first byte
/// within the file, and its content without the `\n` (and without a `\r`
/// right before it, as libmount and glibc's readers drop it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub(crate) number: u64,
    pub(crate) offset_bytes: usize,
    pub(crate) bytes: &'a [u8],
}

impl Line<'_> {
    /// The content as text; invalid UTF-8 becomes U+FFFD.
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes)
    }
}

/// Iterator over the lines of `bytes` (see [`Line`]). A final line without a
/// newline is still a line; an empty input has no lines.
pub(crate) fn lines(bytes: &[u8]) -> Lines<'_> {
    Lines {
        rest: bytes,
        offset_bytes: 0,
        number: 0,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    offset_bytes: usize,
    number: u64,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let (content, consumed) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (self.rest.get(..nl)?, nl.checked_add(1)?),
            None => (self.rest, self.rest.len()),
        };
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        self.number = self.number.saturating_add(1);
        let line = Line {
            number: self.number,
            offset_bytes: self.offset_bytes,
            bytes: content,
        };
        self.rest = self.rest.get(consumed..).unwrap_or(&[]);
        self.offset_bytes = self.offset_bytes.saturating_add(consumed);
        Some(line)
    }
}

/// Leading spaces and tabs removed (the blank characters of fstab(5) and of
/// most `/etc` files; other whitespace is data).
pub(crate) fn trim_blank_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    b.get(start..).unwrap_or(&[])
}

/// Trailing ASCII whitespace removed.
pub(crate) fn trim_ascii_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |p| p.saturating_add(1));
    b.get(..end).unwrap_or(&[])
}

/// `s` cut to at most `max_chars` characters (for values copied into reports
/// from untrusted files).
pub(crate) fn truncate_chars(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => s.get(..cut).unwrap_or(s).to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_offsets_and_crlf() {
        let text = b"a\r\n\nbc\nlast";
        let got: Vec<_> = lines(text)
            .map(|l| (l.number, l.offset_bytes, l.bytes))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 0, &b"a"[..]),
                (2, 3, &b""[..]),
                (3, 4, &b"bc"[..]),
                (4, 7, &b"last"[..])
            ]
        );
        // The offset points at the line's first byte in the original buffer.
        for l in lines(text) {
            assert_eq!(
                text.get(l.offset_bytes..l.offset_bytes + l.bytes.len()),
                Some(l.bytes)
            );
        }
    }

    #[test]
    fn empty_and_trailing_newline() {
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\n").count(), 1);
        assert_eq!(lines(b"\n\n").count(), 2);
    }

    #[test]
    fn trims() {
        assert_eq!(trim_blank_start(b" \t x "), b"x ");
        assert_eq!(trim_ascii_end(b" x \r\n"), b" x");
        assert_eq!(trim_ascii_end(b"   "), b"");
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hi", 5), "hi");
    }
}
