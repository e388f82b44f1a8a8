//! `/etc/fstab`, read the way libmount (util-linux) reads it.
//!
//! Per fstab(5) and libmount's `mnt_parse_table_line()`:
//! - a line is split on spaces and tabs; leading blanks are skipped; a line
//!   whose first non-blank character is `#` is a comment; `\r` before the
//!   newline is dropped;
//! - each field is "unmangled": `\` followed by exactly three octal digits is
//!   that byte (`\040` space, `\011` tab, `\134` backslash); anything else is
//!   literal (so `sshfs#user@host:` is a source, not a comment);
//! - source, target and type are required; options, freq and passno are
//!   optional. libmount accepts a 3-field line (no options), rejects 1- and
//!   2-field lines, rejects a freq/passno that is not a number, and ignores
//!   anything after the sixth field (an end-of-line `# comment`, for
//!   instance). util-linux's own test `fstab.broken` confirms this: `bug` and
//!   a 9-word sentence are its only two errors.
//!
//! Option values that are passwords (`password=` for cifs) are replaced by
//! `***` in [`FstabEntry::options`] and [`FstabEntry::raw`], so entries can
//! be shown in a report as they are.

use serde::Serialize;

use super::lines::{lines, trim_blank_start, truncate_chars};

/// fstab files are small; nothing past this is read (and `truncated` is set).
const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Lines longer than this are syntax errors and not parsed (the kernel's
/// PATH_MAX for source and target, plus options, fits well within it).
const MAX_LINE_BYTES: usize = 16 * 1024;
/// At most this many entries are kept.
const MAX_ENTRIES: usize = 10_000;
/// At most this many syntax errors are kept.
const MAX_ERRORS: usize = 1000;
/// `raw` is cut to this many characters.
const MAX_RAW_CHARS: usize = 4096;

/// A parsed fstab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fstab {
    pub entries: Vec<FstabEntry>,
    pub errors: Vec<FstabSyntaxError>,
    /// The input was larger than snapaudit reads or had more entries than
    /// it keeps.
    pub truncated: bool,
}

impl Fstab {
    /// The first entry mounted on `/` (a trailing slash is ignored).
    pub fn root_entry(&self) -> Option<&FstabEntry> {
        self.entries.iter().find(|e| e.target_is("/"))
    }
}

/// One mount line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabEntry {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's first byte in the file. The sanitizer
    /// comments a line out by writing `#` there; that byte may be a blank
    /// when the line is indented, which is harmless.
    pub line_offset_bytes: usize,
    /// The source as written (unmangled), e.g. `UUID=7d2e...` or `/dev/vdb1`.
    pub source_raw: String,
    /// What the source names.
    pub source: Source,
    /// Mount point (`swap` or `none` for swap).
    pub target: String,
    /// Filesystem type; may be a comma list (`udf,iso9660`).
    pub fstype: String,
    /// Mount options in order, `defaults` included, empty items dropped,
    /// password values replaced by `***`.
    pub options: Vec<String>,
    /// dump frequency (field 5; 0 when absent).
    pub freq: u32,
    /// fsck pass number (field 6; 0 when absent).
    pub passno: u32,
    /// The line as written (lossy UTF-8, passwords replaced by `***`).
    pub raw: String,
    /// How many blank-separated fields the line has (3 to 6 are read; more
    /// are ignored by libmount).
    pub field_count: usize,
    /// An option carries a password in clear (`password=...`).
    pub inline_password: bool,
}

/// A line libmount would reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabSyntaxError {
    pub line: u64,
    pub line_offset_bytes: usize,
    pub message: String,
    /// The line as written (lossy UTF-8, cut, passwords replaced by `***`).
    pub raw: String,
}

/// What an fstab source (first field) names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Source {
    /// `UUID=...` or `/dev/disk/by-uuid/...`: a filesystem UUID.
    Uuid(String),
    /// `LABEL=...` or `/dev/disk/by-label/...`: a filesystem label.
    Label(String),
    /// `PARTUUID=...` or `/dev/disk/by-partuuid/...`: a partition UUID.
    PartUuid(String),
    /// `PARTLABEL=...` or `/dev/disk/by-partlabel/...`: a partition name.
    PartLabel(String),
    /// Any other path under `/dev/` (`/dev/vda1`, `/dev/mapper/vg-root`).
    Device(String),
    /// Not a block device: `proc`, `tmpfs`, `host:/export`,
    /// `//server/share`, a swap file path, a bind-mount source.
    Other(String),
}

