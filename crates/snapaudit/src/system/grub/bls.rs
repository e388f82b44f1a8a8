//! Boot Loader Specification entries (`/boot/loader/entries/*.conf`) as
//! GRUB's `blscfg` command reads them (Fedora/RHEL grub2 `blscfg.c`).
//!
//! What GRUB does, and therefore what this module does:
//! - only files whose name ends in `.conf`, is longer than `.conf` and does
//!   not start with `.` are read; files over 1 MiB are skipped; the entry id
//!   is the file name without `.conf`;
//! - each line: leading blanks skipped, `#` lines skipped; the key ends at
//!   the first space (or, if there is none, the first tab); the value
//!   starts after the blanks that follow. A line without a separator, or
//!   with nothing after it (an empty line, too), ends the file for GRUB;
//! - an entry without `linux` is not shown; the title is `title` or else the
//!   `linux` path; `initrd` may repeat; only the first `options` line is
//!   used, with `$name` replaced by GRUB variables (`$kernelopts` from
//!   grubenv; unset variables vanish);
//! - the menu lists entries newest first: sorted by `version` (rpm-style
//!   version comparison) when every entry has one, else by file name, and
//!   ties broken by file name.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use super::{BootEntry, BootKind, EntryOrigin, split_device_prefix};
use crate::system::lines::{lines, trim_blank_start, truncate_chars};

/// GRUB skips entry files larger than this.
const GRUB_MAX_FILE_BYTES: usize = 1024 * 1024;
/// At most this many keys per entry are kept.
const MAX_FIELDS: usize = 1024;

/// One BLS entry file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlsEntry {
    /// The file name without `.conf` (GRUB's menu entry id).
    pub file_id: String,
    /// Why GRUB ignores this file, if it does (name, size, no `linux`).
    pub grub_skips: Option<String>,
    pub title: Option<String>,
    pub version: Option<String>,
    pub machine_id: Option<String>,
    /// `linux` as written.
    pub linux: Option<String>,
    /// Every `initrd` value, in order.
    pub initrds: Vec<String>,
    /// The first `options` value, unexpanded (`root=... $tuned_params`).
    pub options: Option<String>,
    pub grub_users: Option<String>,
    pub grub_class: Vec<String>,
    /// All keys in file order, with their 1-based line.
    pub fields: Vec<BlsField>,
    /// GRUB stops reading at this line (a blank line or a key without a
    /// value); later lines are not in [`Self::fields`].
    pub grub_stops_at_line: Option<u64>,
}

/// A `key value` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlsField {
    pub line: u64,
    pub key: String,
    pub value: String,
}

impl BlsEntry {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str())
    }

    /// `options` with `$name` replaced from `vars` (GRUB's `expand_val`).
    pub fn expanded_options(&self, vars: &BTreeMap<String, String>) -> String {
        self.options
            .as_deref()
            .map(|o| expand_vars(o, vars))
            .unwrap_or_default()
    }

    /// The menu entry GRUB creates, or `None` if it skips this file.
    /// `vars` are GRUB's variables when `blscfg` runs (grubenv included);
    /// the root search state of the config is the caller's to fill in.
    pub fn to_boot_entry(&self, vars: &BTreeMap<String, String>) -> Option<BootEntry> {
        if self.grub_skips.is_some() {
            return None;
        }
        let linux = self.linux.as_deref()?;
        let title = self.title.clone().unwrap_or_else(|| linux.to_string());
        let mut e = BootEntry::new(
            title,
            EntryOrigin::Bls {
                file_id: self.file_id.clone(),
            },
        );
        e.id = Some(self.file_id.clone());
        e.kind = BootKind::Linux;
        let (device, path) = split_device_prefix(linux);
        e.kernel = Some(path);
        e.kernel_device = device;
        e.cmdline = self.expanded_options(vars);
        let line_of = |key: &str| self.fields.iter().find(|f| f.key == key).map(|f| f.line);
        e.kernel_line = line_of("linux");
        e.initrd_line = line_of("initrd");
        // GRUB writes `initrd ($root)<value>` into the entry, and the
        // script then expands variables such as `$tuned_initrd` in it.
        e.initrds = self
            .initrds
            .iter()
            .map(|v| expand_vars(v, vars))
            .flat_map(|v| {
                v.split_whitespace()
                    .map(|p| split_device_prefix(p).1)
                    .collect::<Vec<_>>()
            })
            .collect();
        Some(e)
    }
}

