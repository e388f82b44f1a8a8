//! `/etc/passwd`, `/etc/shadow`, `/etc/group` and `/etc/gshadow`.
//!
//! Colon-separated records, one per line (passwd(5), shadow(5), group(5),
//! gshadow(5)). Blank lines and `#` lines are skipped as glibc's
//! `nss_files` does; NIS compat lines (`+name`, `-name`, `+`) are counted
//! and skipped. Password fields are wrapped in [`PasswordField`], whose
//! `Debug` and `Serialize` never show the hash.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::lines::{lines, truncate_chars};

/// Account databases of a few thousand users are a few hundred KiB; a larger
/// file is read up to this size and flagged.
const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;
/// Longer lines are reported as errors and not parsed.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// At most this many records are kept.
const MAX_ENTRIES: usize = 200_000;
/// At most this many syntax errors are kept.
const MAX_ERRORS: usize = 1000;

/// A parsed account file: the records, and the lines that are not records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountsFile<T> {
    pub entries: Vec<T>,
    pub errors: Vec<AccountsSyntaxError>,
    /// NIS compat lines (`+`/`-`) skipped.
    pub nis_compat_lines: u32,
    /// The input was longer than the size snapaudit reads, or had more
    /// records than it keeps.
    pub truncated: bool,
}

impl<T> Default for AccountsFile<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            errors: Vec::new(),
            nis_compat_lines: 0,
            truncated: false,
        }
    }
}

/// A line that is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountsSyntaxError {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's first byte in the file.
    pub line_offset_bytes: usize,
    pub message: String,
}

/// `/etc/passwd` parsed.
pub type Passwd = AccountsFile<PasswdEntry>;
/// `/etc/shadow` parsed.
pub type Shadow = AccountsFile<ShadowEntry>;
/// `/etc/group` parsed.
pub type Group = AccountsFile<GroupEntry>;
/// `/etc/gshadow` parsed.
pub type Gshadow = AccountsFile<GshadowEntry>;

/// The password field of any of the four files. It may hold a crypt(3)
/// hash, so it is never printed: `Debug` and `Serialize` show only its
/// status, scheme and length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PasswordField {
    value: String,
}

/// What a password field means to `login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordStatus {
    /// Empty: no password is needed (where PAM allows `nullok`).
    Empty,
    /// `x`: the password is in the shadow file.
    ShadowRef,
    /// Starts with `!`: locked (`!!` is "never set" on RHEL; `!$6$...` is a
    /// locked hash that `passwd -u` would re-enable).
    Locked,
    /// Starts with `*`: no password login possible.
    Disabled,
    /// Anything else: a hash that a password can match.
    Hash,
}

/// The crypt(3) scheme of a hash, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashScheme {
    /// `$1$`
    Md5Crypt,
    /// `$2a$`, `$2b$`, `$2x$`, `$2y$`
    Bcrypt,
    /// `$3$` (NT hash)
    NtHash,
    /// `$5$`
    Sha256Crypt,
    /// `$6$`
    Sha512Crypt,
    /// `$7$`
    Scrypt,
    /// `$y$`
    Yescrypt,
    /// `$gy$`
    GostYescrypt,
    /// `$sha1$`
    Sha1Crypt,
    /// `$md5` (Solaris)
    SunMd5,
    /// `_` + 19 characters (BSDi extended DES)
    BsdiDes,
    /// 13 characters of `[./0-9A-Za-z]` (traditional DES)
    Des,
    /// Anything else (`$id$` not listed above, or a string no crypt(3)
    /// scheme produces).
    Unknown,
}