/// Builds a [`Source`] variant from a value.
type TagCtor = fn(String) -> Source;

impl Source {
    /// Classify an fstab source (or a kernel `root=` value). Tag values may
    /// be quoted (`UUID="..."`); `/dev/disk/by-*` links become the same tag
    /// (with udev's `\x20`-style escapes decoded).
    pub fn parse(s: &str) -> Source {
        const TAGS: &[(&str, TagCtor)] = &[
            ("UUID=", Source::Uuid),
            ("LABEL=", Source::Label),
            ("PARTUUID=", Source::PartUuid),
            ("PARTLABEL=", Source::PartLabel),
        ];
        const LINKS: &[(&str, TagCtor)] = &[
            ("/dev/disk/by-uuid/", Source::Uuid),
            ("/dev/disk/by-label/", Source::Label),
            ("/dev/disk/by-partuuid/", Source::PartUuid),
            ("/dev/disk/by-partlabel/", Source::PartLabel),
        ];
        for (prefix, make) in TAGS {
            if let Some(v) = s.strip_prefix(prefix) {
                return make(strip_quotes(v).to_string());
            }
        }
        for (prefix, make) in LINKS {
            if let Some(v) = s.strip_prefix(prefix) {
                return make(decode_udev_escapes(v));
            }
        }
        if s.starts_with("/dev/") {
            Source::Device(s.to_string())
        } else {
            Source::Other(s.to_string())
        }
    }

    /// The value without its tag (`UUID=abc` → `abc`).
    pub fn value(&self) -> &str {
        match self {
            Source::Uuid(v)
            | Source::Label(v)
            | Source::PartUuid(v)
            | Source::PartLabel(v)
            | Source::Device(v)
            | Source::Other(v) => v,
        }
    }

    /// True for a tag or `/dev` path, i.e. something that names a block
    /// device (`Other` does not).
    pub fn is_block_device(&self) -> bool {
        !matches!(self, Source::Other(_))
    }

    /// True when both name the same thing. UUIDs and PARTUUIDs compare
    /// case-insensitively (blkid prints lower case, people write upper);
    /// labels and paths compare exactly.
    pub fn same_as(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Uuid(a), Source::Uuid(b)) | (Source::PartUuid(a), Source::PartUuid(b)) => {
                uuid_eq(a, b)
            }
            (Source::Label(a), Source::Label(b))
            | (Source::PartLabel(a), Source::PartLabel(b))
            | (Source::Device(a), Source::Device(b))
            | (Source::Other(a), Source::Other(b)) => a == b,
            _ => false,
        }
    }

    /// True for `UUID=<uuid>` in any letter case.
    pub fn matches_uuid(&self, uuid: &str) -> bool {
        matches!(self, Source::Uuid(v) if uuid_eq(v, uuid))
    }

    /// True for `PARTUUID=<uuid>` in any letter case.
    pub fn matches_partuuid(&self, uuid: &str) -> bool {
        matches!(self, Source::PartUuid(v) if uuid_eq(v, uuid))
    }

    /// The kernel device name, if this is one (`/dev/vda1`, `/dev/sdb`,
    /// `/dev/xvda2`, `/dev/hda1`, `/dev/nvme0n1p2`).
    pub fn kernel_device_name(&self) -> Option<KernelDevice> {
        match self {
            Source::Device(path) => KernelDevice::parse(path),
            _ => None,
        }
    }

    /// True for a kernel device name (`/dev/sdXN`, `/dev/vdXN`,
    /// `/dev/xvdXN`, `/dev/hdXN`, `/dev/nvmeXnYpZ`, partition optional).
    /// Such names change between virtio, Xen and NVMe instance types.
    pub fn is_kernel_device_name(&self) -> bool {
        self.kernel_device_name().is_some()
    }

    /// True for a kernel device name of a disk other than the first one:
    /// `/dev/[svh]d[b-z]*`, `/dev/xvd[b-z]*` (and `sdaa`-style names past
    /// the 26th disk), `/dev/nvme[1-9]*n*`, and namespaces other than 1 of
    /// the first controller (`/dev/nvme0n2`).
    pub fn other_disk_device(&self) -> bool {
        self.kernel_device_name()
            .is_some_and(|d| !d.is_first_disk())
    }
}