/// True for file names GRUB's blscfg reads.
pub fn grub_accepts_file_name(name: &str) -> bool {
    name.len() > 5 && name.ends_with(".conf") && !name.starts_with('.')
}

/// Parse one entry file. `file_name` is its name in the entries directory
/// (a path is accepted; only the last component is used).
pub fn parse_entry(file_name: &str, bytes: &[u8]) -> BlsEntry {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let file_id = base.strip_suffix(".conf").unwrap_or(base).to_string();
    let mut entry = BlsEntry {
        file_id,
        grub_skips: None,
        title: None,
        version: None,
        machine_id: None,
        linux: None,
        initrds: Vec::new(),
        options: None,
        grub_users: None,
        grub_class: Vec::new(),
        fields: Vec::new(),
        grub_stops_at_line: None,
    };
    if !grub_accepts_file_name(base) {
        entry.grub_skips = Some("file name is not <id>.conf".into());
        return entry;
    }
    if bytes.len() > GRUB_MAX_FILE_BYTES {
        entry.grub_skips = Some("file larger than 1 MiB".into());
        return entry;
    }
    for line in lines(bytes) {
        let content = trim_blank_start(line.bytes);
        if content.first() == Some(&b'#') {
            continue;
        }
        let sep = content
            .iter()
            .position(|&b| b == b' ')
            .or_else(|| content.iter().position(|&b| b == b'\t'));
        let Some(sep) = sep.filter(|&s| s.saturating_add(1) < content.len()) else {
            entry.grub_stops_at_line = Some(line.number);
            break;
        };
        let key = String::from_utf8_lossy(content.get(..sep).unwrap_or(&[])).into_owned();
        let value = trim_blank_start(content.get(sep.saturating_add(1)..).unwrap_or(&[]));
        let value = truncate_chars(String::from_utf8_lossy(value).trim_end(), 64 * 1024);
        if entry.fields.len() >= MAX_FIELDS {
            break;
        }
        entry.fields.push(BlsField {
            line: line.number,
            key: truncate_chars(&key, 256),
            value,
        });
    }
    let first = |k: &str| entry.get(k).map(str::to_string);
    let (title, version, machine_id) = (first("title"), first("version"), first("machine-id"));
    let (linux, options, grub_users) = (first("linux"), first("options"), first("grub_users"));
    entry.title = title;
    entry.version = version;
    entry.machine_id = machine_id;
    entry.linux = linux;
    entry.options = options;
    entry.grub_users = grub_users;
    entry.initrds = values(&entry.fields, "initrd");
    entry.grub_class = values(&entry.fields, "grub_class");
    if entry.linux.is_none() {
        entry.grub_skips = Some("no 'linux' key".into());
    }
    entry
}

fn values(fields: &[BlsField], key: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|f| f.key == key)
        .map(|f| f.value.clone())
        .collect()
}

/// GRUB's `expand_val`: `$name` ([A-Za-z0-9_]*) is replaced by the
/// variable's value, or nothing when it is unset.
pub(crate) fn expand_vars(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if !(n.is_ascii_alphanumeric() || n == '_') || name.len() > 256 {
                break;
            }
            name.push(n);
            chars.next();
        }
        if let Some(v) = vars.get(&name)
            && out.len().saturating_add(v.len()) < 1024 * 1024
        {
            out.push_str(v);
        }
    }
    out
}

/// The entries GRUB shows, in menu order (newest first).
pub fn sort_for_grub(entries: &[BlsEntry]) -> Vec<&BlsEntry> {
    let mut shown: Vec<&BlsEntry> = entries.iter().filter(|e| e.grub_skips.is_none()).collect();
    let use_version = shown.iter().all(|e| e.version.is_some());
    shown.sort_by(|a, b| {
        let by_version = if use_version {
            vercmp(
                a.version.as_deref().unwrap_or(""),
                b.version.as_deref().unwrap_or(""),
            )
        } else {
            Ordering::Equal
        };
        // Newest first: reverse of GRUB's ascending sort.
        by_version
            .then_with(|| vercmp(&a.file_id, &b.file_id))
            .reverse()
    });
    shown
}

