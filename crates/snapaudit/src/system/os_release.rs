//! `/etc/os-release` (os-release(5)) and the older per-distribution release
//! files (`/etc/redhat-release`, `/etc/debian_version`, ...).
//!
//! os-release is a list of `KEY=value` lines in a shell-compatible subset:
//! values may be unquoted, `"double quoted"` (where `\"`, `\\`, `\$` and
//! `` \` `` are escapes) or `'single quoted'` (no escapes), `#` starts a
//! comment line. The last assignment of a key wins, as in systemd's reader.

use std::collections::BTreeMap;

use serde::Serialize;

use super::lines::{lines, trim_ascii_end, trim_blank_start, truncate_chars};

/// os-release files are a few hundred bytes; anything past this is not read.
const MAX_INPUT_BYTES: usize = 64 * 1024;
/// At most this many distinct keys are kept.
const MAX_KEYS: usize = 512;
/// Values longer than this (in characters) are cut.
const MAX_VALUE_CHARS: usize = 4096;
/// At most this many syntax problems are recorded.
const MAX_ERRORS: usize = 64;

/// The parsed content of an os-release file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID`: lower-case distribution identifier (`debian`, `rhel`, `alinux`).
    pub id: Option<String>,
    /// `ID_LIKE`: space-separated related distributions, in order.
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`12`, `8.9`, `3`).
    pub version_id: Option<String>,
    /// `NAME`.
    pub name: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
    /// `VERSION_CODENAME`.
    pub version_codename: Option<String>,
    /// Every key with its (unquoted, unescaped) value.
    pub fields: BTreeMap<String, String>,
    /// Lines that are not comments, blank, or `KEY=value`.
    pub errors: Vec<ReleaseSyntaxError>,
}

/// A line of an os-release file that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseSyntaxError {
    /// 1-based line number.
    pub line: u64,
    pub message: String,
}

impl OsRelease {
    /// The value of any key (`BUILD_ID`, `VARIANT_ID`, ...).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// True when `ID` or one of `ID_LIKE` equals `id`.
    pub fn is_like(&self, id: &str) -> bool {
        self.id.as_deref() == Some(id) || self.id_like.iter().any(|l| l == id)
    }
}

/// Parse an os-release file. Never fails: unparsable lines are listed in
/// [`OsRelease::errors`] and the rest is still read.
pub fn parse(bytes: &[u8]) -> OsRelease {
    let mut out = OsRelease::default();
    let (fields, errors) = parse_assignments(bytes);
    out.fields = fields;
    out.errors = errors;
    let non_empty = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned();
    out.id = non_empty(out.fields.get("ID"));
    out.id_like = out
        .fields
        .get("ID_LIKE")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    out.version_id = non_empty(out.fields.get("VERSION_ID"));
    out.name = non_empty(out.fields.get("NAME"));
    out.pretty_name = non_empty(out.fields.get("PRETTY_NAME"));
    out.version_codename = non_empty(out.fields.get("VERSION_CODENAME"));
    out
}

/// The shell-like `KEY=value` reader shared by os-release, lsb-release and
/// SuSE-release.
fn parse_assignments(bytes: &[u8]) -> (BTreeMap<String, String>, Vec<ReleaseSyntaxError>) {
    let bytes = bytes.get(..MAX_INPUT_BYTES).unwrap_or(bytes);
    let mut fields = BTreeMap::new();
    let mut errors = Vec::new();
    let push_error = |errors: &mut Vec<ReleaseSyntaxError>, line: u64, message: &str| {
        if errors.len() < MAX_ERRORS {
            errors.push(ReleaseSyntaxError {
                line,
                message: message.to_string(),
            });
        }
    };
    for line in lines(bytes) {
        let content = trim_blank_start(line.bytes);
        if content.is_empty() || content.first() == Some(&b'#') {
            continue;
        }
        let Some(eq) = content.iter().position(|&b| b == b'=') else {
            push_error(&mut errors, line.number, "no '=' in line");
            continue;
        };
        let key = trim_ascii_end(content.get(..eq).unwrap_or(&[]));
        if !is_shell_name(key) {
            push_error(&mut errors, line.number, "invalid variable name");
            continue;
        }
        let raw_value = trim_blank_start(content.get(eq.saturating_add(1)..).unwrap_or(&[]));
        let (value, unterminated) = unquote_shell_value(raw_value);
        if unterminated {
            push_error(&mut errors, line.number, "unterminated quote");
        }
        let key = String::from_utf8_lossy(key).into_owned();
        if fields.len() >= MAX_KEYS && !fields.contains_key(&key) {
            push_error(&mut errors, line.number, "too many keys");
            continue;
        }
        fields.insert(key, truncate_chars(&value, MAX_VALUE_CHARS));
    }
    (fields, errors)
}

