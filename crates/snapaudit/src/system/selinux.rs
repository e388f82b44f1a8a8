//! `/etc/selinux/config`: the SELinux mode the system boots in.
//!
//! The file is read the way libselinux reads it at boot, because that is
//! what decides the mode:
//! - `selinux_getenforcemode()` takes the *first* line that starts exactly
//!   with `SELINUX=` (no leading blanks, upper case) and whose value, after
//!   blanks, starts case-insensitively with `enforcing`, `permissive` or
//!   `disabled`; lines with any other value (including a quoted one) are
//!   skipped.
//! - `SELINUXTYPE=` may be indented and in any case; the *last* one wins and
//!   its value is trimmed at the end.

use serde::Serialize;

use super::lines::{lines, trim_ascii_end, trim_blank_start, truncate_chars};

/// The config file is tiny; nothing past this is read.
const MAX_INPUT_BYTES: usize = 64 * 1024;
const MAX_NOTES: usize = 32;

/// The SELinux mode set by `SELINUX=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SelinuxMode {
    Enforcing,
    Permissive,
    Disabled,
}

/// What `/etc/selinux/config` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SelinuxConfig {
    /// The mode, or `None` when no `SELINUX=` line has a recognised value.
    pub mode: Option<SelinuxMode>,
    /// 1-based line of the `SELINUX=` line that set [`Self::mode`].
    pub mode_line: Option<u64>,
    /// Byte offset of that line's first byte in the file.
    pub mode_line_offset_bytes: Option<usize>,
    /// `SELINUXTYPE=` (`targeted`, `mls`, `minimum`), as written.
    pub policy_type: Option<String>,
    /// 1-based line of the `SELINUXTYPE=` line that set [`Self::policy_type`].
    pub policy_type_line: Option<u64>,
    /// `SELINUX=`-like lines libselinux does not honour (with why), e.g. an
    /// indented line or a quoted value, so a report can point at them.
    pub ignored: Vec<SelinuxConfigNote>,
}

/// A line that looks like a setting but has no effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelinuxConfigNote {
    pub line: u64,
    pub message: String,
}

/// Parse `/etc/selinux/config`.
pub fn parse(bytes: &[u8]) -> SelinuxConfig {
    let bytes = bytes.get(..MAX_INPUT_BYTES).unwrap_or(bytes);
    let mut out = SelinuxConfig::default();
    let note = |out: &mut SelinuxConfig, line: u64, message: String| {
        if out.ignored.len() < MAX_NOTES {
            out.ignored.push(SelinuxConfigNote { line, message });
        }
    };
    for line in lines(bytes) {
        let raw = line.bytes;
        if let Some(value) = raw.strip_prefix(b"SELINUX=") {
            let value = trim_blank_start(value);
            match mode_prefix(value) {
                Some(mode) if out.mode.is_none() => {
                    out.mode = Some(mode);
                    out.mode_line = Some(line.number);
                    out.mode_line_offset_bytes = Some(line.offset_bytes);
                }
                Some(_) => note(
                    &mut out,
                    line.number,
                    "later SELINUX= line: the first one wins".into(),
                ),
                None => note(
                    &mut out,
                    line.number,
                    format!(
                        "SELINUX= value {:?} is not enforcing, permissive or disabled",
                        truncate_chars(&String::from_utf8_lossy(value), 40)
                    ),
                ),
            }
            continue;
        }
        let content = trim_blank_start(raw);
        if content.first() == Some(&b'#') {
            continue;
        }
        if content.len() >= 12
            && content
                .get(..12)
                .is_some_and(|k| k.eq_ignore_ascii_case(b"SELINUXTYPE="))
        {
            let value = trim_ascii_end(content.get(12..).unwrap_or(&[]));
            out.policy_type = Some(truncate_chars(&String::from_utf8_lossy(value), 256));
            out.policy_type_line = Some(line.number);
        } else if content.len() >= 8
            && content
                .get(..8)
                .is_some_and(|k| k.eq_ignore_ascii_case(b"SELINUX="))
        {
            note(
                &mut out,
                line.number,
                "SELINUX= is only honoured in upper case at the start of the line".into(),
            );
        }
    }
    out
}

fn mode_prefix(value: &[u8]) -> Option<SelinuxMode> {
    let starts = |word: &[u8]| {
        value
            .get(..word.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(word))
    };
    if starts(b"enforcing") {
        Some(SelinuxMode::Enforcing)
    } else if starts(b"permissive") {
        Some(SelinuxMode::Permissive)
    } else if starts(b"disabled") {
        Some(SelinuxMode::Disabled)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RHEL: &[u8] = b"\n# This file controls the state of SELinux on the system.\n\
# SELINUX= can take one of these three values:\n\
#     enforcing - SELinux security policy is enforced.\n\
SELINUX=enforcing\n\
# SELINUXTYPE= can take one of these three values:\n\
SELINUXTYPE=targeted\n\n";

    #[test]
    fn rhel_default_config() {
        let c = parse(RHEL);
        assert_eq!(c.mode, Some(SelinuxMode::Enforcing));
        assert_eq!(c.mode_line, Some(5));
        let off = c.mode_line_offset_bytes.unwrap_or(usize::MAX);
        assert_eq!(RHEL.get(off..off + 17), Some(&b"SELINUX=enforcing"[..]));
        assert_eq!(c.policy_type.as_deref(), Some("targeted"));
        assert_eq!(c.policy_type_line, Some(7));
        assert!(c.ignored.is_empty());
    }

    #[test]
    fn first_recognised_mode_wins_like_libselinux() {
        let c = parse(b"SELINUX=\"enforcing\"\n SELINUX=enforcing\nselinux=enforcing\nSELINUX= Permissive # x\nSELINUX=disabled\n");
        assert_eq!(c.mode, Some(SelinuxMode::Permissive));
        assert_eq!(c.mode_line, Some(4));
        let lines: Vec<u64> = c.ignored.iter().map(|n| n.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 5]);
    }

    #[test]
    fn prefix_match_and_last_type_wins() {
        let c = parse(b"SELINUX=disabledXYZ\r\n  selinuxtype=mls  \nSELINUXTYPE=minimum\n");
        assert_eq!(c.mode, Some(SelinuxMode::Disabled));
        assert_eq!(c.policy_type.as_deref(), Some("minimum"));
        assert_eq!(c.policy_type_line, Some(3));
    }

    #[test]
    fn missing_or_garbage() {
        assert_eq!(parse(b"").mode, None);
        let c = parse(b"SELINUX=\nSELINUX=on\n\xff\xfe");
        assert_eq!(c.mode, None);
        assert_eq!(c.ignored.len(), 2);
        const ALPHABET: &[u8] = b"SELINUX=TYPEenforcing \n#\xff";
        let mut seed = 7u32;
        for len in 0..200 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    ALPHABET[(seed >> 16) as usize % ALPHABET.len()]
                })
                .collect();
            let _ = parse(&buf);
        }
    }
}