impl HashScheme {
    /// The prefix that identifies the scheme (`"$6$"`); empty for DES and
    /// unknown.
    pub fn prefix(self) -> &'static str {
        match self {
            HashScheme::Md5Crypt => "$1$",
            HashScheme::Bcrypt => "$2b$",
            HashScheme::NtHash => "$3$",
            HashScheme::Sha256Crypt => "$5$",
            HashScheme::Sha512Crypt => "$6$",
            HashScheme::Scrypt => "$7$",
            HashScheme::Yescrypt => "$y$",
            HashScheme::GostYescrypt => "$gy$",
            HashScheme::Sha1Crypt => "$sha1$",
            HashScheme::SunMd5 => "$md5",
            HashScheme::BsdiDes => "_",
            HashScheme::Des | HashScheme::Unknown => "",
        }
    }

    fn detect(hash: &str) -> HashScheme {
        const PREFIXES: &[(&str, HashScheme)] = &[
            ("$1$", HashScheme::Md5Crypt),
            ("$2a$", HashScheme::Bcrypt),
            ("$2b$", HashScheme::Bcrypt),
            ("$2x$", HashScheme::Bcrypt),
            ("$2y$", HashScheme::Bcrypt),
            ("$3$", HashScheme::NtHash),
            ("$5$", HashScheme::Sha256Crypt),
            ("$6$", HashScheme::Sha512Crypt),
            ("$7$", HashScheme::Scrypt),
            ("$y$", HashScheme::Yescrypt),
            ("$gy$", HashScheme::GostYescrypt),
            ("$sha1$", HashScheme::Sha1Crypt),
            ("$md5", HashScheme::SunMd5),
        ];
        if let Some((_, s)) = PREFIXES.iter().find(|(p, _)| hash.starts_with(p)) {
            return *s;
        }
        let crypt_chars = |s: &str| {
            s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/')
        };
        if hash.len() == 20 && hash.starts_with('_') && crypt_chars(hash.get(1..).unwrap_or("")) {
            HashScheme::BsdiDes
        } else if hash.len() == 13 && crypt_chars(hash) {
            HashScheme::Des
        } else {
            HashScheme::Unknown
        }
    }
}

impl PasswordField {
    fn new(value: &str) -> Self {
        Self {
            value: value.to_string(),
        }
    }

    /// What the field means (empty, `x`, locked, disabled, hash).
    pub fn status(&self) -> PasswordStatus {
        let v = self.value.as_str();
        if v.is_empty() {
            PasswordStatus::Empty
        } else if v == "x" {
            PasswordStatus::ShadowRef
        } else if v.starts_with('!') {
            PasswordStatus::Locked
        } else if v.starts_with('*') {
            PasswordStatus::Disabled
        } else {
            PasswordStatus::Hash
        }
    }

    /// True when a password can log in: not empty, not `x`, not locked
    /// (`!`, `!!`) and not disabled (`*`).
    pub fn is_usable(&self) -> bool {
        self.status() == PasswordStatus::Hash
    }

    /// The crypt(3) scheme of the hash, looking through a lock prefix
    /// (`!$6$...` is a SHA-512 hash, locked). `None` for empty, `x`, and
    /// bare markers (`!`, `!!`, `*`).
    pub fn scheme(&self) -> Option<HashScheme> {
        let hash = self.value.trim_start_matches(['!', '*']);
        if hash.is_empty() || hash == "x" {
            None
        } else {
            Some(HashScheme::detect(hash))
        }
    }

    /// Length of the field in bytes.
    pub fn len_bytes(&self) -> usize {
        self.value.len()
    }

    /// The raw field, hash included. Only for code that must process the
    /// secret itself (redacted evidence, in-place redaction); never log it.
    pub fn expose_secret(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for PasswordField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordField")
            .field("status", &self.status())
            .field("scheme", &self.scheme())
            .field("len_bytes", &self.len_bytes())
            .finish()
    }
}

impl Serialize for PasswordField {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PasswordField", 3)?;
        s.serialize_field("status", &self.status())?;
        s.serialize_field("scheme", &self.scheme())?;
        s.serialize_field("len_bytes", &self.len_bytes())?;
        s.end()
    }
}

/// One `/etc/passwd` record: `name:password:uid:gid:gecos:home:shell`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasswdEntry {
    pub line: u64,
    pub line_offset_bytes: usize,
    pub name: String,
    /// Usually `x`; old systems without shadow keep the hash here.
    pub password: PasswordField,
    /// Byte offset of the password field in the file (for in-place redaction).
    pub password_offset_bytes: usize,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// One `/etc/shadow` record:
/// `name:hash:lastchg:min:max:warn:inactive:expire:reserved`.
/// Empty numeric fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowEntry {
    pub line: u64,
    pub line_offset_bytes: usize,
    pub name: String,
    pub password: PasswordField,
    /// Byte offset of the hash field in the file (for in-place redaction).
    pub password_offset_bytes: usize,
    /// Days since 1970-01-01 of the last change (0: must change at next login).
    pub last_change_days: Option<i64>,
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub warn_days: Option<i64>,
    pub inactive_days: Option<i64>,
    /// Days since 1970-01-01 when the account expires.
    pub expire_days: Option<i64>,
}

impl ShadowEntry {
    /// True when the hash can match a password (see
    /// [`PasswordField::is_usable`]).
    pub fn has_usable_password(&self) -> bool {
        self.password.is_usable()
    }