/// A kernel block-device name, split into disk and partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KernelDevice {
    /// `/dev/<prefix><letters><partition>`: `sd`, `vd`, `hd` or `xvd`.
    Lettered {
        prefix: String,
        disk: String,
        partition: Option<u32>,
    },
    /// `/dev/nvme<controller>n<namespace>[p<partition>]`.
    Nvme {
        controller: u32,
        namespace: u32,
        partition: Option<u32>,
    },
}

impl KernelDevice {
    /// Parse `/dev/sda1`-style paths; `None` for anything else.
    pub fn parse(path: &str) -> Option<KernelDevice> {
        let name = path.strip_prefix("/dev/")?;
        if let Some(rest) = name.strip_prefix("nvme") {
            let (controller, rest) = split_number(rest)?;
            let rest = rest.strip_prefix('n')?;
            let (namespace, rest) = split_number(rest)?;
            let partition = if rest.is_empty() {
                None
            } else {
                let (p, tail) = split_number(rest.strip_prefix('p')?)?;
                if !tail.is_empty() {
                    return None;
                }
                Some(p)
            };
            return Some(KernelDevice::Nvme {
                controller,
                namespace,
                partition,
            });
        }
        let prefix = ["xvd", "sd", "vd", "hd"]
            .into_iter()
            .find(|p| name.starts_with(p))?;
        let rest = name.get(prefix.len()..)?;
        let letters_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        if letters_len == 0 || letters_len > 3 {
            return None;
        }
        let disk = rest.get(..letters_len)?;
        let digits = rest.get(letters_len..)?;
        let partition = if digits.is_empty() {
            None
        } else {
            let (p, tail) = split_number(digits)?;
            if !tail.is_empty() {
                return None;
            }
            Some(p)
        };
        Some(KernelDevice::Lettered {
            prefix: prefix.to_string(),
            disk: disk.to_string(),
            partition,
        })
    }

    /// True for the first disk of its kind (`sda`, `vda`, `xvda`, `hda`,
    /// `nvme0n1`), where a single-disk image's root would be.
    pub fn is_first_disk(&self) -> bool {
        match self {
            KernelDevice::Lettered { disk, .. } => disk == "a",
            KernelDevice::Nvme {
                controller,
                namespace,
                ..
            } => *controller == 0 && *namespace == 1,
        }
    }
}

/// A leading run of ASCII digits as a number, and the rest.
fn split_number(s: &str) -> Option<(u32, &str)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return None;
    }
    let n = s.get(..len)?.parse().ok()?;
    Some((n, s.get(len..)?))
}

/// Case-insensitive UUID equality (also fine for vfat `ABCD-1234` ids).
pub fn uuid_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn strip_quotes(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// udev writes unsafe characters of `/dev/disk/by-label/` names as `\xHH`.
fn decode_udev_escapes(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\'
            && bytes.get(i.saturating_add(1)) == Some(&b'x')
            && let Some(hex) = bytes.get(i.saturating_add(2)..i.saturating_add(4))
            && let Ok(text) = std::str::from_utf8(hex)
            && let Ok(value) = u8::from_str_radix(text, 16)
        {
            out.push(value);
            i = i.saturating_add(4);
            continue;
        }
        out.push(b);
        i = i.saturating_add(1);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Pseudo filesystems: no block device behind them.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devpts",
    "tmpfs",
    "devtmpfs",
    "ramfs",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "mqueue",
    "hugetlbfs",
    "efivarfs",
    "pstore",
    "bpf",
    "tracefs",
    "configfs",
    "fusectl",
    "autofs",
    "binfmt_misc",
    "selinuxfs",
    "rpc_pipefs",
    "nfsd",
    "usbfs",
    "none",
];

/// Network filesystems (fuse subtypes included).
const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "glusterfs",
    "ceph",
    "cephfs",
    "sshfs",
    "davfs",
    "afs",
    "lustre",
    "beegfs",
    "fuse.sshfs",
    "fuse.glusterfs",
    "fuse.ceph",
    "fuse.s3fs",
    "fuse.ossfs",
    "fuse.cephfs",
    "fuse.davfs",
];

/// FUSE sources written `helper#what` (old fuse syntax, type `fuse`).
const NETWORK_FUSE_HELPERS: &[&str] = &["sshfs#", "s3fs#", "ossfs#", "glusterfs#", "davfs#"];

