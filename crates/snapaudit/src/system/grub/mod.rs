//! Bootloader configuration: GRUB 2 `grub.cfg`, Boot Loader Specification
//! entries with `grubenv`, and GRUB legacy `menu.lst`/`grub.conf`.
//!
//! Each format has its own parser ([`grub2`], [`bls`] with [`grubenv`],
//! [`legacy`]); all of them produce the same [`Menu`] of [`BootEntry`]s,
//! and [`Menu::resolve_default`] picks the entry GRUB boots by default the
//! way GRUB 2 does (index, title or id, `N>M` into submenus, entry 0 when
//! the default names nothing).
//!
//! Paths (kernel, initrd) are recorded as written: they are relative to the
//! filesystem GRUB reads them from (`/vmlinuz-x` when `/boot` is a separate
//! partition, `/boot/vmlinuz-x` otherwise). A GRUB device prefix such as
//! `(hd0,1)/vmlinuz` is split off into [`BootEntry::kernel_device`].

pub mod bls;
pub mod cmdline;
pub mod grub2;
pub mod grubenv;
pub mod legacy;
mod script;

use serde::Serialize;

pub use bls::BlsEntry;
pub use cmdline::KernelCmdline;
pub use grub2::Grub2Config;
pub use grubenv::GrubEnv;
pub use legacy::LegacyConfig;

/// Parse a GRUB 2 `grub.cfg` with an empty environment (see
/// [`grub2::parse_with_env`] to apply a `grubenv`).
pub fn parse(bytes: &[u8]) -> Grub2Config {
    grub2::parse(bytes)
}

/// A problem found while reading a bootloader file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrubDiagnostic {
    /// 1-based line number (0 when not tied to a line).
    pub line: u64,
    pub message: String,
}

/// Where a boot entry was defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EntryOrigin {
    /// A `menuentry` of grub.cfg, at this line.
    GrubCfg { line: u64 },
    /// A BLS file `/boot/loader/entries/<file_id>.conf`.
    Bls { file_id: String },
    /// A `title` of a legacy menu.lst/grub.conf, at this line.
    Legacy { line: u64 },
}

/// What an entry boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootKind {
    /// `linux`/`linux16`/`linuxefi` (grub2) or `kernel` (legacy).
    Linux,
    /// `multiboot`/`multiboot2` with modules, or legacy `kernel` with
    /// `module` lines (Xen: the hypervisor is the kernel, Linux a module).
    Multiboot,
    /// `chainloader` (another bootloader, Windows, ...).
    Chainload,
    /// Nothing bootable recognised (a firmware-setup or reboot entry).
    Other,
}

/// A module loaded with a multiboot kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootModule {
    pub path: String,
    /// Arguments after the path, joined by one space.
    pub args: String,
}

/// One bootable entry, whatever format it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootEntry {
    pub title: String,
    /// `--id` (grub2) or the BLS file id; `None` when the entry has none
    /// (GRUB then matches the title).
    pub id: Option<String>,
    pub origin: EntryOrigin,
    pub kind: BootKind,
    /// Kernel (or hypervisor) path as written, device prefix removed.
    pub kernel: Option<String>,
    /// A GRUB device written before the kernel path (`hd0,1` from
    /// `(hd0,1)/vmlinuz`).
    pub kernel_device: Option<String>,
    /// Initrd paths of the last initrd command, in order.
    pub initrds: Vec<String>,
    /// The kernel command line (arguments after the kernel path).
    pub cmdline: String,
    /// Multiboot modules (Xen: the Linux kernel and its initrd).
    pub modules: Vec<BootModule>,
    /// `chainloader` target.
    pub chainloader: Option<String>,
    /// The filesystem UUID `search --fs-uuid --set=root` looks for, if the
    /// entry (or the config before it) sets root that way.
    pub search_fs_uuid: Option<String>,
    /// Same for `search --label --set=root`.
    pub search_label: Option<String>,
    /// `set root='hd0,msdos1'` (grub2) or `root (hd0,0)` (legacy), without
    /// parentheses. With a `search`, this is only the fallback.
    pub root_device: Option<String>,
    /// Line of the `linux`/`kernel` command (in the file named by `origin`).
    pub kernel_line: Option<u64>,
    /// Line of the (first) `initrd` command.
    pub initrd_line: Option<u64>,
    /// Line of the `search` that set the entry's root.
    pub search_line: Option<u64>,
}

