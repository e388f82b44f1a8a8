//! Gather the facts the rules read from a root filesystem: every file the
//! rules care about is read once here, through the `Fs`, and parsed with the
//! byte parsers of this module. Rules then work on [`SystemFacts`] alone, so
//! they can be tested without an image.

use std::collections::BTreeMap;

use super::accounts::{self, Passwd, Shadow};
use super::fstab::{self, Fstab};
use super::grub::{self, BootEntry, ResolvedDefault};
use super::os_release::{self, LegacyRelease, OsRelease};
use super::selinux::{self, SelinuxConfig};
use crate::ext4::{FileKind, Fs};

/// Configuration files are small; anything larger is not what we look for
/// (and is not read into memory).
const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// BLS entry directories hold a handful of files.
const MAX_BLS_ENTRIES: usize = 1000;

/// A file read from the image, with its path.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub path: String,
    pub value: T,
}

/// Which bootloader configuration was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootloaderKind {
    Grub2,
    /// grub2 with Boot Loader Specification entries (`blscfg`).
    Grub2Bls,
    /// GRUB legacy (`menu.lst` / `grub.conf`).
    GrubLegacy,
}

impl BootloaderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BootloaderKind::Grub2 => "grub2",
            BootloaderKind::Grub2Bls => "grub2-bls",
            BootloaderKind::GrubLegacy => "grub-legacy",
        }
    }
}

/// The boot configuration and the entry grub would boot.
#[derive(Debug, Clone, PartialEq)]
pub struct BootFacts {
    pub kind: BootloaderKind,
    /// The configuration file the default was resolved from.
    pub config_path: String,
    /// Line of `set default=` / `default N`, where known.
    pub default_line: Option<u64>,
    pub default: Option<ResolvedDefault>,
    pub entries: Vec<BootEntry>,
    /// grub's global `search --fs-uuid` target, outside any entry.
    pub global_search_fs_uuid: Option<String>,
}

impl BootFacts {
    /// The file an entry's commands are in: its own file for BLS entries,
    /// the configuration file otherwise.
    pub fn entry_file(&self, entry: &BootEntry) -> String {
        match &entry.origin {
            grub::EntryOrigin::Bls { file_id } => format!("/boot/loader/entries/{file_id}.conf"),
            _ => self.config_path.clone(),
        }
    }
}

/// Legacy grub's two file names, and whether they are one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyLink {
    pub menu_lst: bool,
    pub grub_conf: bool,
    /// Both exist and resolve to the same file (a symlink), or have the
    /// same contents.
    pub same: bool,
}

/// Everything the system-disk rules read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SystemFacts {
    pub os_release: Option<Parsed<OsRelease>>,
    pub legacy_releases: Vec<LegacyRelease>,
    pub issue_present: bool,
    pub fstab: Option<Parsed<Fstab>>,
    pub boot: Option<BootFacts>,
    pub legacy_link: Option<LegacyLink>,
    pub passwd: Option<Parsed<Passwd>>,
    pub shadow: Option<Parsed<Shadow>>,
    pub selinux: Option<Parsed<SelinuxConfig>>,
    /// Kernel versions with a `/boot/vmlinuz-<version>`.
    pub boot_kernels: Vec<String>,
    /// Kernel versions with a `/lib/modules/<version>` directory.
    pub module_dirs: Vec<String>,
    /// Files the rules looked for, and whether each exists (symlinks
    /// followed inside the image): kernels, initrds, init.
    pub exists: BTreeMap<String, bool>,
    /// Files that could not be read though they exist (path, error).
    pub unreadable: Vec<(String, String)>,
    pub critical_dirs: Vec<super::layout_facts::CriticalDir>,
    pub homes: Vec<String>,
    pub hygiene: super::layout_facts::HygieneFacts,
}