impl FstabEntry {
    /// True when the mount point is `path`, ignoring trailing slashes
    /// (`/any/foo/` is `/any/foo`, as libmount's find-target treats it).
    pub fn target_is(&self, path: &str) -> bool {
        let norm = |p: &str| {
            let t = p.trim_end_matches('/');
            if t.is_empty() && p.starts_with('/') {
                "/".to_string()
            } else {
                t.to_string()
            }
        };
        norm(&self.target) == norm(path)
    }

    /// True when the options include `name` or `name=...`.
    pub fn has_option(&self, name: &str) -> bool {
        self.options.iter().any(|o| option_name(o) == name)
    }

    /// The value of the last `name=value` option.
    pub fn option_value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| option_name(o) == name)
            .and_then(|o| o.split_once('=').map(|(_, v)| v))
    }

    /// The filesystem types (one, or several for `udf,iso9660`).
    pub fn fstypes(&self) -> impl Iterator<Item = &str> {
        self.fstype.split(',').filter(|t| !t.is_empty())
    }

    /// True for pseudo filesystems (proc, sysfs, devpts, tmpfs, devtmpfs,
    /// cgroup*, securityfs, debugfs, mqueue, hugetlbfs, efivarfs, pstore,
    /// bpf, tracefs, configfs, fusectl, autofs, binfmt_misc, none, ...).
    pub fn is_pseudo_fs(&self) -> bool {
        let mut types = self.fstypes().peekable();
        types.peek().is_some() && types.all(|t| PSEUDO_FS.contains(&t))
    }

    /// True for network filesystems (nfs, nfs4, cifs, smb3, glusterfs,
    /// ceph, sshfs, fuse.* network helpers, ...).
    pub fn is_network_fs(&self) -> bool {
        self.fstypes().any(|t| NETWORK_FS.contains(&t))
            || (self.fstype == "fuse"
                && NETWORK_FUSE_HELPERS
                    .iter()
                    .any(|h| self.source.value().starts_with(h)))
    }

    /// True for bind mounts (`bind` or `rbind` option).
    pub fn is_bind(&self) -> bool {
        self.has_option("bind") || self.has_option("rbind")
    }

    /// True for swap (`swap` type).
    pub fn is_swap(&self) -> bool {
        self.fstype == "swap"
    }

    /// True when a missing device does not stop the boot (`nofail`) or the
    /// entry is not mounted at boot (`noauto`).
    pub fn is_optional_at_boot(&self) -> bool {
        self.has_option("nofail") || self.has_option("noauto")
    }
}

fn option_name(o: &str) -> &str {
    o.split_once('=').map_or(o, |(k, _)| k)
}

/// Option names whose values are passwords.
fn is_password_option(name: &str) -> bool {
    ["password", "pass", "passwd"]
        .iter()
        .any(|p| name.eq_ignore_ascii_case(p))
}

/// Parse an fstab. Never fails: lines libmount rejects are listed in
/// [`Fstab::errors`] and the rest is still read.
pub fn parse(bytes: &[u8]) -> Fstab {
    let mut out = Fstab::default();
    let input = match bytes.get(..MAX_INPUT_BYTES) {
        Some(head) if head.len() < bytes.len() => {
            out.truncated = true;
            head
        }
        _ => bytes,
    };
    for line in lines(input) {
        let content = trim_blank_start(line.bytes);
        if content.is_empty() || content.first() == Some(&b'#') {
            continue;
        }
        let error = |message: &str| FstabSyntaxError {
            line: line.number,
            line_offset_bytes: line.offset_bytes,
            message: message.to_string(),
            raw: redact_line(&truncate_chars(&line.text(), MAX_RAW_CHARS)),
        };
        let result = if line.bytes.len() > MAX_LINE_BYTES {
            Err(error("line too long"))
        } else {
            parse_line(content).map_err(|m| error(&m))
        };
        match result {
            Ok(fields) => {
                if out.entries.len() >= MAX_ENTRIES {
                    out.truncated = true;
                    break;
                }
                let (options, inline_password) = split_options(&fields.options);
                out.entries.push(FstabEntry {
                    line: line.number,
                    line_offset_bytes: line.offset_bytes,
                    source: Source::parse(&fields.source),
                    source_raw: fields.source,
                    target: fields.target,
                    fstype: fields.fstype,
                    options,
                    freq: fields.freq,
                    passno: fields.passno,
                    raw: redact_line(&truncate_chars(&line.text(), MAX_RAW_CHARS)),
                    field_count: fields.count,
                    inline_password,
                });
            }
            Err(e) => {
                if out.errors.len() < MAX_ERRORS {
                    out.errors.push(e);
                }
            }
        }
    }
    out
}