fn is_shell_name(key: &[u8]) -> bool {
    match key.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        None => false,
    }
}

/// Decode one shell-style value: concatenated unquoted, single- and
/// double-quoted segments, ending at unquoted whitespace (the rest of the
/// line after it is ignored, like a trailing comment). Returns the value and
/// whether a quote was left open.
fn unquote_shell_value(raw: &[u8]) -> (String, bool) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut state = State::Plain;
    let mut i = 0usize;
    while let Some(&c) = raw.get(i) {
        i = i.saturating_add(1);
        match state {
            State::Plain => match c {
                b'\'' => state = State::Single,
                b'"' => state = State::Double,
                b'\\' => {
                    if let Some(&next) = raw.get(i) {
                        out.push(next);
                        i = i.saturating_add(1);
                    }
                }
                b' ' | b'\t' => break,
                _ => out.push(c),
            },
            State::Single => match c {
                b'\'' => state = State::Plain,
                _ => out.push(c),
            },
            State::Double => match c {
                b'"' => state = State::Plain,
                b'\\' => match raw.get(i) {
                    Some(&next @ (b'"' | b'\\' | b'$' | b'`')) => {
                        out.push(next);
                        i = i.saturating_add(1);
                    }
                    _ => out.push(c),
                },
                _ => out.push(c),
            },
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        state != State::Plain,
    )
}

/// What an older release file says about the distribution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LegacyRelease {
    /// The file name it was read from (base name, e.g. `redhat-release`).
    pub file_name: String,
    /// The first non-empty line, trimmed (e.g. `CentOS Linux release 7.9.2009 (Core)`).
    pub text: String,
    /// A distribution id in os-release style when one can be derived
    /// (`rhel`, `centos`, `debian`, `alpine`, `sles`, `opensuse`, ...).
    pub id: Option<String>,
    /// The version when one can be derived (`7.9.2009`, `12.5`, `11.4`).
    pub version_id: Option<String>,
    /// `KEY=value` pairs for the files that have them (`lsb-release`, `SuSE-release`).
    pub fields: BTreeMap<String, String>,
}

