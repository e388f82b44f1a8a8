//! The Linux kernel command line (`root=`, `enforcing=`, `selinux=`, ...).
//!
//! Split the way the kernel's `next_arg()` (lib/cmdline.c) splits it:
//! parameters are separated by blanks outside double quotes; a parameter
//! may be quoted whole (`"a=b c"`) or in its value (`a="b c"`), and those
//! quotes are removed; `--` ends the kernel's parameters and the rest is
//! passed to init. For repeated parameters the last one wins, as for the
//! kernel's own `root=` and for dracut.

use serde::Serialize;

use crate::system::fstab::Source;
use crate::system::lines::truncate_chars;

/// Command lines are at most a few KiB (COMMAND_LINE_SIZE is 2048 to 4096
/// on x86); nothing past this is read.
const MAX_CMDLINE_BYTES: usize = 64 * 1024;
/// At most this many parameters are kept.
const MAX_PARAMS: usize = 4096;

/// A parsed kernel command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelCmdline {
    /// Parameters before `--`, in order.
    pub params: Vec<KernelParam>,
    /// Words after `--` (arguments for init).
    pub init_args: Vec<String>,
}

/// One `key` or `key=value` parameter, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelParam {
    pub key: String,
    pub value: Option<String>,
}

/// Parse a kernel command line.
pub fn parse(cmdline: &str) -> KernelCmdline {
    let cmdline = match cmdline.char_indices().nth(MAX_CMDLINE_BYTES) {
        Some((cut, _)) => cmdline.get(..cut).unwrap_or(cmdline),
        None => cmdline,
    };
    let mut out = KernelCmdline::default();
    let mut after_dashes = false;
    for token in split_outside_quotes(cmdline) {
        if out.params.len().saturating_add(out.init_args.len()) >= MAX_PARAMS {
            break;
        }
        if after_dashes {
            out.init_args.push(token.replace('"', ""));
            continue;
        }
        if token == "--" {
            after_dashes = true;
            continue;
        }
        // A parameter quoted whole: `"key=value with blanks"`.
        let token = match token.strip_prefix('"') {
            Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
            None => token,
        };
        let param = match token.split_once('=') {
            Some((key, value)) => {
                let value = match value.strip_prefix('"') {
                    Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
                    None => value,
                };
                KernelParam {
                    key: truncate_chars(key, 256),
                    value: Some(value.to_string()),
                }
            }
            None => KernelParam {
                key: truncate_chars(token, 256),
                value: None,
            },
        };
        out.params.push(param);
    }
    out
}

/// Blank-separated tokens; blanks inside double quotes do not separate.
fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        let blank = c.is_ascii_whitespace() && !quoted;
        match (start, blank) {
            (None, false) => start = Some(i),
            (Some(st), true) => {
                if let Some(t) = s.get(st..i) {
                    tokens.push(t);
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start
        && let Some(t) = s.get(st..)
    {
        tokens.push(t);
    }
    tokens
}

/// The kernel treats `-` and `_` in parameter names as the same.
fn key_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| if c == b'-' { b'_' } else { c };
            norm(x) == norm(y)
        })
}

