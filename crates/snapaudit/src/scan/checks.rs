//! Validation of regex matches beyond the regex: private key blocks, JWTs,
//! Docker `auth` values, configuration values, character mix and token
//! boundaries.

use memchr::memmem;

use super::rule::Check;
use super::text::{B64, b64_decode_prefix, is_placeholder};

/// A private key block found after a `-----BEGIN … PRIVATE KEY-----` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyBlock {
    /// End of the block: after `-----END … PRIVATE KEY-----`, or after the
    /// base64 body when the block is cut (a fragment in unallocated space).
    pub(crate) end: usize,
    pub(crate) encrypted: bool,
}

/// Bytes a PEM/OpenSSH body may consist of (base64, whitespace, header
/// lines such as `Proc-Type: 4,ENCRYPTED`, `\n` escapes inside JSON).
fn is_body_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=\\ \t\r\n:,-._".contains(&b)
}

fn is_b64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Follows the key block whose header is `hay[header_start..header_end]`.
/// `None` when there is no real body (at least 64 base64 characters, and
/// almost nothing else): the bare header strings inside `ssh-keygen` or a
/// man page are not keys.
pub(crate) fn inspect_private_key(
    hay: &[u8],
    header_start: usize,
    header_end: usize,
) -> Option<KeyBlock> {
    let header = hay.get(header_start..header_end)?;
    let limit = header_end
        .saturating_add(Check::KEY_BLOCK_MAX)
        .min(hay.len());
    let region = hay.get(header_end..limit)?;
    let (body_len, block_len) = match memmem::find(region, b"-----END ") {
        Some(p) => {
            let marker_tail = region.get(p + 9..).unwrap_or(&[]);
            let tail_window = marker_tail.get(..marker_tail.len().min(64)).unwrap_or(&[]);
            match memmem::find(tail_window, b"-----") {
                Some(q) => (p, p + 9 + q + 5),
                None => (p, p + 9),
            }
        }
        None => {
            let run = region.iter().take_while(|&&b| is_body_byte(b)).count();
            (run, run)
        }
    };
    let body = region.get(..body_len)?;
    let (mut b64, mut other) = (0usize, 0usize);
    for line in body.split(|&b| b == b'\n') {
        // `Proc-Type:`, `DEK-Info:`, PGP's `Version:`/`Comment:` lines.
        if line.contains(&b':') {
            continue;
        }
        let mut bytes = line.iter().copied();
        while let Some(b) = bytes.next() {
            if is_b64_byte(b) {
                b64 += 1;
            } else if b == b'\\' {
                // `\n` inside a JSON string: skip the escaped byte too.
                bytes.next();
            } else if !(b.is_ascii_whitespace() || b == b'=') {
                other += 1;
            }
        }
    }
    if b64 < 64 || other > b64 / 16 {
        return None;
    }
    let encrypted = memmem::find(header, b"ENCRYPTED").is_some()
        || memmem::find(
            body.get(..body.len().min(256)).unwrap_or(body),
            b"Proc-Type: 4,ENCRYPTED",
        )
        .is_some()
        || (memmem::find(header, b"OPENSSH").is_some() && openssh_encrypted(body));
    Some(KeyBlock {
        end: header_end + block_len,
        encrypted,
    })
}

/// An OpenSSH private key (PROTOCOL.key) starts with `openssh-key-v1\0`,
/// then the cipher name as a string (u32 big-endian length, bytes); it is
/// encrypted unless the cipher is `none`.
fn openssh_encrypted(body: &[u8]) -> bool {
    const MAGIC: &[u8] = b"openssh-key-v1\0";
    let decoded = b64_decode_prefix(body, B64::Standard, 64);
    let Some(rest) = decoded.strip_prefix(MAGIC) else {
        return false;
    };
    let Some(len_bytes) = rest.get(..4) else {
        return false;
    };
    let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
    match rest.get(4..4 + len.min(64)) {
        Some(cipher) => cipher != b"none",
        None => false,
    }
}

/// A JWT's first segment is base64url of a JSON header that names `"alg"`.
pub(crate) fn jwt_ok(token: &[u8]) -> bool {
    let header = token.split(|&b| b == b'.').next().unwrap_or(&[]);
    let json = b64_decode_prefix(header, B64::UrlSafe, 1024);
    memmem::find(&json, b"\"alg\"").is_some()
}