/// Parse a legacy release file. `file_name` may be a path or a base name;
/// only the base name is used to pick the format.
pub fn parse_legacy_release(file_name: &str, bytes: &[u8]) -> LegacyRelease {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let bytes = bytes.get(..MAX_INPUT_BYTES).unwrap_or(bytes);
    let text = lines(bytes)
        .map(|l| l.text().trim().to_string())
        .find(|t| !t.is_empty())
        .map(|t| truncate_chars(&t, 512))
        .unwrap_or_default();
    let mut out = LegacyRelease {
        file_name: base.to_string(),
        text,
        ..LegacyRelease::default()
    };
    match base {
        "debian_version" => {
            out.id = Some("debian".into());
            // "12.5" is a release; "bookworm/sid" (testing) is not a number.
            if out.text.starts_with(|c: char| c.is_ascii_digit()) {
                out.version_id = Some(out.text.clone());
            }
        }
        "alpine-release" => {
            out.id = Some("alpine".into());
            out.version_id = first_version_number(&out.text);
        }
        "arch-release" => out.id = Some("arch".into()),
        "lsb-release" => {
            out.fields = parse_assignments(bytes).0;
            out.id = out
                .fields
                .get("DISTRIB_ID")
                .filter(|v| !v.is_empty())
                .map(|v| v.to_ascii_lowercase());
            out.version_id = out
                .fields
                .get("DISTRIB_RELEASE")
                .filter(|v| !v.is_empty())
                .cloned();
        }
        "SuSE-release" | "suse-release" => {
            out.fields = parse_suse_fields(bytes);
            let lower = out.text.to_ascii_lowercase();
            out.id = Some(if lower.contains("opensuse") {
                "opensuse".into()
            } else {
                "sles".into()
            });
            out.version_id = match (out.fields.get("VERSION"), out.fields.get("PATCHLEVEL")) {
                (Some(v), Some(p)) if p != "0" && !v.contains('.') => Some(format!("{v}.{p}")),
                (Some(v), _) => Some(v.clone()),
                (None, _) => first_version_number(&out.text),
            };
        }
        "slackware-version" => {
            out.id = Some("slackware".into());
            out.version_id = first_version_number(&out.text);
        }
        _ => {
            // `redhat-release` is shared by the whole RHEL family, so the
            // text decides; `<name>-release` otherwise names the distribution.
            out.id = id_from_release_text(&out.text)
                .map(str::to_string)
                .or_else(|| {
                    base.strip_suffix("-release")
                        .or_else(|| base.strip_suffix("_version"))
                        .filter(|s| !s.is_empty() && *s != "redhat" && *s != "system")
                        .map(str::to_ascii_lowercase)
                });
            out.version_id =
                version_after_release(&out.text).or_else(|| first_version_number(&out.text));
        }
    }
    out
}

/// The distribution named in a `<Name> release <version>` line.
fn id_from_release_text(text: &str) -> Option<&'static str> {
    // Longer, more specific names first: "Red Hat Enterprise Linux" appears
    // inside other vendors' strings only as a compatibility note.
    const NAMES: &[(&str, &str)] = &[
        ("centos stream", "centos"),
        ("centos", "centos"),
        ("rocky", "rocky"),
        ("almalinux", "almalinux"),
        ("oracle linux", "ol"),
        ("enterprise linux enterprise linux", "ol"),
        ("scientific linux", "scientific"),
        ("cloudlinux", "cloudlinux"),
        ("alibaba cloud linux", "alinux"),
        ("aliyun linux", "alinux"),
        ("anolis", "anolis"),
        ("openeuler", "openEuler"),
        ("amazon linux", "amzn"),
        ("fedora", "fedora"),
        ("red hat enterprise linux", "rhel"),
        ("gentoo", "gentoo"),
        ("mageia", "mageia"),
        ("opensuse", "opensuse"),
        ("suse linux enterprise", "sles"),
    ];
    let lower = text.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, id)| *id)
}

/// The version token after the word `release` (`... release 7.9.2009 (Core)`).
fn version_after_release(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case("release") {
            return words
                .next()
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                .map(|v| truncate_chars(v, 64));
        }
    }
    None
}

/// The first whitespace-separated token that starts with a digit, with
/// trailing punctuation removed.
fn first_version_number(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(|w| truncate_chars(w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()), 64))
}