impl SystemFacts {
    /// Read and parse everything from `fs`.
    pub fn gather(fs: &Fs) -> SystemFacts {
        let mut f = SystemFacts::default();
        let mut read = |path: &str| -> Option<Vec<u8>> {
            match fs.read_limited(path, MAX_CONFIG_BYTES) {
                Ok(b) => Some(b),
                Err(crate::Error::NotFound { .. }) => None,
                Err(e) => {
                    f.unreadable.push((path.to_string(), e.to_string()));
                    None
                }
            }
        };
        for path in ["/etc/os-release", "/usr/lib/os-release"] {
            if let Some(b) = read(path) {
                f.os_release = Some(Parsed {
                    path: path.into(),
                    value: os_release::parse(&b),
                });
                break;
            }
        }
        let mut legacy = Vec::new();
        if let Ok(entries) = fs.read_dir("/etc") {
            for e in entries {
                let is_release = (e.name.ends_with("-release") && e.name != "os-release")
                    || e.name.ends_with("_version");
                if is_release && e.kind != FileKind::Dir {
                    legacy.push(e.name);
                }
            }
        }
        for name in legacy {
            if let Some(b) = read(&format!("/etc/{name}")) {
                f.legacy_releases
                    .push(os_release::parse_legacy_release(&name, &b));
            }
        }
        f.issue_present = fs.exists_lossy("/etc/issue");
        f.fstab = read("/etc/fstab").map(|b| Parsed {
            path: "/etc/fstab".into(),
            value: fstab::parse(&b),
        });
        f.passwd = read("/etc/passwd").map(|b| Parsed {
            path: "/etc/passwd".into(),
            value: accounts::parse_passwd(&b),
        });
        f.shadow = read("/etc/shadow").map(|b| Parsed {
            path: "/etc/shadow".into(),
            value: accounts::parse_shadow(&b),
        });
        f.selinux = read("/etc/selinux/config").map(|b| Parsed {
            path: "/etc/selinux/config".into(),
            value: selinux::parse(&b),
        });

        f.boot = gather_boot(fs, &mut f.unreadable);
        let menu_lst = fs.exists_lossy("/boot/grub/menu.lst");
        let grub_conf = fs.exists_lossy("/boot/grub/grub.conf");
        if menu_lst && grub_conf {
            let same = match (
                fs.canonicalize("/boot/grub/menu.lst"),
                fs.canonicalize("/boot/grub/grub.conf"),
            ) {
                (Ok(a), Ok(b)) if a == b => true,
                _ => {
                    let a = fs
                        .read_limited("/boot/grub/menu.lst", MAX_CONFIG_BYTES)
                        .ok();
                    let b = fs
                        .read_limited("/boot/grub/grub.conf", MAX_CONFIG_BYTES)
                        .ok();
                    a.is_some() && a == b
                }
            };
            f.legacy_link = Some(LegacyLink {
                menu_lst,
                grub_conf,
                same,
            });
        }

        f.boot_kernels = fs
            .read_dir("/boot")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.name.strip_prefix("vmlinuz-").map(str::to_string))
            .collect();
        f.module_dirs = ["/lib/modules", "/usr/lib/modules"]
            .iter()
            .flat_map(|d| fs.read_dir(d).unwrap_or_default())
            .filter(|e| e.kind == FileKind::Dir || e.kind == FileKind::Symlink)
            .map(|e| e.name)
            .collect();
        f.module_dirs.sort();
        f.module_dirs.dedup();

        let mut wanted: Vec<String> = vec![
            "/sbin/init".into(),
            "/usr/lib/systemd/systemd".into(),
            "/lib/systemd/systemd".into(),
        ];
        if let Some(d) = f.boot.as_ref().and_then(|b| b.default.as_ref()) {
            for p in d.entry.kernel.iter().chain(&d.entry.initrds) {
                wanted.extend(candidates(p));
            }
        }
        for p in wanted {
            let e = fs.exists_lossy(&p);
            f.exists.insert(p, e);
        }
        f.critical_dirs = super::layout_facts::critical_dirs(fs);
        let passwd_homes: Vec<String> = f
            .passwd
            .as_ref()
            .map(|p| p.value.entries.iter().map(|e| e.home.clone()).collect())
            .unwrap_or_default();
        f.homes = super::layout_facts::home_dirs(fs, &passwd_homes);
        f.hygiene = super::layout_facts::hygiene(fs, &f.homes);
        f
    }

    /// Whether a boot path (as grub names it, relative to the partition grub
    /// reads) exists in the root filesystem, directly or under `/boot`.
    pub fn boot_file_exists(&self, grub_path: &str) -> bool {
        candidates(grub_path)
            .iter()
            .any(|c| self.exists.get(c).copied().unwrap_or(false))
    }

    /// The kernel version of the default entry (`/boot/vmlinuz-<v>`).
    pub fn default_kernel_version(&self) -> Option<String> {
        let k = self
            .boot
            .as_ref()?
            .default
            .as_ref()?
            .entry
            .kernel
            .as_deref()?;
        let name = k.rsplit('/').next()?;
        name.strip_prefix("vmlinuz-").map(str::to_string)
    }
}