impl BootEntry {
    pub(crate) fn new(title: String, origin: EntryOrigin) -> Self {
        Self {
            title,
            id: None,
            origin,
            kind: BootKind::Other,
            kernel: None,
            kernel_device: None,
            initrds: Vec::new(),
            cmdline: String::new(),
            modules: Vec::new(),
            chainloader: None,
            search_fs_uuid: None,
            search_label: None,
            root_device: None,
            kernel_line: None,
            initrd_line: None,
            search_line: None,
        }
    }

    /// The command line of the Linux kernel: [`Self::cmdline`], or for a
    /// multiboot (Xen) entry the arguments of the first module.
    pub fn linux_cmdline(&self) -> &str {
        match (self.kind, self.modules.first()) {
            (BootKind::Multiboot, Some(m)) => &m.args,
            _ => &self.cmdline,
        }
    }

    /// [`Self::linux_cmdline`] parsed (`root=`, `enforcing=`, ...).
    pub fn kernel_cmdline(&self) -> KernelCmdline {
        cmdline::parse(self.linux_cmdline())
    }
}

/// A `submenu` and what it contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submenu {
    pub title: String,
    pub id: Option<String>,
    pub line: u64,
    pub items: Vec<MenuNode>,
}

/// An item of a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[expect(
    clippy::large_enum_variant,
    reason = "menus hold tens of items; boxing entries would only complicate matching"
)]
pub enum MenuNode {
    Entry(BootEntry),
    Submenu(Submenu),
}

impl MenuNode {
    fn title(&self) -> &str {
        match self {
            MenuNode::Entry(e) => &e.title,
            MenuNode::Submenu(s) => &s.title,
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            MenuNode::Entry(e) => e.id.as_deref(),
            MenuNode::Submenu(s) => s.id.as_deref(),
        }
    }
}

/// A boot menu: top-level items in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Menu {
    pub items: Vec<MenuNode>,
}

/// The entry GRUB boots by default, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedDefault {
    pub entry: BootEntry,
    /// Index at each menu level (`[1, 2]` is item 2 of submenu 1).
    pub path: Vec<usize>,
    /// The default GRUB was given (`saved_entry`, `0`, a title, `1>2`).
    pub requested: Option<String>,
    /// The requested default named no entry, so GRUB fell back to the
    /// first one. Not set when nothing (or an empty string) was requested.
    pub fell_back: bool,
}

