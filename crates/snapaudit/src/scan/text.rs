//! Small byte-level helpers shared by the rules and the engine: placeholder
//! detection, Shannon entropy, redaction, line counting and a tolerant base64
//! decoder (for the checks that look inside OpenSSH keys, JWTs and Docker
//! `auth` values).

use sha2::{Digest, Sha256};

/// Values that are exactly one of these words (ASCII case-insensitive) are
/// documentation or template stand-ins, not secrets.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "password",
    "passwd",
    "pass",
    "secret",
    "example",
    "dummy",
    "test",
    "testing",
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "empty",
    "redacted",
    "hidden",
    "placeholder",
    "foo",
    "bar",
    "foobar",
    "todo",
    "fixme",
    "required",
    "string",
    "value",
    "token",
    "username",
    "user",
    "secret_key",
    "api_key",
    "apikey",
];

/// Values containing one of these (ASCII case-insensitive) are templates or
/// masked values, whatever surrounds them.
const PLACEHOLDER_PARTS: &[&str] = &[
    "example",
    "xxx",
    "***",
    "dummy",
    "placeholder",
    "changeme",
    "change_me",
    "redacted",
    "your_",
    "your-",
    "yourpass",
    "yoursecret",
    "replace_me",
    "replaceme",
    "${",
    "$(",
    "{{",
    "}}",
    "%(",
    "...",
    "\u{2026}",
];

/// Prefixes (ASCII case-insensitive) that mark test or sample values.
const PLACEHOLDER_PREFIXES: &[&str] = &["test", "dummy", "fake", "sample", "mock"];

/// Whether `value` is a placeholder rather than a real secret.
///
/// Catches the stand-ins that documentation, templates and sample configs
/// use: `changeme`, `password`, `secret`, `xxx…`, `***`, `${VAR}`, `$VAR`,
/// `%VAR%`, `<password>`, `{{ … }}`, `%(name)s`, `%s`, `example`, `dummy`,
/// `test…`, `your_…`, values made of a single repeated character, and
/// anything containing `EXAMPLE` (which covers AWS's documented example
/// keys). Surrounding quotes and whitespace are ignored.
pub fn is_placeholder(value: &[u8]) -> bool {
    let v = trim_value(value);
    let Some(&first) = v.first() else {
        return true;
    };
    if v.iter().all(|&b| b == first) {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.iter().any(|w| lower == w.as_bytes()) {
        return true;
    }
    if PLACEHOLDER_PARTS
        .iter()
        .any(|p| memchr::memmem::find(&lower, p.as_bytes()).is_some())
    {
        return true;
    }
    if PLACEHOLDER_PREFIXES
        .iter()
        .any(|p| lower.starts_with(p.as_bytes()))
    {
        return true;
    }
    // `$VAR`, `$1`, `${VAR}`, `$(cmd)`: a shell or template reference.
    if first == b'$'
        && v.get(1)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'{' || b == b'(')
    {
        return true;
    }
    // `<password>`, `%PASSWORD%`.
    let last = v.last().copied().unwrap_or(first);
    if (first == b'<' && last == b'>') || (first == b'%' && last == b'%') {
        return true;
    }
    // printf-style format strings: `%s`, `%d`.
    if lower == b"%s" || lower == b"%d" || lower == b"%v" {
        return true;
    }
    false
}