/// rpm's version comparison as copied into GRUB's blscfg.c: alternating
/// numeric and alphabetic segments, separators ignored, `~` sorts before
/// everything, numbers beat letters, longer numbers win, and a version with
/// segments left over is newer.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: Option<&u8>| c.is_some_and(|c| !c.is_ascii_alphanumeric() && *c != b'~');
    loop {
        while sep(a.get(i)) {
            i = i.saturating_add(1);
        }
        while sep(b.get(j)) {
            j = j.saturating_add(1);
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i = i.saturating_add(1);
            j = j.saturating_add(1);
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else { break };
        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let seg_a_len = a
            .get(i..)
            .map_or(0, |s| s.iter().take_while(|c| class(c)).count());
        let seg_b_len = b
            .get(j..)
            .map_or(0, |s| s.iter().take_while(|c| class(c)).count());
        let seg_a = a.get(i..i.saturating_add(seg_a_len)).unwrap_or(&[]);
        let seg_b = b.get(j..j.saturating_add(seg_b_len)).unwrap_or(&[]);
        if seg_b.is_empty() {
            // Different kinds of segment: numeric is newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let strip =
                |s: &'_ [u8]| -> Vec<u8> { s.iter().copied().skip_while(|&c| c == b'0').collect() };
            let (na, nb) = (strip(seg_a), strip(seg_b));
            na.len().cmp(&nb.len()).then_with(|| na.cmp(&nb))
        } else {
            seg_a.cmp(seg_b)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i = i.saturating_add(seg_a_len);
        j = j.saturating_add(seg_b_len);
    }
    match (a.get(i).is_none(), b.get(j).is_none()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RHEL8: &[u8] = b"title Red Hat Enterprise Linux (4.18.0-80.el8.x86_64) 8.0 (Ootpa)\n\
version 4.18.0-80.el8.x86_64\n\
linux /vmlinuz-4.18.0-80.el8.x86_64\n\
initrd /initramfs-4.18.0-80.el8.x86_64.img $tuned_initrd\n\
options $kernelopts $tuned_params\n\
id rhel-20190313123447-4.18.0-80.el8.x86_64\n\
grub_users $grub_users\n\
grub_arg --unrestricted\n\
grub_class kernel\n";

    #[test]
    fn rhel8_entry_with_kernelopts() {
        let e = parse_entry(
            "ffffffffffffffffffffffffffffffff-4.18.0-80.el8.x86_64.conf",
            RHEL8,
        );
        assert_eq!(
            e.file_id,
            "ffffffffffffffffffffffffffffffff-4.18.0-80.el8.x86_64"
        );
        assert_eq!(e.grub_skips, None);
        assert_eq!(e.version.as_deref(), Some("4.18.0-80.el8.x86_64"));
        assert_eq!(e.grub_class, vec!["kernel"]);
        let mut vars = BTreeMap::new();
        vars.insert(
            "kernelopts".to_string(),
            "root=/dev/mapper/rhel-root ro".to_string(),
        );
        let b = e.to_boot_entry(&vars).expect("entry has linux");
        assert_eq!(b.kernel.as_deref(), Some("/vmlinuz-4.18.0-80.el8.x86_64"));
        // Unset $tuned_params vanishes; the blank before it stays.
        assert_eq!(b.cmdline, "root=/dev/mapper/rhel-root ro ");
        assert_eq!(b.initrds, vec!["/initramfs-4.18.0-80.el8.x86_64.img"]);
        assert_eq!(b.id.as_deref(), Some(e.file_id.as_str()));
        assert!(b.kernel_cmdline().root().is_some());
    }

    #[test]
    fn grub_line_rules() {
        // The key ends at the first space even when a tab comes first.
        let e = parse_entry(
            "a.conf",
            b"title\tT\nlinux /k\noptions\troot=/dev/sda1 quiet\n\n  initrd /after-blank\n",
        );
        assert_eq!(e.get("title"), Some("T"));
        assert_eq!(e.get("options"), None);
        assert_eq!(e.get("options\troot=/dev/sda1"), Some("quiet"));
        assert_eq!(e.grub_stops_at_line, Some(4));
        assert!(e.initrds.is_empty());
        let e = parse_entry("b.conf", b"# c\nlinux\n");
        assert_eq!(e.grub_stops_at_line, Some(2));
        assert!(e.grub_skips.is_some());
    }

    #[test]
    fn file_names_grub_ignores() {
        assert!(grub_accepts_file_name("x.conf"));
        assert!(!grub_accepts_file_name(".conf"));
        assert!(!grub_accepts_file_name(".hidden.conf"));
        assert!(!grub_accepts_file_name("x.conf.rpmsave"));
        assert!(
            parse_entry("entries/x.conf.bak", b"linux /k\n")
                .grub_skips
                .is_some()
        );
        assert!(
            parse_entry("x.conf", &vec![b'#'; GRUB_MAX_FILE_BYTES + 1])
                .grub_skips
                .is_some()
        );
        let e = parse_entry("/boot/loader/entries/x.conf", b"linux /k\n");
        assert_eq!(e.file_id, "x");
        // No title: GRUB shows the kernel path.
        assert_eq!(
            e.to_boot_entry(&BTreeMap::new()).map(|b| b.title),
            Some("/k".into())
        );
    }

    #[test]
    fn vercmp_like_rpm() {
        use Ordering::*;
        assert_eq!(vercmp("5.17.0-0.rc5.102.fc36", "5.15.14-200.fc35"), Greater);
        assert_eq!(vercmp("4.18.0-80.el8", "4.18.0-80.el8"), Equal);
        assert_eq!(vercmp("1.10", "1.9"), Greater);
        assert_eq!(vercmp("1.01", "1.1"), Equal);
        assert_eq!(vercmp("1.0~rc1", "1.0"), Less);
        assert_eq!(vercmp("1.0a", "1.0"), Greater);
        assert_eq!(vercmp("1.0", "1.0a"), Less);
        assert_eq!(vercmp("1a", "12"), Less);
        assert_eq!(vercmp("12", "1a"), Greater);
        assert_eq!(vercmp("0-rescue-abc", "4.18.0"), Less);
    }

    #[test]
    fn sorted_newest_first() {
        let mk = |name: &str, version: Option<&str>| {
            let mut text = String::from("linux /k\n");
            if let Some(v) = version {
                text.push_str(&format!("version {v}\n"));
            }
            parse_entry(name, text.as_bytes())
        };
        let entries = vec![
            mk("m-4.18.0-80.el8.x86_64.conf", Some("4.18.0-80.el8.x86_64")),
            mk("m-0-rescue.conf", Some("0-rescue-m")),
            mk(
                "m-4.18.0-193.el8.x86_64.conf",
                Some("4.18.0-193.el8.x86_64"),
            ),
            mk("broken.conf.bak", Some("9")),
        ];
        let ids: Vec<&str> = sort_for_grub(&entries)
            .iter()
            .map(|e| e.file_id.as_str())
            .collect();
        assert_eq!(
            ids,
            vec![
                "m-4.18.0-193.el8.x86_64",
                "m-4.18.0-80.el8.x86_64",
                "m-0-rescue"
            ]
        );
        // One entry without a version: file names decide.
        let entries = vec![mk("b-1.conf", None), mk("b-2.conf", Some("0"))];
        let ids: Vec<&str> = sort_for_grub(&entries)
            .iter()
            .map(|e| e.file_id.as_str())
            .collect();
        assert_eq!(ids, vec!["b-2", "b-1"]);
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        let mut seed = 5u64;
        for len in 0..300 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(3);
                    [b' ', b'\t', b'\n', b'$', b'l', b'~', b'1', 0xff][(seed >> 61) as usize]
                })
                .collect();
            let e = parse_entry("f.conf", &buf);
            let _ = e.to_boot_entry(&BTreeMap::new());
            let s = String::from_utf8_lossy(&buf);
            let _ = vercmp(&s, "1.2~a");
            let _ = vercmp("", &s);
        }
    }
}