/// A Docker `auth` value is base64 of printable `user:password`, with a
/// password that is not a placeholder.
pub(crate) fn docker_auth_ok(value: &[u8]) -> bool {
    let decoded = b64_decode_prefix(value, B64::Standard, 1024);
    if decoded.is_empty() || !decoded.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return false;
    }
    match decoded.iter().position(|&b| b == b':') {
        Some(colon) => {
            let (user, pass) = (&decoded[..colon], &decoded[colon + 1..]);
            !user.is_empty() && !pass.is_empty() && !is_placeholder(pass)
        }
        None => false,
    }
}

/// `"service_account"` within `reach` bytes before or after the match.
pub(crate) fn service_account_near(hay: &[u8], start: usize, end: usize) -> bool {
    let from = start.saturating_sub(Check::SERVICE_ACCOUNT_REACH);
    let to = end
        .saturating_add(Check::SERVICE_ACCOUNT_REACH)
        .min(hay.len());
    hay.get(from..to)
        .is_some_and(|w| memmem::find(w, b"\"service_account\"").is_some())
}

/// Where the key of a password assignment starts, given the offset of its
/// keyword (`password`, `pass`, …) in `hay`; `None` if the key is not a
/// password key (`bypass`, `compass`, `PWD`, a 40-character identifier) or,
/// with `line_start`, does not begin its line.
pub(crate) fn password_key_start(hay: &[u8], keyword_at: usize, line_start: bool) -> Option<usize> {
    const LONG: [&[u8]; 3] = [b"password", b"passwd", b"passphrase"];
    let rest = hay.get(keyword_at..)?;
    let long = LONG.iter().any(|w| {
        rest.get(..w.len())
            .is_some_and(|r| r.eq_ignore_ascii_case(w))
    });
    let is_pwd = rest
        .get(..3)
        .is_some_and(|r| r.eq_ignore_ascii_case(b"pwd"));
    let is_key = |b: &u8| b.is_ascii_alphanumeric() || b"_.-".contains(b);
    let mut key_start = keyword_at;
    while key_start > 0 && hay.get(key_start - 1).is_some_and(is_key) {
        key_start -= 1;
        if keyword_at - key_start > 32 {
            return None;
        }
    }
    let prefix = hay.get(key_start..keyword_at)?;
    // `"x$passwd" = "x*"`: a shell variable expanded inside a quoted string
    // and compared (`[ … = … ]`), not a key being assigned. (PHP's
    // `$password = "…"` is still an assignment: no quote after the key.)
    let key_end = keyword_at
        + rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
    if key_start > 0
        && hay.get(key_start - 1) == Some(&b'$')
        && hay.get(key_end).is_some_and(|b| *b == b'"' || *b == b'\'')
    {
        return None;
    }
    if !long {
        // `pass`/`pwd` alone or after a separator: `smtp_pass`, not `bypass`;
        // `pwd` never alone (`PWD=/home/user` is the working directory).
        let separated = prefix.last().is_some_and(|b| b"_.-".contains(b));
        if !(separated || (prefix.is_empty() && !is_pwd)) {
            return None;
        }
        if !prefix.is_empty() && !prefix.iter().any(u8::is_ascii_alphanumeric) {
            return None;
        }
    }
    let mut start = key_start;
    if start > 0
        && hay
            .get(start - 1)
            .is_some_and(|b| *b == b'"' || *b == b'\'')
    {
        start -= 1;
    }
    if line_start {
        let mut i = start;
        let mut blanks = 0;
        while i > 0 && hay.get(i - 1).is_some_and(|b| *b == b' ' || *b == b'\t') {
            i -= 1;
            blanks += 1;
        }
        for word in [&b"export"[..], b"set"] {
            if blanks > 0
                && i >= word.len()
                && hay
                    .get(i - word.len()..i)
                    .is_some_and(|w| w.eq_ignore_ascii_case(word))
            {
                i -= word.len();
                blanks = 0;
                while i > 0 && hay.get(i - 1).is_some_and(|b| *b == b' ' || *b == b'\t') {
                    i -= 1;
                    blanks += 1;
                }
                break;
            }
        }
        if blanks > 16 || !(i == 0 || hay.get(i - 1) == Some(&b'\n')) {
            return None;
        }
    }
    Some(start)
}