fn trim_value(value: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| b.is_ascii_whitespace() || *b == b'"' || *b == b'\'';
    let start = value
        .iter()
        .position(|b| !is_trim(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_trim(b))
        .map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or(&[])
}

/// Shannon entropy of `data` in bits per byte (0.0 for empty input, at most
/// 8.0). gitleaks' `entropy` threshold is compared against this value.
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Redacted evidence for a secret: at most a 4-character prefix (fewer for
/// short secrets, none below 8 bytes), the length, and the first 6 hex digits
/// of its SHA-256, e.g. `LTAI…(24 chars, sha256:3f2a9c)`.
///
/// The hash lets a reader tell whether two findings are the same secret
/// without seeing it; 24 bits of hash reveal nothing useful about it.
pub fn redact(secret: &[u8]) -> String {
    let shown = redact_prefix_len(secret.len());
    let prefix: String = secret
        .iter()
        .take(shown)
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    format!("{prefix}{}", redact_suffix(secret))
}

/// How many leading bytes of a secret of `len` bytes may be shown.
fn redact_prefix_len(len: usize) -> usize {
    match len {
        20.. => 4,
        12..=19 => 2,
        8..=11 => 1,
        _ => 0,
    }
}

/// The part of [`redact`] after the prefix: `…(N chars, sha256:abcdef)`.
pub(crate) fn redact_suffix(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let mut hex = String::with_capacity(6);
    for b in digest.iter().take(3) {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("\u{2026}({} chars, sha256:{hex})", secret.len())
}

/// Number of `\n` bytes in `hay`.
pub fn count_newlines(hay: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', hay).count() as u64
}

/// 1-based line number of `offset` in `hay` (offsets past the end count the
/// whole buffer).
pub fn line_of(hay: &[u8], offset: usize) -> u64 {
    let end = offset.min(hay.len());
    1 + count_newlines(hay.get(..end).unwrap_or(hay))
}

/// Running line count over one buffer, for callers that ask for the line of
/// increasing offsets (the engine reports matches in offset order), so the
/// buffer is counted once in total rather than once per match.
#[derive(Debug, Clone, Default)]
pub struct LineCounter {
    offset: usize,
    newlines: u64,
}

impl LineCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// 1-based line of `offset` in `hay`. Offsets may go backwards (the count
    /// restarts from the beginning then).
    pub fn line_at(&mut self, hay: &[u8], offset: usize) -> u64 {
        let offset = offset.min(hay.len());
        if offset < self.offset {
            self.offset = 0;
            self.newlines = 0;
        }
        self.newlines += count_newlines(hay.get(self.offset..offset).unwrap_or(&[]));
        self.offset = offset;
        1 + self.newlines
    }
}

/// Which base64 alphabet to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B64 {
    /// `+` and `/` (RFC 4648 §4).
    Standard,
    /// `-` and `_` (RFC 4648 §5, JWTs).
    UrlSafe,
}

fn b64_value(b: u8, alphabet: B64) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' if alphabet == B64::Standard => 62,
        b'/' if alphabet == B64::Standard => 63,
        b'-' if alphabet == B64::UrlSafe => 62,
        b'_' if alphabet == B64::UrlSafe => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes base64 from the start of `input` until padding, an invalid byte,
/// or `max_out` output bytes. Whitespace is skipped, and so are two-byte
/// escapes such as a literal `\n` (keys embedded in JSON strings). Never
/// fails: it returns what it could decode, which is all the checks need.
pub(crate) fn b64_decode_prefix(input: &[u8], alphabet: B64, max_out: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(max_out.min(input.len()));
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut i = 0usize;
    while i < input.len() && out.len() < max_out {
        let Some(&b) = input.get(i) else { break };
        i += 1;
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'\\' {
            i += 1;
            continue;
        }
        let Some(v) = b64_value(b, alphabet) else {
            break;
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised() {
        for v in [
            "changeme",
            "CHANGEME",
            "password",
            "'password'",
            "secret",
            "xxxxxxxx",
            "XXXXXXXXXXXX1234",
            "********",
            "${DB_PASSWORD}",
            "$DB_PASSWORD",
            "$1",
            "$(cat /run/secret)",
            "<password>",
            "{{ db_password }}",
            "%(password)s",
            "%s",
            "%DB_PASS%",
            "example",
            "my-example-password",
            "dummy",
            "test",
            "test1234",
            "your_password_here",
            "aaaaaaaaaaaaaa",
            "",
            "   ",
            "None",
            "null",
        ] {
            assert!(is_placeholder(v.as_bytes()), "expected placeholder: {v:?}");
        }
        // AWS's documented example key id and secret.
        let aws_id = format!("{}{}", "AKIAIOSFODNN7", "EXAMPLE");
        let aws_secret = format!("{}{}", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY");
        assert!(is_placeholder(aws_id.as_bytes()));
        assert!(is_placeholder(aws_secret.as_bytes()));
    }

    #[test]
    fn real_looking_values_are_not_placeholders() {
        for v in [
            "hunter2",
            "Tr0ub4dor&3",
            "s3cr3t-Pa55",
            "correcthorsebatterystaple",
            "admin",
        ] {
            assert!(!is_placeholder(v.as_bytes()), "not a placeholder: {v:?}");
        }
    }

    #[test]
    fn entropy_matches_known_values() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"ab") - 1.0).abs() < 1e-9);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        let all: Vec<u8> = (0..=255u8).collect();
        assert!((shannon_entropy(&all) - 8.0).abs() < 1e-9);
    }

    #[test]
    fn redaction_shows_at_most_four_characters() {
        let id = format!("{}{}", "LTAI", "5tAbCdEfGh1234567890");
        let r = redact(id.as_bytes());
        assert!(r.starts_with("LTAI\u{2026}(24 chars, sha256:"), "{r}");
        assert!(!r.contains("5tAb"));
        assert_eq!(
            r.len(),
            "LTAI".len() + "\u{2026}".len() + "(24 chars, sha256:abcdef)".len()
        );
        assert!(redact(b"hunter22").starts_with("h\u{2026}(8 chars"));
        assert!(redact(b"abc").starts_with("\u{2026}(3 chars"));
        assert!(redact(b"\x00\x01\x02\x03abcdefghijklmnopq").starts_with("....\u{2026}"));
        // Same secret, same hash; different secret, different hash.
        assert_eq!(redact(b"hunter22"), redact(b"hunter22"));
        assert_ne!(redact(b"hunter22"), redact(b"hunter23"));
    }

    #[test]
    fn line_numbers_count_newlines() {
        let hay = b"a\nb\n\nc";
        assert_eq!(line_of(hay, 0), 1);
        assert_eq!(line_of(hay, 2), 2);
        assert_eq!(line_of(hay, 5), 4);
        assert_eq!(line_of(hay, 99), 4);
        let mut lc = LineCounter::new();
        assert_eq!(lc.line_at(hay, 2), 2);
        assert_eq!(lc.line_at(hay, 5), 4);
        assert_eq!(lc.line_at(hay, 0), 1);
    }

    #[test]
    fn base64_decodes_with_escapes_and_whitespace() {
        assert_eq!(b64_decode_prefix(b"aGVsbG8=", B64::Standard, 64), b"hello");
        assert_eq!(
            b64_decode_prefix(b"aGVs\\nbG8", B64::Standard, 64),
            b"hello"
        );
        assert_eq!(b64_decode_prefix(b"aGVs\nbG8", B64::Standard, 3), b"hel");
        assert_eq!(
            b64_decode_prefix(b"eyJhbGciOiJIUzI1NiJ9", B64::UrlSafe, 64),
            br#"{"alg":"HS256"}"#
        );
        assert_eq!(b64_decode_prefix(b"!!!", B64::Standard, 64), b"");
    }
}