/// Where a grub path may live in the root filesystem: as written when
/// `/boot` is a directory of root, or under `/boot` when grub reads a
/// separate boot partition (or the path was written relative to it).
fn candidates(grub_path: &str) -> Vec<String> {
    // grub paths may carry a device prefix: `(hd0,msdos1)/vmlinuz`.
    let p = match grub_path.find(')') {
        Some(i) if grub_path.starts_with('(') => &grub_path[i + 1..],
        _ => grub_path,
    };
    let p = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    };
    if p.starts_with("/boot/") {
        vec![p]
    } else {
        vec![p.clone(), format!("/boot{p}")]
    }
}

fn gather_boot(fs: &Fs, unreadable: &mut Vec<(String, String)>) -> Option<BootFacts> {
    let mut read = |path: &str| -> Option<Vec<u8>> {
        match fs.read_limited(path, MAX_CONFIG_BYTES) {
            Ok(b) => Some(b),
            Err(crate::Error::NotFound { .. }) => None,
            Err(e) => {
                unreadable.push((path.to_string(), e.to_string()));
                None
            }
        }
    };
    for (cfg_path, env_path) in [
        ("/boot/grub2/grub.cfg", "/boot/grub2/grubenv"),
        ("/boot/grub/grub.cfg", "/boot/grub/grubenv"),
    ] {
        let Some(cfg) = read(cfg_path) else {
            continue;
        };
        let env = read(env_path)
            .map(|b| grub::grubenv::parse(&b))
            .unwrap_or_else(grub::grubenv::GrubEnv::empty);
        let config = grub::grub2::parse_with_env(&cfg, &env);
        let bls = if config.uses_blscfg() {
            read_bls(fs, &mut read)
        } else {
            Vec::new()
        };
        let menu = config.menu_with_bls(&bls);
        return Some(BootFacts {
            kind: if config.uses_blscfg() {
                BootloaderKind::Grub2Bls
            } else {
                BootloaderKind::Grub2
            },
            config_path: cfg_path.into(),
            default_line: config.default_line,
            default: config.resolve_default(&bls),
            entries: menu.entries().into_iter().cloned().collect(),
            global_search_fs_uuid: config.global_root.search_fs_uuid.clone(),
        });
    }
    for cfg_path in ["/boot/grub/grub.conf", "/boot/grub/menu.lst"] {
        let Some(cfg) = read(cfg_path) else {
            continue;
        };
        let config = grub::legacy::parse(&cfg);
        let saved = read("/boot/grub/default").and_then(|b| {
            String::from_utf8_lossy(&b)
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
        });
        return Some(BootFacts {
            kind: BootloaderKind::GrubLegacy,
            config_path: cfg_path.into(),
            default_line: config.default_line,
            default: config.resolve_default(saved),
            entries: config.menu().entries().into_iter().cloned().collect(),
            global_search_fs_uuid: None,
        });
    }
    None
}

fn read_bls(fs: &Fs, read: &mut dyn FnMut(&str) -> Option<Vec<u8>>) -> Vec<grub::bls::BlsEntry> {
    let mut out = Vec::new();
    for dir in ["/boot/loader/entries", "/loader/entries"] {
        let Ok(entries) = fs.read_dir(dir) else {
            continue;
        };
        for e in entries.into_iter().take(MAX_BLS_ENTRIES) {
            if !grub::bls::grub_accepts_file_name(&e.name) {
                continue;
            }
            if let Some(b) = read(&format!("{dir}/{}", e.name)) {
                out.push(grub::bls::parse_entry(&e.name, &b));
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}
