//! GRUB legacy (0.9x) `menu.lst` / `grub.conf`.
//!
//! One command per line; the command name ends at a blank or `=` (so both
//! `default 0` and `default=0` work); `#` lines are comments. Commands
//! before the first `title` are global (`default`, `timeout`, `fallback`,
//! `hiddenmenu`, `password`, ...); each `title` starts an entry whose
//! commands follow (`root`, `kernel`, `initrd`, `module`, `chainloader`,
//! `savedefault`). `default` is an entry number (non-numbers are an error
//! and leave it at 0) or `saved` (the number stored in `/boot/grub/default`);
//! a number past the last entry boots entry 0.

use serde::Serialize;

use super::{
    BootEntry, BootKind, BootModule, EntryOrigin, GrubDiagnostic, Menu, MenuNode, ResolvedDefault,
    script, split_device_prefix, strip_device_parens,
};
use crate::system::lines::{lines, trim_blank_start, truncate_chars};

/// Legacy configs are a few KiB; nothing past this is read.
const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// At most this many entries are kept.
const MAX_ENTRIES: usize = 4096;

/// The `default` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum LegacyDefault {
    /// `default N` (0 when absent or invalid, as GRUB legacy starts).
    Index(u32),
    /// `default saved`: the entry number in `/boot/grub/default`.
    Saved,
}

/// A parsed menu.lst / grub.conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegacyConfig {
    pub default: LegacyDefault,
    /// Line of the `default` command, if any.
    pub default_line: Option<u64>,
    pub timeout: Option<u32>,
    pub fallback: Option<u32>,
    pub hiddenmenu: bool,
    /// A `password` command is present (its argument is not kept: it may
    /// be a clear-text password or an MD5 crypt hash).
    pub has_password: bool,
    pub entries: Vec<BootEntry>,
    pub diagnostics: Vec<GrubDiagnostic>,
    pub truncated: bool,
}

impl LegacyConfig {
    /// The entries as a (flat) menu.
    pub fn menu(&self) -> Menu {
        Menu {
            items: self.entries.iter().cloned().map(MenuNode::Entry).collect(),
        }
    }

    /// The entry GRUB legacy boots by default. `saved_default` is the
    /// number in `/boot/grub/default`, used for `default saved` (0 when
    /// that file is missing).
    pub fn resolve_default(&self, saved_default: Option<u32>) -> Option<ResolvedDefault> {
        let (requested, wanted) = match self.default {
            LegacyDefault::Index(n) => (n.to_string(), n),
            LegacyDefault::Saved => ("saved".to_string(), saved_default.unwrap_or(0)),
        };
        let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
        let (index, fell_back) = if wanted < self.entries.len() {
            (wanted, false)
        } else {
            (0, true)
        };
        let entry = self.entries.get(index)?.clone();
        Some(ResolvedDefault {
            entry,
            path: vec![index],
            requested: Some(requested),
            fell_back,
        })
    }
}