impl Menu {
    /// Every boot entry, depth first, in menu order.
    pub fn entries(&self) -> Vec<&BootEntry> {
        fn walk<'a>(items: &'a [MenuNode], out: &mut Vec<&'a BootEntry>) {
            for item in items {
                match item {
                    MenuNode::Entry(e) => out.push(e),
                    MenuNode::Submenu(s) => walk(&s.items, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
    }

    /// Resolve a GRUB 2 `default` value the way grub-core/normal/menu.c
    /// does: a number (base as `strtoul(…, 0)`, optionally followed by
    /// `>`) is an index among this level's entries and submenus; otherwise
    /// the first item whose title or id equals the value (up to an
    /// unescaped `>`; `>>` is a literal `>`) is chosen. A submenu is
    /// entered with the part after `>` as its default. Anything that names
    /// no item falls back to item 0. `None` only for an empty menu (or
    /// empty submenu).
    pub fn resolve_default(&self, default: Option<&str>) -> Option<ResolvedDefault> {
        let mut items = self.items.as_slice();
        let mut spec = default;
        let mut path = Vec::new();
        let mut fell_back = false;
        loop {
            let index = match spec {
                None => 0,
                Some(v) => match entry_number(items, v) {
                    Some(i) => i,
                    None => {
                        fell_back |= !v.is_empty();
                        0
                    }
                },
            };
            path.push(index);
            match items.get(index)? {
                MenuNode::Entry(e) => {
                    return Some(ResolvedDefault {
                        entry: e.clone(),
                        path,
                        requested: default.map(str::to_string),
                        fell_back,
                    });
                }
                MenuNode::Submenu(s) => {
                    spec = spec.and_then(submenu_default);
                    items = &s.items;
                }
            }
        }
    }
}

/// GRUB's `get_entry_number()` for one menu level.
fn entry_number(items: &[MenuNode], value: &str) -> Option<usize> {
    if let Some((n, tail)) = parse_strtoul(value)
        && (tail.is_empty() || tail.starts_with('>'))
    {
        return usize::try_from(n).ok().filter(|&i| i < items.len());
    }
    items.iter().position(|it| {
        menuentry_eq(it.title(), value) || it.id().is_some_and(|id| menuentry_eq(id, value))
    })
}

/// `grub_strtoul(s, &tail, 0)`: leading blanks, then `0x` hex, `0` octal or
/// decimal. `None` when there are no digits; overflow saturates (and is then
/// out of range as an index).
fn parse_strtoul(s: &str) -> Option<(u64, &str)> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r']);
    let (radix, digits) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => (16, hex),
        _ if s.starts_with('0') => (8, s),
        _ => (10, s),
    };
    let len = digits.chars().take_while(|c| c.is_digit(radix)).count();
    if len == 0 {
        return None;
    }
    let (num, tail) = digits.split_at(len);
    let value = num.chars().fold(0u64, |acc, c| {
        acc.saturating_mul(u64::from(radix))
            .saturating_add(u64::from(c.to_digit(radix).unwrap_or(0)))
    });
    Some((value, tail))
}

/// GRUB's `menuentry_eq()`: `id` equals `spec` up to the first unescaped
/// `>` of `spec`, where `>>` stands for `>`.
fn menuentry_eq(id: &str, spec: &str) -> bool {
    let a = id.as_bytes();
    let b = spec.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    loop {
        let c2 = b.get(j).copied();
        let c2_next = b.get(j.saturating_add(1)).copied();
        let c1 = a.get(i).copied();
        if c2 == Some(b'>') && c2_next != Some(b'>') {
            return c1.is_none();
        }
        if c2 == Some(b'>') {
            j = j.saturating_add(1);
        }
        if c1 != b.get(j).copied() {
            return false;
        }
        if c1.is_none() {
            return true;
        }
        i = i.saturating_add(1);
        j = j.saturating_add(1);
    }
}

/// The default for a submenu: what follows the first unescaped `>`.
fn submenu_default(spec: &str) -> Option<&str> {
    let b = spec.as_bytes();
    let mut k = 0usize;
    while let Some(&c) = b.get(k) {
        if c == b'>' {
            if b.get(k.saturating_add(1)) == Some(&b'>') {
                k = k.saturating_add(2);
                continue;
            }
            return spec.get(k.saturating_add(1)..).filter(|s| !s.is_empty());
        }
        k = k.saturating_add(1);
    }
    None
}

/// Split a GRUB device prefix off a path: `(hd0,1)/vmlinuz` →
/// (`hd0,1`, `/vmlinuz`). `($root)/x` and `($boot)/x` keep only the path.
pub(crate) fn split_device_prefix(path: &str) -> (Option<String>, String) {
    if let Some(rest) = path.strip_prefix('(')
        && let Some((device, tail)) = rest.split_once(')')
    {
        let device = (!device.is_empty() && !device.starts_with('$')).then(|| device.to_string());
        let tail = if tail.is_empty() {
            "/".to_string()
        } else {
            tail.to_string()
        };
        return (device, tail);
    }
    (None, path.to_string())
}

/// A device written as `(hd0,0)` or `'hd0,msdos1'`, without parentheses.
pub(crate) fn strip_device_parens(device: &str) -> String {
    let d = device.trim();
    d.strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(d)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, id: Option<&str>) -> MenuNode {
        let mut e = BootEntry::new(title.to_string(), EntryOrigin::GrubCfg { line: 1 });
        e.id = id.map(str::to_string);
        MenuNode::Entry(e)
    }