/// `kstrtoul(s, 0, ...)`: decimal, `0x` hex or `0` octal, nothing else.
fn parse_c_ulong(s: &str) -> Option<u64> {
    let s = s.trim_end_matches('\n');
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    if s.len() > 1
        && let Some(oct) = s.strip_prefix('0')
    {
        return u64::from_str_radix(oct, 8).ok();
    }
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl KernelCmdline {
    /// The value of the last `key=...` (`None` when absent or given
    /// without a value).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|p| key_eq(&p.key, key))
            .and_then(|p| p.value.as_deref())
    }

    /// Every value of `key`, in order (`console=` is often repeated).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |p| key_eq(&p.key, key))
            .filter_map(|p| p.value.as_deref())
    }

    /// True when `key` appears, with or without a value (`ro`, `quiet`).
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|p| key_eq(&p.key, key))
    }

    /// The last `root=`, classified like an fstab source: `UUID=`,
    /// `PARTUUID=` (a `/PARTNROFF=n` suffix is dropped), `LABEL=`,
    /// `/dev/...`, or something else (`live:...`, `nfs:...`, `ZFS=...`).
    pub fn root(&self) -> Option<Source> {
        let raw = self.get("root")?;
        let source = Source::parse(raw);
        Some(match source {
            Source::PartUuid(v) => match v.split_once("/PARTNROFF=") {
                Some((uuid, _)) => Source::PartUuid(uuid.to_string()),
                None => Source::PartUuid(v),
            },
            other => other,
        })
    }

    /// The last `root=` as written.
    pub fn root_raw(&self) -> Option<&str> {
        self.get("root")
    }

    /// `enforcing=`: `Some(true)` for a non-zero number, `Some(false)` for
    /// zero, `None` when absent or not a number (the kernel ignores it).
    pub fn enforcing(&self) -> Option<bool> {
        self.get("enforcing")
            .and_then(parse_c_ulong)
            .map(|n| n != 0)
    }

    /// `selinux=`: `Some(false)` for `selinux=0` (SELinux disabled at boot).
    pub fn selinux(&self) -> Option<bool> {
        self.get("selinux").and_then(parse_c_ulong).map(|n| n != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_rhel_cmdline() {
        let c = parse(
            "root=UUID=0AB1c2d3-0000-4000-8000-000000000001 ro crashkernel=auto console=tty0 console=ttyS0,115200n8 rhgb quiet",
        );
        assert!(
            c.root()
                .is_some_and(|r| r.matches_uuid("0ab1c2d3-0000-4000-8000-000000000001"))
        );
        assert!(c.has("ro") && c.has("quiet"));
        assert_eq!(c.get("ro"), None);
        assert_eq!(
            c.get_all("console").collect::<Vec<_>>(),
            vec!["tty0", "ttyS0,115200n8"]
        );
        assert_eq!(c.enforcing(), None);
    }

    #[test]
    fn roots() {
        let root = |s: &str| parse(s).root();
        assert_eq!(
            root("root=/dev/sda1"),
            Some(Source::Device("/dev/sda1".into()))
        );
        assert_eq!(
            root("root=LABEL=cloudimg-rootfs"),
            Some(Source::Label("cloudimg-rootfs".into()))
        );
        assert_eq!(
            root("root=PARTUUID=abcd-02/PARTNROFF=1"),
            Some(Source::PartUuid("abcd-02".into()))
        );
        assert_eq!(
            root("root=/dev/mapper/rhel-root"),
            Some(Source::Device("/dev/mapper/rhel-root".into()))
        );
        assert_eq!(
            root("root=live:CDLABEL=x"),
            Some(Source::Other("live:CDLABEL=x".into()))
        );
        // Last one wins.
        assert_eq!(
            root("root=/dev/sda1 root=/dev/vda1"),
            Some(Source::Device("/dev/vda1".into()))
        );
        assert!(root("quiet").is_none());
        assert!(
            parse("root=/dev/sda1")
                .root()
                .is_some_and(|r| r.is_kernel_device_name())
        );
    }

    #[test]
    fn selinux_switches() {
        assert_eq!(parse("enforcing=1").enforcing(), Some(true));
        assert_eq!(parse("enforcing=0").enforcing(), Some(false));
        assert_eq!(parse("enforcing=1 enforcing=0").enforcing(), Some(false));
        assert_eq!(parse("enforcing=yes").enforcing(), None);
        assert_eq!(parse("enforcing=0x1").enforcing(), Some(true));
        assert_eq!(parse("selinux=0").selinux(), Some(false));
        assert_eq!(parse("selinux=1 security=selinux").selinux(), Some(true));
    }

    #[test]
    fn quotes_and_init_args() {
        let c = parse(r#"a="b c" "d=e f" g -- single "x y""#);
        assert_eq!(c.get("a"), Some("b c"));
        assert_eq!(c.get("d"), Some("e f"));
        assert!(c.has("g"));
        assert_eq!(c.init_args, vec!["single", "x y"]);
        assert!(parse("rd.lvm-lv=x").has("rd.lvm_lv"));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for s in [
            "",
            " ",
            "\"",
            "=",
            "==",
            "\"=\"",
            "a=\"",
            "-- --",
            "é=ü \u{0}",
            "root=",
            "root",
        ] {
            let c = parse(s);
            let _ = (c.root(), c.enforcing(), c.selinux());
        }
        let long = "x ".repeat(100_000);
        assert_eq!(parse(&long).params.len(), MAX_PARAMS);
    }
}