/// After an unquoted value: only blanks, then the end of the line (or of
/// the data) or a `#`/`;` comment.
pub(crate) fn value_ends_line(hay: &[u8], value_end: usize) -> bool {
    let rest = hay.get(value_end..).unwrap_or(&[]);
    let blanks = rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    blanks <= 16 && rest.get(blanks).is_none_or(|b| b"\r\n#;".contains(b))
}

/// An unquoted configuration value that is a literal, not code or YAML
/// syntax: `self.password`, `getpass()`, `args[0]`, `*alias`, `!vault |`,
/// `password,` are refused.
pub(crate) fn config_value_ok(value: &[u8]) -> bool {
    let Some(&first) = value.first() else {
        return false;
    };
    if b"*&!|>@%[{(".contains(&first) {
        return false;
    }
    if value.iter().any(|b| b"()[]{}".contains(b)) || value.ends_with(b",") {
        return false;
    }
    !is_dotted_identifier(value)
}

/// `a.b`, `self.password`, `os.environ`: identifiers joined by dots.
fn is_dotted_identifier(value: &[u8]) -> bool {
    let mut segments = 0;
    for seg in value.split(|&b| b == b'.') {
        let ident = seg
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && seg.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if !ident {
            return false;
        }
        segments += 1;
    }
    segments >= 2
}

/// How many of lowercase letters, uppercase letters and digits occur.
pub(crate) fn char_classes(bytes: &[u8]) -> u8 {
    let lower = bytes.iter().any(u8::is_ascii_lowercase);
    let upper = bytes.iter().any(u8::is_ascii_uppercase);
    let digit = bytes.iter().any(u8::is_ascii_digit);
    u8::from(lower) + u8::from(upper) + u8::from(digit)
}

/// The secret at `hay[start..end]` is not part of a longer base64/token run.
pub(crate) fn token_bounded(hay: &[u8], start: usize, end: usize) -> bool {
    let before_ok = start
        .checked_sub(1)
        .and_then(|i| hay.get(i))
        .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b"+/_-".contains(&b)));
    let after_ok = hay
        .get(end)
        .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b"+/=_-".contains(&b)));
    before_ok && after_ok
}

/// The byte before `start` does not continue an identifier.
pub(crate) fn word_start_ok(hay: &[u8], start: usize) -> bool {
    start
        .checked_sub(1)
        .and_then(|i| hay.get(i))
        .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_identifiers_and_code_are_not_config_values() {
        assert!(!config_value_ok(b"self.password"));
        assert!(!config_value_ok(b"getpass()"));
        assert!(!config_value_ok(b"*default_pw"));
        assert!(!config_value_ok(b"password,"));
        assert!(config_value_ok(b"hunter2"));
        assert!(config_value_ok(b"S3cr3t.Pa55!"));
    }

    #[test]
    fn password_keys() {
        let at = |text: &[u8], line: bool| {
            let kw = text
                .windows(3)
                .position(|w| w.eq_ignore_ascii_case(b"pas") || w.eq_ignore_ascii_case(b"pwd"))
                .unwrap_or(0);
            password_key_start(text, kw, line)
        };
        assert_eq!(at(b"DB_PASSWORD=x", true), Some(0));
        assert_eq!(at(b"  export PGPASSWORD=x", true), Some(9));
        assert_eq!(at(b"x = 1\n  smtp_pass: y", true), Some(8));
        assert_eq!(at(b"{\"password\": 1", false), Some(1));
        assert_eq!(at(b"bypass=1", false), None);
        assert_eq!(at(b"PWD=/x", false), None);
        assert_eq!(at(b"db_pwd=1", false), Some(0));
        assert_eq!(at(b"foo password=1", true), None);
        assert_eq!(at(b"foo password=1", false), Some(4));
        assert!(value_ends_line(b"v  # c", 1));
        assert!(value_ends_line(b"v", 1));
        assert!(!value_ends_line(b"v files", 1));
    }

    #[test]
    fn token_boundaries() {
        assert!(token_bounded(b"=abc;", 1, 4));
        assert!(!token_bounded(b"xabc;", 1, 4));
        assert!(!token_bounded(b"=abc/", 1, 4));
        assert!(token_bounded(b"abc", 0, 3));
    }
}