    fn menu() -> Menu {
        Menu {
            items: vec![
                entry("Fedora", Some("fedora-simple")),
                MenuNode::Submenu(Submenu {
                    title: "Advanced options".into(),
                    id: Some("adv".into()),
                    line: 2,
                    items: vec![
                        entry("A > B", Some("a")),
                        entry("Second", Some("b")),
                        entry("Third", None),
                    ],
                }),
                entry("Rescue", None),
            ],
        }
    }

    fn resolve(spec: Option<&str>) -> (Vec<usize>, String, bool) {
        let r = menu().resolve_default(spec).expect("non-empty menu");
        (r.path, r.entry.title, r.fell_back)
    }

    #[test]
    fn numbers_titles_ids_and_paths() {
        assert_eq!(resolve(None), (vec![0], "Fedora".into(), false));
        assert_eq!(resolve(Some("2")), (vec![2], "Rescue".into(), false));
        assert_eq!(resolve(Some("1>2")), (vec![1, 2], "Third".into(), false));
        assert_eq!(resolve(Some("1")), (vec![1, 0], "A > B".into(), false));
        assert_eq!(resolve(Some("Rescue")), (vec![2], "Rescue".into(), false));
        assert_eq!(
            resolve(Some("fedora-simple")),
            (vec![0], "Fedora".into(), false)
        );
        assert_eq!(resolve(Some("adv>b")), (vec![1, 1], "Second".into(), false));
        assert_eq!(
            resolve(Some("Advanced options>Third")),
            (vec![1, 2], "Third".into(), false)
        );
        // `>>` is a literal '>' in a title.
        assert_eq!(
            resolve(Some("1>A >> B")),
            (vec![1, 0], "A > B".into(), false)
        );
        // Octal and hex like strtoul(…, 0).
        assert_eq!(resolve(Some("0x2")), (vec![2], "Rescue".into(), false));
        assert_eq!(resolve(Some("02")), (vec![2], "Rescue".into(), false));
    }

    #[test]
    fn invalid_defaults_fall_back_to_zero() {
        assert_eq!(resolve(Some("7")), (vec![0], "Fedora".into(), true));
        assert_eq!(
            resolve(Some("no such entry")),
            (vec![0], "Fedora".into(), true)
        );
        assert_eq!(resolve(Some("1>9")), (vec![1, 0], "A > B".into(), true));
        assert_eq!(
            resolve(Some("99999999999999999999999")),
            (vec![0], "Fedora".into(), true)
        );
        // Unset or empty: entry 0 without calling it a fallback.
        assert_eq!(resolve(Some("")), (vec![0], "Fedora".into(), false));
        assert!(Menu::default().resolve_default(Some("0")).is_none());
        // "1abc" is not a number, so it is a title that matches nothing.
        assert_eq!(resolve(Some("1abc")), (vec![0], "Fedora".into(), true));
    }

    #[test]
    fn menuentry_eq_matches_grub() {
        assert!(menuentry_eq("abc", "abc"));
        assert!(menuentry_eq("abc", "abc>def"));
        assert!(!menuentry_eq("ab", "abc"));
        assert!(!menuentry_eq("abc", "ab>c"));
        assert!(menuentry_eq("a>b", "a>>b"));
        assert!(menuentry_eq("", ""));
        assert_eq!(submenu_default("a>>b>c>d"), Some("c>d"));
        assert_eq!(submenu_default("abc>"), None);
        assert_eq!(submenu_default("abc"), None);
    }

    #[test]
    fn device_prefixes() {
        assert_eq!(
            split_device_prefix("(hd0,1)/vmlinuz"),
            (Some("hd0,1".into()), "/vmlinuz".into())
        );
        assert_eq!(
            split_device_prefix("($root)/vmlinuz"),
            (None, "/vmlinuz".into())
        );
        assert_eq!(
            split_device_prefix("/boot/vmlinuz"),
            (None, "/boot/vmlinuz".into())
        );
        assert_eq!(
            split_device_prefix("(broken/vmlinuz"),
            (None, "(broken/vmlinuz".into())
        );
        assert_eq!(strip_device_parens("(hd0,msdos1)"), "hd0,msdos1");
    }
}