    /// The hash scheme (`$6$`, `$y$`, ...), if the field holds a hash.
    pub fn hash_scheme(&self) -> Option<HashScheme> {
        self.password.scheme()
    }
}

/// One `/etc/group` record: `name:password:gid:member,member`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupEntry {
    pub line: u64,
    pub line_offset_bytes: usize,
    pub name: String,
    pub password: PasswordField,
    pub gid: u32,
    pub members: Vec<String>,
}

/// One `/etc/gshadow` record: `name:password:admin,admin:member,member`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GshadowEntry {
    pub line: u64,
    pub line_offset_bytes: usize,
    pub name: String,
    pub password: PasswordField,
    pub password_offset_bytes: usize,
    pub admins: Vec<String>,
    pub members: Vec<String>,
}

/// A record's fields, its line, and the byte offset of each field.
struct Record<'a> {
    line: u64,
    line_offset_bytes: usize,
    fields: Vec<(&'a str, usize)>,
}

/// Split a file into colon-separated records, handling the line-level
/// rules shared by the four formats; `build` turns a record into an entry.
fn records<T>(
    bytes: &[u8],
    mut build: impl FnMut(&Record<'_>) -> Result<T, String>,
) -> AccountsFile<T> {
    let mut out = AccountsFile::default();
    let input = match bytes.get(..MAX_INPUT_BYTES) {
        Some(head) if head.len() < bytes.len() => {
            out.truncated = true;
            head
        }
        _ => bytes,
    };
    let push_error = |out: &mut AccountsFile<T>, line: u64, off: usize, message: String| {
        if out.errors.len() < MAX_ERRORS {
            out.errors.push(AccountsSyntaxError {
                line,
                line_offset_bytes: off,
                message,
            });
        }
    };
    for line in lines(input) {
        if line.bytes.len() > MAX_LINE_BYTES {
            push_error(
                &mut out,
                line.number,
                line.offset_bytes,
                "line too long".into(),
            );
            continue;
        }
        let text = line.text();
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        if text.starts_with('+') || text.starts_with('-') {
            out.nis_compat_lines = out.nis_compat_lines.saturating_add(1);
            continue;
        }
        // Field offsets are byte offsets into the original line; lossy
        // decoding keeps ':' positions only when the line is valid UTF-8, so
        // offsets are computed on the raw bytes.
        let mut fields = Vec::new();
        let mut start = 0usize;
        for (i, &b) in line.bytes.iter().enumerate() {
            if b == b':' {
                fields.push((line.bytes.get(start..i).unwrap_or(&[]), start));
                start = i.saturating_add(1);
            }
        }
        fields.push((line.bytes.get(start..).unwrap_or(&[]), start));
        let decoded: Vec<(String, usize)> = fields
            .into_iter()
            .map(|(f, off)| {
                (
                    String::from_utf8_lossy(f).into_owned(),
                    line.offset_bytes.saturating_add(off),
                )
            })
            .collect();
        let record = Record {
            line: line.number,
            line_offset_bytes: line.offset_bytes,
            fields: decoded.iter().map(|(s, o)| (s.as_str(), *o)).collect(),
        };
        match build(&record) {
            Ok(entry) => {
                if out.entries.len() >= MAX_ENTRIES {
                    out.truncated = true;
                    break;
                }
                out.entries.push(entry);
            }
            Err(message) => push_error(&mut out, line.number, line.offset_bytes, message),
        }
    }
    out
}

impl Record<'_> {
    fn field(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", |(s, _)| s)
    }

    fn offset(&self, i: usize) -> usize {
        self.fields
            .get(i)
            .map_or(self.line_offset_bytes, |(_, o)| *o)
    }

    fn expect_fields(&self, what: &str, min: usize, max: usize) -> Result<(), String> {
        let n = self.fields.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!("{what} record has {n} fields, expected {want}"));
        }
        if self.field(0).is_empty() {
            return Err(format!("{what} record has an empty name"));
        }
        Ok(())
    }

    fn name(&self) -> String {
        truncate_chars(self.field(0), 256)
    }

    fn id(&self, i: usize, what: &str) -> Result<u32, String> {
        let s = self.field(i);
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{what} {:?} is not a number",
                truncate_chars(s, 20)
            ));
        }
        s.parse::<u32>()
            .map_err(|_| format!("{what} {:?} is out of range", truncate_chars(s, 20)))
    }

    fn days(&self, i: usize) -> Result<Option<i64>, String> {
        let s = self.field(i).trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<i64>().map(Some).map_err(|_| {
            format!(
                "field {} {:?} is not a number",
                i.saturating_add(1),
                truncate_chars(s, 20)
            )
        })
    }

    fn list(&self, i: usize) -> Vec<String> {
        self.field(i)
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .take(100_000)
            .map(|m| truncate_chars(m, 256))
            .collect()
    }
}