/// `SuSE-release`: a title line, then `KEY = value` lines with spaces.
fn parse_suse_fields(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    for line in lines(bytes) {
        let text = line.text();
        let Some((k, v)) = text.split_once('=') else {
            continue;
        };
        let key = k.trim();
        if key.is_empty() || !is_shell_name(key.as_bytes()) || fields.len() >= MAX_KEYS {
            continue;
        }
        fields.insert(key.to_string(), truncate_chars(v.trim(), MAX_VALUE_CHARS));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN12: &[u8] = br#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    #[test]
    fn debian_bookworm() {
        let os = parse(DEBIAN12);
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os.get("HOME_URL"), Some("https://www.debian.org/"));
        assert!(os.id_like.is_empty());
        assert!(os.errors.is_empty());
    }

    #[test]
    fn quotes_escapes_comments_and_id_like() {
        let os = parse(
            b"# comment\n\n  ID='alinux'\nID_LIKE=\"rhel fedora centos anolis\"\n\
              NAME=\"Say \\\"hi\\\" \\$x \\\\ \\n\"\nVERSION_ID=3 # trailing\nBAD LINE\nX-Y=1\n",
        );
        assert_eq!(os.id.as_deref(), Some("alinux"));
        assert_eq!(os.id_like, vec!["rhel", "fedora", "centos", "anolis"]);
        assert!(os.is_like("rhel"));
        assert!(!os.is_like("debian"));
        // Unknown escapes inside double quotes keep their backslash.
        assert_eq!(os.name.as_deref(), Some("Say \"hi\" $x \\ \\n"));
        assert_eq!(os.version_id.as_deref(), Some("3"));
        let bad: Vec<u64> = os.errors.iter().map(|e| e.line).collect();
        assert_eq!(bad, vec![7, 8]);
    }

    #[test]
    fn last_assignment_wins_and_empty_values_are_none() {
        let os = parse(b"ID=a\nID=b\nVERSION_ID=\"\"\n");
        assert_eq!(os.id.as_deref(), Some("b"));
        assert_eq!(os.version_id, None);
        assert_eq!(os.get("VERSION_ID"), Some(""));
    }

    #[test]
    fn unterminated_quote_and_non_utf8() {
        let os = parse(b"NAME=\"open\nID=x\xff\n");
        assert_eq!(os.name.as_deref(), Some("open"));
        assert_eq!(os.errors.len(), 1);
        assert_eq!(os.id.as_deref(), Some("x\u{fffd}"));
    }

    #[test]
    fn redhat_family_release_files() {
        let r = parse_legacy_release(
            "/etc/redhat-release",
            b"CentOS Linux release 7.9.2009 (Core)\n",
        );
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("centos"), Some("7.9.2009"))
        );
        let r = parse_legacy_release(
            "redhat-release",
            b"Red Hat Enterprise Linux Server release 6.10 (Santiago)\n",
        );
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("rhel"), Some("6.10"))
        );
        let r = parse_legacy_release("centos-release", b"CentOS release 5.11 (Final)");
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("centos"), Some("5.11"))
        );
        let r = parse_legacy_release(
            "alinux-release",
            b"Alibaba Cloud Linux (Aliyun Linux) release 2.1903 LTS (Hunting Beagle)\n",
        );
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("alinux"), Some("2.1903"))
        );
        let r = parse_legacy_release("foo-release", b"Foo OS 1.2\n");
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("foo"), Some("1.2"))
        );
        assert_eq!(r.text, "Foo OS 1.2");
    }

    #[test]
    fn debian_alpine_suse_lsb() {
        let r = parse_legacy_release("debian_version", b"12.5\n");
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("debian"), Some("12.5"))
        );
        let r = parse_legacy_release("debian_version", b"bookworm/sid\n");
        assert_eq!((r.id.as_deref(), r.version_id), (Some("debian"), None));
        let r = parse_legacy_release("alpine-release", b"3.19.1\n");
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("alpine"), Some("3.19.1"))
        );
        let r = parse_legacy_release(
            "SuSE-release",
            b"SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n",
        );
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("sles"), Some("11.4"))
        );
        let r = parse_legacy_release(
            "SuSE-release",
            b"openSUSE 13.2 (x86_64)\nVERSION = 13.2\nCODENAME = Harlequin\n",
        );
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("opensuse"), Some("13.2"))
        );
        let r = parse_legacy_release(
            "lsb-release",
            b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n",
        );
        assert_eq!(
            (r.id.as_deref(), r.version_id.as_deref()),
            (Some("ubuntu"), Some("22.04"))
        );
        assert_eq!(
            r.fields.get("DISTRIB_DESCRIPTION").map(String::as_str),
            Some("Ubuntu 22.04.4 LTS")
        );
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        const ALPHABET: &[u8] = b"=\"'\\ \n#Ax\xff";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // Bias towards the syntax characters.
                    ALPHABET[(seed % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&buf);
            for name in [
                "redhat-release",
                "SuSE-release",
                "lsb-release",
                "debian_version",
                "x",
            ] {
                let _ = parse_legacy_release(name, &buf);
            }
        }
    }
}