/// Parse a legacy config.
pub fn parse(bytes: &[u8]) -> LegacyConfig {
    let mut cfg = LegacyConfig {
        default: LegacyDefault::Index(0),
        default_line: None,
        timeout: None,
        fallback: None,
        hiddenmenu: false,
        has_password: false,
        entries: Vec::new(),
        diagnostics: Vec::new(),
        truncated: false,
    };
    let input = match bytes.get(..MAX_INPUT_BYTES) {
        Some(head) if head.len() < bytes.len() => {
            cfg.truncated = true;
            head
        }
        _ => bytes,
    };
    let mut current: Option<BootEntry> = None;
    for line in lines(input) {
        let content = trim_blank_start(line.bytes);
        if content.is_empty() || content.first() == Some(&b'#') {
            continue;
        }
        let text = String::from_utf8_lossy(content);
        let text = text.trim_end();
        let name_len = text.find([' ', '\t', '=']).unwrap_or(text.len());
        let (name, rest) = text.split_at(name_len);
        let rest = rest.trim_start_matches([' ', '\t', '=']);
        let args: Vec<&str> = rest.split_whitespace().collect();
        match name {
            "title" => {
                if let Some(done) = current.take() {
                    push_entry(&mut cfg, done);
                }
                current = Some(BootEntry::new(
                    truncate_chars(rest, 1024),
                    EntryOrigin::Legacy { line: line.number },
                ));
            }
            "default" => {
                cfg.default_line = Some(line.number);
                match args.first().copied() {
                    Some("saved") => cfg.default = LegacyDefault::Saved,
                    Some(n) => match n.parse::<u32>() {
                        Ok(n) => cfg.default = LegacyDefault::Index(n),
                        Err(_) => script::diag(
                            &mut cfg.diagnostics,
                            line.number,
                            "default is not a number",
                        ),
                    },
                    None => {
                        script::diag(&mut cfg.diagnostics, line.number, "default without a value")
                    }
                }
            }
            "timeout" => cfg.timeout = args.first().and_then(|a| a.parse().ok()),
            "fallback" => cfg.fallback = args.first().and_then(|a| a.parse().ok()),
            "hiddenmenu" => cfg.hiddenmenu = true,
            "password" => cfg.has_password = true,
            _ => {
                if let Some(entry) = current.as_mut() {
                    entry_command(name, &args, entry, line.number);
                }
            }
        }
    }
    if let Some(done) = current.take() {
        push_entry(&mut cfg, done);
    }
    cfg
}

fn push_entry(cfg: &mut LegacyConfig, entry: BootEntry) {
    if cfg.entries.len() < MAX_ENTRIES {
        cfg.entries.push(entry);
    } else {
        cfg.truncated = true;
    }
}

