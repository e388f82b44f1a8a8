//! The rule catalogue of RULES.md: stable ids and what each rule checks.
//! Reports, SARIF output, suppressions and tests refer to these ids.

/// Which audits a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `check` only: needs a bootable system disk.
    SystemDisk,
    /// `check` and `scan` (data disks too).
    AnyDisk,
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub id: &'static str,
    pub summary: &'static str,
    pub scope: Scope,
}

const fn sys(id: &'static str, summary: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        summary,
        scope: Scope::SystemDisk,
    }
}

const fn any(id: &'static str, summary: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        summary,
        scope: Scope::AnyDisk,
    }
}

/// Every built-in rule, in RULES.md order.
pub const RULES: &[RuleInfo] = &[
    any(
        "disk.partition-table",
        "The partition table can be read and is consistent",
    ),
    sys(
        "disk.single-root",
        "The system disk holds only the root filesystem (plus BIOS-boot/ESP)",
    ),
    sys(
        "disk.root-last",
        "The root partition is the last one, so it can grow on first boot",
    ),
    sys(
        "disk.root-fs",
        "A readable ext2/3/4 root filesystem is present",
    ),
    sys(
        "disk.encrypted",
        "No LUKS or BitLocker volume: encrypted disks cannot be imported",
    ),
    any(
        "disk.lvm",
        "LVM2 volume groups are complete, consistent and of types snapaudit reads",
    ),
    sys(
        "fs.free-space",
        "The root filesystem has enough free blocks and inodes",
    ),
    sys(
        "fs.unclean",
        "The filesystem was cleanly unmounted (no journal recovery pending)",
    ),
    sys("fs.errors", "The superblock records no filesystem errors"),
    sys(
        "fs.features",
        "No ext4 features that older import tooling rejects",
    ),
    sys("fstab.missing", "/etc/fstab exists"),
    sys(
        "fstab.data-disk",
        "/etc/fstab mounts no block device that is not on this disk",
    ),
    sys(
        "fstab.root-mismatch",
        "The / entry of /etc/fstab names this image's root filesystem",
    ),
    sys(
        "fstab.device-name",
        "/etc/fstab uses UUID/LABEL rather than kernel device names",
    ),
    sys("fstab.syntax", "Every /etc/fstab line parses"),
    sys("boot.config-missing", "A bootloader configuration exists"),
    sys(
        "boot.kernel-missing",
        "The default boot entry's kernel and initrd exist",
    ),
    sys(
        "boot.root-mismatch",
        "The kernel's root= and grub's search target are on this disk",
    ),
    sys(
        "boot.device-name",
        "The kernel command line uses UUID/LABEL rather than device names",
    ),
    sys(
        "boot.legacy-link",
        "Legacy menu.lst and grub.conf are one file",
    ),
    sys("os.release", "The distribution can be identified"),
    sys("os.kernel", "Installed kernels and their modules"),
    sys("accounts.root", "An account named root with UID 0 exists"),
    sys("accounts.uid0", "No other account has UID 0"),
    sys(
        "accounts.shadow",
        "/etc/shadow exists and account files are not immutable/append-only",
    ),
    sys("selinux.enabled", "SELinux is disabled"),
    sys(
        "system.critical-dirs",
        "/bin, /sbin, /lib and init are intact",
    ),
    sys(
        "hygiene.ssh-host-keys",
        "No SSH host keys shared by every instance",
    ),
    sys(
        "hygiene.machine-id",
        "machine-id is empty so each instance gets its own",
    ),
    any("hygiene.shell-history", "No shell or client history files"),
    any(
        "hygiene.authorized-keys",
        "authorized_keys files, for the owner to review",
    ),
    sys("hygiene.cloud-init", "No cloud-init instance state"),
    any("hygiene.logs", "No leftover logs"),
    any("secret.private-key", "No private keys"),
    any("secret.cloud-access-key", "No cloud access keys"),
    any("secret.token", "No API tokens"),
    any("secret.password", "No passwords in clear"),
    any(
        "secret.credentials-file",
        "No credentials files of cloud and container tools",
    ),
    any(
        "secret.password-hash",
        "Accounts with usable password hashes",
    ),
    any(
        "secret.deleted",
        "No secrets in unallocated (deleted) blocks",
    ),
];

/// Look a rule up by id.
pub fn info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}
