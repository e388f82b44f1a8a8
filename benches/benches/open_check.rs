//! Opening a 2 GiB sparse system disk: map + partition table + probe of
//! every partition + finding the root by content; and the rules-only audit
//! (`check --no-scan`) of the same disk. The disk is built with sfdisk and
//! mke2fs in a temporary directory (the bench is skipped without them).

// A bench that cannot build its input should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use snapaudit::ext4::find_root;
use snapaudit::image::Image;
use snapaudit::partition::PartitionTable;
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy, check};

const DISK_BYTES: u64 = 2 << 30;

fn run(cmd: &mut Command) -> bool {
    cmd.status().is_ok_and(|s| s.success())
}

/// GPT: BIOS boot (1 MiB) + root ext4 (rest), root holding a small but
/// believable tree.
fn build_disk(dir: &Path) -> Option<PathBuf> {
    let tree = dir.join("root");
    for d in [
        "etc/ssh",
        "boot/grub",
        "usr/bin",
        "usr/sbin",
        "usr/lib/systemd",
        "home/user",
        "var/log",
        "usr/lib/modules/6.1.0-13-amd64",
    ] {
        std::fs::create_dir_all(tree.join(d)).ok()?;
    }
    let w = |p: &str, s: &str| std::fs::write(tree.join(p), s);
    w(
        "etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .ok()?;
    w("etc/issue", "Debian GNU/Linux 12\n").ok()?;
    w(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\n",
    )
    .ok()?;
    w(
        "etc/shadow",
        "root:*:19000:0:99999:7:::\nuser:!:19000:0:99999:7:::\n",
    )
    .ok()?;
    w(
        "etc/fstab",
        "UUID=0b7c5f2e-5d6a-4e0f-9a53-6a1f3b1e2c3d / ext4 defaults 0 1\n",
    )
    .ok()?;
    w("boot/vmlinuz-6.1.0-13-amd64", "kernel").ok()?;
    w("boot/initrd.img-6.1.0-13-amd64", "initrd").ok()?;
    w(
        "boot/grub/grub.cfg",
        "set default=0\nmenuentry 'Debian' {\n search --no-floppy --fs-uuid --set=root 0b7c5f2e-5d6a-4e0f-9a53-6a1f3b1e2c3d\n linux /boot/vmlinuz-6.1.0-13-amd64 root=UUID=0b7c5f2e-5d6a-4e0f-9a53-6a1f3b1e2c3d ro\n initrd /boot/initrd.img-6.1.0-13-amd64\n}\n",
    )
    .ok()?;
    w("usr/lib/systemd/systemd", "init").ok()?;
    std::os::unix::fs::symlink("usr/sbin", tree.join("sbin")).ok()?;
    std::os::unix::fs::symlink("usr/bin", tree.join("bin")).ok()?;
    std::os::unix::fs::symlink("usr/lib", tree.join("lib")).ok()?;
    let disk = dir.join("disk.raw");
    std::fs::File::create(&disk)
        .ok()?
        .set_len(DISK_BYTES)
        .ok()?;
    let mut sfdisk = Command::new("sfdisk");
    sfdisk
        .arg("-q")
        .arg(&disk)
        .stdin(std::process::Stdio::piped());
    let mut child = sfdisk.spawn().ok()?;
    use std::io::Write;
    child
        .stdin
        .take()?
        .write_all(b"label: gpt\n,1M,21686148-6449-6E6F-744E-656564454649\n,,L\n")
        .ok()?;
    if !child.wait().ok()?.success() {
        return None;
    }
    let ok = run(Command::new("mke2fs")
        .args([
            "-q",
            "-t",
            "ext4",
            "-U",
            "0b7c5f2e-5d6a-4e0f-9a53-6a1f3b1e2c3d",
            "-E",
            "offset=2097152",
            "-d",
        ])
        .arg(&tree)
        .arg(&disk)
        .arg(format!("{}k", (DISK_BYTES - (2 << 20)) / 1024)));
    ok.then_some(disk)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = build_disk(dir.path()) else {
        eprintln!("open_check: sfdisk/mke2fs unavailable, skipped");
        return;
    };
    c.bench_function("open+table+probe (2 GiB sparse GPT)", |b| {
        b.iter(|| {
            let image = Image::open(&disk).unwrap();
            PartitionTable::read(&image).unwrap()
        })
    });
    c.bench_function("open+table+probe+root (2 GiB sparse GPT)", |b| {
        b.iter(|| {
            let image = Image::open(&disk).unwrap();
            let table = PartitionTable::read(&image).unwrap();
            find_root(&image, &table).unwrap()
        })
    });
    let options = CheckOptions {
        profile: Profile::alibaba_ecs(),
        scan: ScanPolicy::Skip,
        root_partition: None,
    };
    c.bench_function("check --no-scan (2 GiB sparse GPT)", |b| {
        b.iter(|| {
            let image = Image::open(&disk).unwrap();
            check(&image, &options).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