fn entry_command(name: &str, args: &[&str], entry: &mut BootEntry, line: u64) {
    // `kernel --type=netbsd /x`: options come before the file.
    let file_pos = args.iter().position(|a| !a.starts_with("--"));
    let file = file_pos.and_then(|p| args.get(p));
    let rest = || {
        file_pos
            .and_then(|p| args.get(p.saturating_add(1)..))
            .unwrap_or(&[])
            .join(" ")
    };
    match name {
        "root" | "rootnoverify" => {
            entry.root_device = args.first().map(|d| strip_device_parens(d));
        }
        "kernel" | "kernel$" => {
            let Some(file) = file else { return };
            let (device, path) = split_device_prefix(file);
            entry.kernel = Some(path);
            entry.kernel_device = device;
            entry.cmdline = rest();
            entry.kernel_line = Some(line);
            if entry.kind != BootKind::Multiboot {
                entry.kind = BootKind::Linux;
            }
        }
        "initrd" => {
            if let Some(file) = file {
                entry.initrds = vec![split_device_prefix(file).1];
                entry.initrd_line = Some(line);
            }
        }
        "module" | "module$" => {
            if let Some(file) = file
                && entry.modules.len() < 64
            {
                entry.modules.push(BootModule {
                    path: split_device_prefix(file).1,
                    args: rest(),
                });
                entry.kind = BootKind::Multiboot;
            }
        }
        "chainloader" => {
            entry.kind = BootKind::Chainload;
            entry.chainloader = file.map(|f| f.to_string());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENTOS6: &[u8] = b"# grub.conf generated by anaconda\n\
default=1\n\
timeout=5\n\
splashimage=(hd0,0)/grub/splash.xpm.gz\n\
hiddenmenu\n\
password --md5 $1$abcdefgh$ijklmnopqrstuvwxyzABCD\n\
title CentOS (2.6.32-754.el6.x86_64)\n\
\troot (hd0,0)\n\
\tkernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=UUID=1111-2222 rd_NO_LUKS  KEYBOARDTYPE=pc quiet\n\
\tinitrd /initramfs-2.6.32-754.el6.x86_64.img\n\
title CentOS (2.6.32-696.el6.x86_64)\n\
\troot (hd0,0)\n\
\tkernel (hd0,0)/vmlinuz-2.6.32-696.el6.x86_64 ro root=/dev/sda1\n\
\tinitrd /initramfs-2.6.32-696.el6.x86_64.img\n\
title Other\n\
\trootnoverify (hd0,1)\n\
\tchainloader +1\n";

    #[test]
    fn centos6_grub_conf() {
        let c = parse(CENTOS6);
        assert_eq!(c.default, LegacyDefault::Index(1));
        assert_eq!(c.default_line, Some(2));
        assert_eq!(c.timeout, Some(5));
        assert!(c.hiddenmenu && c.has_password);
        assert!(!format!("{c:?}").contains("abcdefgh"), "password hash kept");
        assert_eq!(c.entries.len(), 3);
        let d = c.resolve_default(None).expect("default");
        assert_eq!(d.path, vec![1]);
        let e = &d.entry;
        assert_eq!(e.title, "CentOS (2.6.32-696.el6.x86_64)");
        assert_eq!(e.origin, EntryOrigin::Legacy { line: 11 });
        assert_eq!(e.kernel.as_deref(), Some("/vmlinuz-2.6.32-696.el6.x86_64"));
        assert_eq!(e.kernel_device.as_deref(), Some("hd0,0"));
        assert_eq!(e.root_device.as_deref(), Some("hd0,0"));
        assert!(
            e.kernel_cmdline()
                .root()
                .is_some_and(|r| r.is_kernel_device_name())
        );
        assert_eq!(
            c.entries[0].cmdline,
            "ro root=UUID=1111-2222 rd_NO_LUKS KEYBOARDTYPE=pc quiet"
        );
        assert_eq!(c.entries[2].kind, BootKind::Chainload);
        assert_eq!(c.entries[2].root_device.as_deref(), Some("hd0,1"));
    }

    #[test]
    fn saved_and_out_of_range_defaults() {
        let c = parse(b"default saved\ntitle a\nkernel /a\ntitle b\nkernel /b\n");
        assert_eq!(c.default, LegacyDefault::Saved);
        assert_eq!(
            c.resolve_default(Some(1)).map(|d| d.entry.title),
            Some("b".into())
        );
        assert_eq!(
            c.resolve_default(None).map(|d| d.entry.title),
            Some("a".into())
        );
        let d = c.resolve_default(Some(5)).expect("default");
        assert!(d.fell_back);
        assert_eq!(d.path, vec![0]);
        let c = parse(b"default x\ntitle only\n");
        assert_eq!(c.default, LegacyDefault::Index(0));
        assert_eq!(c.diagnostics.len(), 1);
        assert!(parse(b"default 0\n").resolve_default(None).is_none());
    }

    #[test]
    fn xen_modules() {
        let c = parse(b"title xen\n\troot (hd0,1)\n\tkernel /xen.gz dom0_mem=512M\n\tmodule /vmlinuz-2.6.18 ro root=/dev/hda3\n\tmodule /initrd-2.6.18\n");
        let e = &c.entries[0];
        assert_eq!(e.kind, BootKind::Multiboot);
        assert_eq!(e.kernel.as_deref(), Some("/xen.gz"));
        assert_eq!(e.linux_cmdline(), "ro root=/dev/hda3");
        assert_eq!(e.modules[1].path, "/initrd-2.6.18");
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        const ALPHABET: &[u8] = b"title default=1 kernel (hd0,0)/ module\n#\t\xff";
        let mut seed = 17u64;
        for len in 0..400 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(11);
                    ALPHABET[(seed >> 33) as usize % ALPHABET.len()]
                })
                .collect();
            let c = parse(&buf);
            let _ = c.resolve_default(Some(u32::MAX));
        }
    }
}