/// Parse `/etc/passwd`.
pub fn parse_passwd(bytes: &[u8]) -> Passwd {
    records(bytes, |r| {
        r.expect_fields("passwd", 7, 7)?;
        Ok(PasswdEntry {
            line: r.line,
            line_offset_bytes: r.line_offset_bytes,
            name: r.name(),
            password: PasswordField::new(r.field(1)),
            password_offset_bytes: r.offset(1),
            uid: r.id(2, "uid")?,
            gid: r.id(3, "gid")?,
            gecos: truncate_chars(r.field(4), 1024),
            home: truncate_chars(r.field(5), 4096),
            shell: truncate_chars(r.field(6), 4096),
        })
    })
}

/// Parse `/etc/shadow`. Records need at least `name:hash`; the aging fields
/// may be missing (older tools write fewer) or empty.
pub fn parse_shadow(bytes: &[u8]) -> Shadow {
    records(bytes, |r| {
        r.expect_fields("shadow", 2, 9)?;
        Ok(ShadowEntry {
            line: r.line,
            line_offset_bytes: r.line_offset_bytes,
            name: r.name(),
            password: PasswordField::new(r.field(1)),
            password_offset_bytes: r.offset(1),
            last_change_days: r.days(2)?,
            min_days: r.days(3)?,
            max_days: r.days(4)?,
            warn_days: r.days(5)?,
            inactive_days: r.days(6)?,
            expire_days: r.days(7)?,
        })
    })
}

/// Parse `/etc/group`.
pub fn parse_group(bytes: &[u8]) -> Group {
    records(bytes, |r| {
        r.expect_fields("group", 4, 4)?;
        Ok(GroupEntry {
            line: r.line,
            line_offset_bytes: r.line_offset_bytes,
            name: r.name(),
            password: PasswordField::new(r.field(1)),
            gid: r.id(2, "gid")?,
            members: r.list(3),
        })
    })
}