struct LineFields {
    source: String,
    target: String,
    fstype: String,
    options: String,
    freq: u32,
    passno: u32,
    count: usize,
}

/// libmount's `mnt_parse_table_line()` on one non-comment line.
fn parse_line(content: &[u8]) -> Result<LineFields, String> {
    let words: Vec<&[u8]> = content
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    let field = |i: usize| words.get(i).map(|w| unmangle(w));
    let (Some(source), Some(target), Some(fstype)) = (field(0), field(1), field(2)) else {
        return Err(format!(
            "{} field{}, an fstab line needs at least source, target and type",
            words.len(),
            if words.len() == 1 { "" } else { "s" }
        ));
    };
    let freq = match words.get(4) {
        Some(w) => parse_number(w).ok_or("freq (5th field) is not a number")?,
        None => 0,
    };
    let passno = match words.get(5) {
        Some(w) => parse_number(w).ok_or("passno (6th field) is not a number")?,
        None => 0,
    };
    Ok(LineFields {
        source,
        target,
        fstype,
        options: field(3).unwrap_or_default(),
        freq,
        passno,
        count: words.len(),
    })
}

/// `\ooo` (exactly three octal digits) → that byte; everything else literal.
fn unmangle(word: &[u8]) -> String {
    let is_octal = |b: Option<&u8>| b.is_some_and(|c| (b'0'..=b'7').contains(c));
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0usize;
    while let Some(&b) = word.get(i) {
        let d = |k: usize| word.get(i.saturating_add(k));
        if b == b'\\' && is_octal(d(1)) && is_octal(d(2)) && is_octal(d(3)) {
            let digit = |k: usize| u32::from(d(k).copied().unwrap_or(b'0').saturating_sub(b'0'));
            // Like libmount, a value over 0o377 wraps to a byte.
            let value = digit(1) * 64 + digit(2) * 8 + digit(3);
            out.push((value & 0xff) as u8);
            i = i.saturating_add(4);
        } else {
            out.push(b);
            i = i.saturating_add(1);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// strtol(…, 10) that must consume the whole field; negative values (which
/// libmount accepts) become 0, huge ones saturate.
fn parse_number(w: &[u8]) -> Option<u32> {
    let (negative, digits) = match w.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, w),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if negative {
        return Some(0);
    }
    let value = digits.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(d.saturating_sub(b'0')))
    });
    Some(u32::try_from(value).unwrap_or(u32::MAX))
}

/// Split an option string on commas outside double quotes (libmount keeps
/// `context="a,b"` whole), drop empty items, redact password values.
fn split_options(optstr: &str) -> (Vec<String>, bool) {
    let mut options = Vec::new();
    let mut inline_password = false;
    let mut current = String::new();
    let mut quoted = false;
    let mut flush = |current: &mut String, options: &mut Vec<String>| {
        if !current.is_empty() && options.len() < 1024 {
            if let Some((k, v)) = current.split_once('=')
                && is_password_option(k)
                && !v.is_empty()
            {
                inline_password = true;
                options.push(format!("{k}=***"));
            } else {
                options.push(std::mem::take(current));
            }
        }
        current.clear();
    };
    for c in optstr.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => flush(&mut current, &mut options),
            _ => current.push(c),
        }
    }
    flush(&mut current, &mut options);
    (options, inline_password)
}

