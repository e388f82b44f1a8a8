//! `boot.*`: the bootloader configuration and the entry grub would boot.

use super::ids::{DiskIds, OnDisk};
use crate::report::{Finding, Severity};
use crate::system::facts::SystemFacts;
use crate::system::fstab::Source;

pub fn check(facts: &SystemFacts, ids: &DiskIds, out: &mut Vec<Finding>) {
    if let Some(link) = &facts.legacy_link {
        if link.menu_lst && link.grub_conf && !link.same {
            out.push(
                Finding::new(
                    "boot.legacy-link",
                    Severity::Warning,
                    "/boot/grub/menu.lst and /boot/grub/grub.conf are different files: grub reads menu.lst while tools update grub.conf",
                )
                .path("/boot/grub/menu.lst")
                .remediation("make menu.lst a symlink to grub.conf (ln -sf grub.conf /boot/grub/menu.lst)"),
            );
        }
    }
    let Some(boot) = &facts.boot else {
        out.push(
            Finding::new(
                "boot.config-missing",
                Severity::Error,
                "no bootloader configuration: none of /boot/grub2/grub.cfg, /boot/grub/grub.cfg, /boot/grub/grub.conf, /boot/grub/menu.lst exists",
            )
            .path("/boot")
            .remediation("install grub and generate its configuration (grub2-mkconfig -o /boot/grub2/grub.cfg or update-grub)"),
        );
        return;
    };
    let cfg = boot.config_path.as_str();
    let Some(default) = &boot.default else {
        out.push(
            Finding::new(
                "boot.kernel-missing",
                Severity::Error,
                format!("{cfg} defines no boot entry that grub could boot"),
            )
            .path(cfg)
            .remediation("regenerate the grub configuration"),
        );
        return;
    };
    let entry = &default.entry;
    // BLS entries live in their own files; grub.cfg and legacy entries in
    // the configuration file.
    let entry_file = boot.entry_file(entry);
    let at = |f: Finding, line: Option<u64>| match line.or(boot.default_line) {
        Some(l) if line.is_some() => f.path(entry_file.clone()).line(l),
        Some(l) => f.path(cfg).line(l),
        None => f.path(entry_file.clone()),
    };
    match &entry.kernel {
        None => out.push(at(
            Finding::new(
                "boot.kernel-missing",
                Severity::Error,
                format!("the default boot entry \"{}\" in {cfg} loads no Linux kernel", entry.title),
            ),
            None,
        )),
        Some(k) if !facts.boot_file_exists(k) => out.push(
            at(Finding::new(
                "boot.kernel-missing",
                Severity::Error,
                format!(
                    "the default boot entry \"{}\" in {cfg} loads the kernel {k}, which is not in the image: the instance will not boot",
                    entry.title
                ),
            ), entry.kernel_line)
            .remediation("regenerate the grub configuration for an installed kernel, or reinstall the kernel"),
        ),
        _ => {}
    }
    for initrd in &entry.initrds {
        if !facts.boot_file_exists(initrd) {
            out.push(
                at(Finding::new(
                    "boot.kernel-missing",
                    Severity::Error,
                    format!(
                        "the default boot entry \"{}\" in {cfg} loads the initrd {initrd}, which is not in the image",
                        entry.title
                    ),
                ), entry.initrd_line)
                .remediation("rebuild the initrd (dracut -f / update-initramfs -u) and regenerate the grub configuration"),
            );
        }
    }
    let cmdline = entry.kernel_cmdline();
    if let Some(root) = cmdline.root() {
        let raw = cmdline.root_raw().unwrap_or_default().to_string();
        if ids.contains(&root) == OnDisk::No
            || ids.is_root(&root) == Some(false) && !matches!(root, Source::Device(_))
        {
            out.push(
                at(Finding::new(
                    "boot.root-mismatch",
                    Severity::Error,
                    format!(
                        "the default kernel command line says root={raw}, which is not this image's root filesystem (UUID={})",
                        ids.root_fs_uuid().unwrap_or("?")
                    ),
                ), entry.kernel_line)
                .evidence(format!("root={raw}"))
                .remediation("regenerate the grub configuration on the system this image comes from"),
            );
        }
        if root.is_kernel_device_name() {
            out.push(
                at(Finding::new(
                    "boot.device-name",
                    Severity::Warning,
                    format!("the default kernel command line names the root device as root={raw}: device names change between instance types"),
                ), entry.kernel_line)
                .evidence(format!("root={raw}"))
                .remediation("use root=UUID=… (GRUB_DISABLE_LINUX_UUID=false in /etc/default/grub)"),
            );
        }
    }
    // dracut activates each rd.lvm.lv= and waits for resume= before it
    // mounts the root: one that is not on this disk stops the boot.
    for lv in cmdline.get_all("rd.lvm.lv") {
        if !ids.has_lv(lv) {
            out.push(
                at(Finding::new(
                    "boot.root-mismatch",
                    Severity::Error,
                    format!("the default kernel command line says rd.lvm.lv={lv}, which is not a logical volume of this disk: the initrd waits for it and the boot stops in the emergency shell"),
                ), entry.kernel_line)
                .evidence(format!("rd.lvm.lv={lv}"))
                .remediation("regenerate the grub configuration (and the initrd) for the volumes on this disk"),
            );
        }
    }
    if let Some(resume) = cmdline.get("resume") {
        if ids.contains(&Source::parse(resume)) == OnDisk::No {
            out.push(
                at(Finding::new(
                    "boot.root-mismatch",
                    Severity::Warning,
                    format!("the default kernel command line says resume={resume}, which is not on this disk: the initrd waits for it on every boot"),
                ), entry.kernel_line)
                .evidence(format!("resume={resume}"))
                .remediation("remove resume= or point it at a swap area on this disk"),
            );
        }
    }
    let search = match &entry.search_fs_uuid {
        Some(u) => Some((u.as_str(), entry.search_line)),
        None => boot.global_search_fs_uuid.as_deref().map(|u| (u, None)),
    };
    if let Some((uuid, search_line)) = search {
        if ids.contains(&Source::Uuid(uuid.to_string())) == OnDisk::No {
            out.push(
                at(Finding::new(
                    "boot.root-mismatch",
                    Severity::Error,
                    format!("grub searches for the filesystem UUID {uuid} to boot from, and no filesystem on this disk has it"),
                ), search_line)
                .evidence(format!("search --fs-uuid {uuid}"))
                .remediation("regenerate the grub configuration on the system this image comes from"),
            );
        }
    }
}