/// Parse `/etc/gshadow`.
pub fn parse_gshadow(bytes: &[u8]) -> Gshadow {
    records(bytes, |r| {
        r.expect_fields("gshadow", 4, 4)?;
        Ok(GshadowEntry {
            line: r.line,
            line_offset_bytes: r.line_offset_bytes,
            name: r.name(),
            password: PasswordField::new(r.field(1)),
            password_offset_bytes: r.offset(1),
            admins: r.list(2),
            members: r.list(3),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\n\
bin:x:1:1:bin:/bin:/sbin/nologin\n\
\n\
# comment\n\
toor:x:0:0::/root:/bin/sh\n\
broken:x:abc:0::/:/bin/sh\n\
short:x:1\n\
+@nisgroup::::::\n\
ana:x:1000:1000:Ana,,,:/home/ana:/bin/bash\n";

    #[test]
    fn passwd_records_and_errors() {
        let p = parse_passwd(PASSWD);
        let names: Vec<(&str, u32, u64)> = p
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.uid, e.line))
            .collect();
        assert_eq!(
            names,
            vec![
                ("root", 0, 1),
                ("bin", 1, 2),
                ("toor", 0, 5),
                ("ana", 1000, 9)
            ]
        );
        assert_eq!(p.entries[3].gecos, "Ana,,,");
        assert_eq!(p.entries[3].shell, "/bin/bash");
        assert_eq!(p.entries[0].password.status(), PasswordStatus::ShadowRef);
        let errs: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(errs, vec![6, 7]);
        assert_eq!(p.nis_compat_lines, 1);
        // Offsets point into the original bytes.
        let e = &p.entries[2];
        assert_eq!(
            PASSWD.get(e.line_offset_bytes..e.line_offset_bytes + 4),
            Some(&b"toor"[..])
        );
        assert_eq!(PASSWD.get(e.password_offset_bytes), Some(&b'x'));
    }

    #[test]
    fn uid_out_of_range() {
        let p = parse_passwd(b"a:x:4294967296:0::/:/bin/sh\nb:x:4294967295:0::/:/bin/sh\n");
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].message.contains("out of range"));
    }

    // Hashes below are made up: the right shape, no known password.
    const SHADOW: &[u8] = b"root:$6$saltsalt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:19700:0:99999:7:::\n\
bin:*:19700:0:99999:7:::\n\
daemon:!!:19700::::::\n\
ana:!$y$j9T$salt$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB:19700:0:99999:7:::\n\
nopw::19700:0:99999:7:::\n\
old:abcdefghijk./\n\
bad:x:notanumber\n\
sync\n";

    #[test]
    fn shadow_usable_passwords_and_schemes() {
        let s = parse_shadow(SHADOW);
        let got: Vec<(&str, bool, Option<HashScheme>)> = s
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.has_usable_password(), e.hash_scheme()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("root", true, Some(HashScheme::Sha512Crypt)),
                ("bin", false, None),
                ("daemon", false, None),
                ("ana", false, Some(HashScheme::Yescrypt)),
                ("nopw", false, None),
                ("old", true, Some(HashScheme::Des)),
            ]
        );
        assert_eq!(s.entries[0].last_change_days, Some(19700));
        assert_eq!(s.entries[0].max_days, Some(99999));
        assert_eq!(s.entries[0].inactive_days, None);
        assert_eq!(s.entries[4].password.status(), PasswordStatus::Empty);
        // `bad:x:notanumber` has a non-numeric lastchg; `sync` has one field.
        let errs: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
        assert_eq!(errs, vec![7, 8]);
        let e = &s.entries[0];
        assert_eq!(
            SHADOW.get(e.password_offset_bytes..e.password_offset_bytes + 3),
            Some(&b"$6$"[..])
        );
    }

    #[test]
    fn debug_and_json_never_show_the_hash() {
        let s = parse_shadow(SHADOW);
        let debug = format!("{:?}", s);
        assert!(!debug.contains("saltsalt"), "hash leaked into Debug output");
        assert!(!debug.contains("AAAAAAAA"));
        assert!(debug.contains("Sha512Crypt"));
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(!json.contains("saltsalt"), "hash leaked into JSON");
        assert!(json.contains("\"scheme\":\"sha512-crypt\""));
        assert!(
            s.entries[0]
                .password
                .expose_secret()
                .starts_with("$6$saltsalt$")
        );
    }

    #[test]
    fn group_and_gshadow() {
        let g = parse_group(b"root:x:0:\nwheel:x:10:ana,bob\nbad:x:ten:\n");
        assert_eq!(g.entries.len(), 2);
        assert_eq!(g.entries[1].members, vec!["ana", "bob"]);
        assert!(g.entries[0].members.is_empty());
        assert_eq!(g.errors[0].line, 3);
        let gs = parse_gshadow(b"wheel:::ana\nstaff:$6$x$y:root:\nx:y\n");
        assert_eq!(gs.entries.len(), 2);
        assert_eq!(gs.entries[0].members, vec!["ana"]);
        assert_eq!(gs.entries[1].admins, vec!["root"]);
        assert!(gs.entries[1].password.is_usable());
        assert_eq!(gs.errors.len(), 1);
    }

    #[test]
    fn scheme_detection() {
        let scheme = |h: &str| PasswordField::new(h).scheme();
        assert_eq!(scheme("$1$a$b"), Some(HashScheme::Md5Crypt));
        assert_eq!(scheme("$2b$10$x"), Some(HashScheme::Bcrypt));
        assert_eq!(scheme("$5$a$b"), Some(HashScheme::Sha256Crypt));
        assert_eq!(scheme("$gy$a$b"), Some(HashScheme::GostYescrypt));
        assert_eq!(scheme("_J9..abcdefghijklmno"), Some(HashScheme::BsdiDes));
        assert_eq!(scheme("$9$zz"), Some(HashScheme::Unknown));
        assert_eq!(scheme("!"), None);
        assert_eq!(scheme("*"), None);
        assert_eq!(scheme("x"), None);
        assert!(!PasswordField::new("!!").is_usable());
        assert!(!PasswordField::new("*LK*").is_usable());
        assert_eq!(HashScheme::Sha512Crypt.prefix(), "$6$");
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        const ALPHABET: &[u8] = b"::\n0a$!*+,#\xff\xc3";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..400 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ALPHABET[(seed >> 40) as usize % ALPHABET.len()]
                })
                .collect();
            let _ = parse_passwd(&buf);
            let _ = parse_shadow(&buf);
            let _ = parse_group(&buf);
            let _ = parse_gshadow(&buf);
        }
        let long = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(parse_passwd(&long).errors.len(), 1);
    }
}