/// The line with the values of password options replaced by `***`.
fn redact_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    // Options are the only place an `=` follows one of these names after a
    // separator; scanning the whole line keeps this simple and also covers
    // lines that failed to parse.
    while let Some(pos) = rest.find('=') {
        let (before, after_eq) = rest.split_at(pos);
        let name_start = before
            .rfind([',', ' ', '\t'])
            .map_or(0, |p| p.saturating_add(1));
        let name = before.get(name_start..).unwrap_or("");
        out.push_str(before);
        out.push('=');
        let value = after_eq.get(1..).unwrap_or("");
        if is_password_option(name) {
            let end = value.find([',', ' ', '\t']).unwrap_or(value.len());
            if end > 0 {
                out.push_str("***");
            }
            rest = value.get(end..).unwrap_or("");
        } else {
            rest = value;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_cloud_fstab() {
        let text = b"# /etc/fstab\nUUID=7D2E9F10-0000-4000-8000-000000000001 / ext4 defaults 1 1\n\
/dev/vdb1 /data xfs defaults,nofail 0 2\nproc /proc proc defaults 0 0\n/swapfile none swap sw 0 0\n";
        let f = parse(text);
        assert!(f.errors.is_empty());
        assert_eq!(f.entries.len(), 4);
        let root = &f.entries[0];
        assert_eq!(root.line, 2);
        assert_eq!(text.get(root.line_offset_bytes), Some(&b'U'));
        assert!(
            root.source
                .matches_uuid("7d2e9f10-0000-4000-8000-000000000001")
        );
        assert_eq!((root.freq, root.passno), (1, 1));
        let data = &f.entries[1];
        assert!(data.source.other_disk_device());
        assert!(data.source.is_kernel_device_name());
        assert!(data.is_optional_at_boot());
        assert!(f.entries[2].is_pseudo_fs());
        assert!(f.entries[3].is_swap());
        assert_eq!(f.entries[3].source, Source::Other("/swapfile".into()));
        assert_eq!(f.root_entry().map(|e| e.line), Some(2));
        assert!(parse(b"/dev/a /any/foo/ ext4\n").entries[0].target_is("/any/foo"));
        assert!(!parse(b"/dev/a /any/foo ext4\n").entries[0].target_is("/any"));
    }

    #[test]
    fn octal_escapes_and_hash_inside_fields() {
        let f = parse(b"LABEL=My\\040Disk /mnt/with\\040space\\011tab ext4 rw 0 0\nsshfs#jon@10.0.0.2:/home /media/server fuse uid=1000 0 0\n/dev/sda1 /x\\134y ext4\n");
        assert_eq!(f.entries[0].source, Source::Label("My Disk".into()));
        assert_eq!(f.entries[0].target, "/mnt/with space\ttab");
        assert_eq!(f.entries[1].source.value(), "sshfs#jon@10.0.0.2:/home");
        assert!(f.entries[1].is_network_fs());
        // Three fields are accepted, as libmount does.
        assert_eq!(f.entries[2].target, "/x\\y");
        assert_eq!(f.entries[2].field_count, 3);
        assert!(f.entries[2].options.is_empty());
        // Not exactly three octal digits: literal.
        assert_eq!(unmangle(b"a\\04b\\8"), "a\\04b\\8");
        assert_eq!(unmangle(b"\\777"), "\u{fffd}");
    }

    #[test]
    fn syntax_errors_like_libmount() {
        let f = parse(b"bug\nonly two\n/dev/a /b ext4 defaults x 0\n/dev/a /b ext4 defaults 0 1x\n/dev/a /b ext4 defaults 0 1 extra # comment\n");
        let errs: Vec<u64> = f.errors.iter().map(|e| e.line).collect();
        assert_eq!(errs, vec![1, 2, 3, 4]);
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].passno, 1);
        assert_eq!(f.entries[0].field_count, 9);
        assert!(f.errors[2].message.contains("freq"));
        assert!(f.errors[3].message.contains("passno"));
    }

    #[test]
    fn sources_and_links() {
        assert_eq!(Source::parse("UUID=\"abc\""), Source::Uuid("abc".into()));
        assert_eq!(
            Source::parse("PARTUUID='x-1'"),
            Source::PartUuid("x-1".into())
        );
        assert_eq!(
            Source::parse("PARTLABEL=root"),
            Source::PartLabel("root".into())
        );
        assert_eq!(
            Source::parse("/dev/disk/by-uuid/AbC"),
            Source::Uuid("AbC".into())
        );
        assert_eq!(
            Source::parse("/dev/disk/by-label/my\\x20disk"),
            Source::Label("my disk".into())
        );
        assert_eq!(
            Source::parse("/dev/disk/by-partuuid/p"),
            Source::PartUuid("p".into())
        );
        assert_eq!(
            Source::parse("/dev/disk/by-partlabel/q"),
            Source::PartLabel("q".into())
        );
        assert_eq!(
            Source::parse("/dev/mapper/vg-root"),
            Source::Device("/dev/mapper/vg-root".into())
        );
        assert_eq!(
            Source::parse("host:/export"),
            Source::Other("host:/export".into())
        );
        assert!(Source::parse("UUID=ABC").same_as(&Source::parse("/dev/disk/by-uuid/abc")));
        assert!(!Source::parse("LABEL=ABC").same_as(&Source::parse("LABEL=abc")));
        assert!(!Source::parse("UUID=abc").same_as(&Source::parse("PARTUUID=abc")));
        assert!(!Source::parse("tmpfs").is_block_device());
    }

    #[test]
    fn kernel_device_classification() {
        let first = [
            "/dev/sda",
            "/dev/sda1",
            "/dev/vda2",
            "/dev/xvda1",
            "/dev/hda1",
            "/dev/nvme0n1",
            "/dev/nvme0n1p15",
        ];
        let other = [
            "/dev/sdb",
            "/dev/vdc1",
            "/dev/xvdf",
            "/dev/hdb3",
            "/dev/nvme1n1",
            "/dev/nvme10n1p1",
            "/dev/nvme0n2",
            "/dev/sdaa1",
        ];
        let not_kernel = [
            "/dev/mapper/root",
            "/dev/md0",
            "/dev/nvme0",
            "/dev/sd",
            "/dev/sda1x",
            "/dev/loop0",
            "/dev/disk/by-id/x",
            "/dev/nvme0n1p",
        ];
        for p in first {
            let s = Source::parse(p);
            assert!(s.is_kernel_device_name(), "{p}");
            assert!(!s.other_disk_device(), "{p}");
        }
        for p in other {
            let s = Source::parse(p);
            assert!(s.is_kernel_device_name(), "{p}");
            assert!(s.other_disk_device(), "{p}");
        }
        for p in not_kernel {
            assert!(!Source::parse(p).is_kernel_device_name(), "{p}");
        }
        assert_eq!(
            KernelDevice::parse("/dev/nvme0n1p2"),
            Some(KernelDevice::Nvme {
                controller: 0,
                namespace: 1,
                partition: Some(2)
            })
        );
    }

    #[test]
    fn options_quotes_and_passwords_are_redacted() {
        let f = parse(b"//srv/share /mnt cifs username=bob,password=S3cr3t!x,vers=3.0 0 0\ntmpfs /dev/shm tmpfs rw,rootcontext=\"system_u:object_r:tmpfs_t:s0,c1\",defaults, 0 0\n//h/a /m cifs defaults,ro,password= 0 0\n");
        let cifs = &f.entries[0];
        assert!(cifs.inline_password);
        assert_eq!(
            cifs.options,
            vec!["username=bob", "password=***", "vers=3.0"]
        );
        assert!(!cifs.raw.contains("S3cr3t"), "password leaked into raw");
        assert!(
            !format!("{f:?}").contains("S3cr3t"),
            "password leaked into Debug"
        );
        assert_eq!(
            cifs.raw,
            "//srv/share /mnt cifs username=bob,password=***,vers=3.0 0 0"
        );
        assert_eq!(cifs.option_value("username"), Some("bob"));
        assert!(cifs.is_network_fs());
        let tmp = &f.entries[1];
        assert_eq!(
            tmp.options,
            vec![
                "rw",
                "rootcontext=\"system_u:object_r:tmpfs_t:s0,c1\"",
                "defaults"
            ]
        );
        // An empty password is not a secret.
        assert!(!f.entries[2].inline_password);
        assert!(f.entries[2].has_option("password"));
        let bad = parse(b"broken pass=hunter2\n");
        assert!(!bad.errors[0].raw.contains("hunter2"));
    }

    #[test]
    fn bind_and_pseudo_and_crlf() {
        let f = parse(b"/srv/a /srv/b none bind 0 0\r\n  \t# indented comment\r\n\tcgroup2 /sys/fs/cgroup cgroup2 rw\r\n");
        assert!(f.entries[0].is_bind());
        assert!(f.entries[0].is_pseudo_fs());
        assert_eq!(f.entries[1].line, 3);
        assert_eq!(f.entries[1].options, vec!["rw"]);
        assert!(f.entries[1].is_pseudo_fs());
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        const ALPHABET: &[u8] = b" \t\n\\0123457#=,\"UID/devsa\xff\xc3";
        let mut seed = 0x1234_5678_9abc_def1u64;
        for len in 0..500 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ALPHABET[(seed % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let f = parse(&buf);
            for e in &f.entries {
                assert!(e.line_offset_bytes < buf.len());
                let _ = (
                    e.source.other_disk_device(),
                    e.is_network_fs(),
                    e.is_pseudo_fs(),
                );
            }
        }
        let mut long = b"/dev/a /b ext4 ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES));
        assert_eq!(parse(&long).errors.len(), 1);
    }
}
