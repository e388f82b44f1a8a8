"""Disk images built once per test session from a known source tree.

The tree is written by Python, packed into ext4 filesystems with
``mke2fs -d`` (e2fsprogs) and placed into partitioned disks laid out with
``sfdisk``, so every test can compare what snapaudit parses with the files
it came from. Tests that need the images fail, with the install command, when the tools are missing.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MIB = 1024 * 1024
SECTOR = 512

#: Filesystem UUIDs given to mke2fs, so tests can check what the probe reads.
ROOT_UUID = "5f4c2a1e-8b7d-4e3f-9a6b-1c2d3e4f5a6b"
BOOT_UUID = "0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"

#: mtime given to some files, checked through Stat.
FIXED_MTIME = 1_600_000_000


def _tool(name: str) -> str | None:
    # e2fsprogs and fdisk live in /sbin, which is not on every user's PATH.
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    return shutil.which(name, path=path)


MKE2FS = _tool("mke2fs")
SFDISK = _tool("sfdisk")


def _write(path: Path, data: bytes, mode: int = 0o644, uid: int | None = None, gid: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    # Only root can give files away; without root the owners stay the
    # caller's and the tests compare against the source tree's lstat.
    if (uid is not None or gid is not None) and os.geteuid() == 0:
        os.chown(path, uid if uid is not None else -1, gid if gid is not None else -1)


def make_source_tree(root: Path) -> None:
    """A small system-like tree with every kind of entry the tests look at."""
    _write(root / "etc/fstab", b"UUID=" + ROOT_UUID.encode() + b" / ext4 defaults 0 1\n")
    _write(root / "etc/os-release", b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    _write(root / "etc/hostname", b"fixture-host\n")
    _write(root / "etc/shadow", b"root:*:19000:0:99999:7:::\n", mode=0o640, uid=0, gid=42)
    _write(root / "etc/ssh/sshd_config", b"PermitRootLogin prohibit-password\n")
    _write(root / "sbin/init", b"#!/bin/sh\nexec /bin/sh\n", mode=0o755)
    # Every byte value, many times: a file spanning several blocks.
    _write(root / "usr/bin/tool", bytes(range(256)) * 1000, mode=0o755)
    # Larger than one extent's worth of small allocations, not a multiple of 4096.
    log = b"".join(b"line %06d of the log, some text to fill the block\n" % i for i in range(30_000))
    _write(root / "var/log/big.log", log)
    _write(root / "data/empty", b"")
    _write(root / "data/\u00fcn\u00efc\u00f8d\u00e9.txt", "h\u00e9llo\n".encode())
    many = root / "data/many"
    for i in range(300):  # enough entries for an htree-indexed directory
        _write(many / f"f{i:04d}", b"%d\n" % i)
    home = root / "home/user"
    _write(home / ".bashrc", b"export PS1='$ '\n", mode=0o600, uid=1000, gid=1000)
    (home / "notes").mkdir()
    if os.geteuid() == 0:
        os.chown(home, 1000, 1000)
    (root / "etc/motd").symlink_to("hostname")  # relative, to a file
    (root / "bin").symlink_to("usr/bin")  # relative, to a directory
    (root / "etc/localtime").symlink_to("/usr/share/zoneinfo/UTC")  # dangling
    os.mkfifo(root / "var/log/pipe")
    for p in (root / "etc/hostname", root / "usr/bin/tool"):
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))


def mkfs(src: Path | None, image: Path, offset_bytes: int, size_bytes: int, label: str, uuid: str) -> None:
    """An ext4 filesystem from `src` written into `image` at `offset_bytes`."""
    assert MKE2FS is not None
    # 4 KiB blocks whatever the size, so the layout the corruption tests
    # rely on (superblock in block 0, group descriptors in block 1) is fixed.
    args = [MKE2FS, "-q", "-F", "-t", "ext4", "-b", "4096", "-L", label, "-U", uuid, "-E", f"offset={offset_bytes}"]
    if src is not None:
        args += ["-d", str(src)]
    args += [str(image), f"{size_bytes // 1024}k"]
    subprocess.run(args, check=True)


def partition_disk(image: Path, size_bytes: int, script: str) -> None:
    assert SFDISK is not None
    with open(image, "wb") as f:
        f.truncate(size_bytes)
    subprocess.run([SFDISK, "-q", "--no-reread", "--no-tell-kernel", str(image)], input=script.encode(), check=True)


@dataclass
class Fixtures:
    src: Path
    #: GPT: 1 bios-boot (empty), 2 ext4 "boot", 3 ext4 "rootfs" (the tree).
    gpt: Path
    #: MBR: 1 ext4 "rootfs".
    mbr: Path
    #: No table: the ext4 filesystem at byte 0.
    bare: Path
    #: `mbr` gzip-compressed.
    mbr_gz: Path
    #: Inputs that are not usable disks.
    empty: Path
    short: Path
    #: GPT disk whose primary and backup headers both fail their CRC (the
    #: core reports that as a table problem and finds no partitions).
    bad_gpt: Path
    #: `mbr` with the root filesystem's group descriptor table zeroed.
    bad_ext4: Path
    #: Partition starts in bytes, by disk and index.
    starts: dict[str, dict[int, int]] = field(default_factory=dict)
    root_uuid: str = ROOT_UUID
    boot_uuid: str = BOOT_UUID
    fixed_mtime: int = FIXED_MTIME

    def source_entries(self) -> list[tuple[str, Path, os.stat_result]]:
        """(image path, host path, lstat) of everything in the source tree."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.src):
            for name in dirnames + filenames:
                host = Path(dirpath) / name
                out.append(("/" + host.relative_to(self.src).as_posix(), host, os.lstat(host)))
        return out


GPT_SCRIPT = """label: gpt
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name=bios
start=4096, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=boot
start=20480, size=81920, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
"""
GPT_BYTES = 56 * MIB  # 2048 + 2048 + 16384 + 81920 sectors, plus the backup GPT

MBR_SCRIPT = """label: dos
start=2048, size=81920, type=83
"""
MBR_BYTES = 41 * MIB + 1024 * SECTOR


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    if MKE2FS is None or SFDISK is None:
        pytest.fail(
            "mke2fs and sfdisk are needed to build the test images: apt-get install -y e2fsprogs fdisk"
        )
    base = tmp_path_factory.mktemp("images")
    src = base / "src"
    make_source_tree(src)
    boot = base / "boot-src"
    _write(boot / "grub/grub.cfg", b"set default=0\n")

    gpt = base / "gpt.raw"
    partition_disk(gpt, GPT_BYTES, GPT_SCRIPT)
    mkfs(boot, gpt, 4096 * SECTOR, 16384 * SECTOR, "boot", BOOT_UUID)
    mkfs(src, gpt, 20480 * SECTOR, 81920 * SECTOR, "rootfs", ROOT_UUID)

    mbr = base / "mbr.raw"
    partition_disk(mbr, MBR_BYTES, MBR_SCRIPT)
    mkfs(src, mbr, 2048 * SECTOR, 81920 * SECTOR, "rootfs", ROOT_UUID)

    bare = base / "bare.raw"
    with open(bare, "wb") as f:
        f.truncate(40 * MIB)
    mkfs(src, bare, 0, 40 * MIB, "rootfs", ROOT_UUID)

    mbr_gz = base / "mbr.raw.gz"
    with open(mbr, "rb") as fin, gzip.open(mbr_gz, "wb", compresslevel=1) as fout:
        shutil.copyfileobj(fin, fout)

    empty = base / "empty.raw"
    empty.write_bytes(b"")
    short = base / "short.raw"
    short.write_bytes(b"\0" * 100)

    bad_gpt = base / "bad-gpt.raw"
    shutil.copyfile(gpt, bad_gpt)
    with open(bad_gpt, "r+b") as f:
        # Byte 24 of a GPT header is its own LBA; changing it breaks the
        # header CRC of both the primary (LBA 1) and the backup (last LBA).
        for header_lba in (1, GPT_BYTES // SECTOR - 1):
            f.seek(header_lba * SECTOR + 24)
            f.write(b"\x99")

    bad_ext4 = base / "bad-ext4.raw"
    shutil.copyfile(mbr, bad_ext4)
    with open(bad_ext4, "r+b") as f:
        # 4 KiB blocks: block 0 holds the superblock, block 1 the group
        # descriptors. Zeroed descriptors point every group at block 0.
        f.seek(2048 * SECTOR + 4096)
        f.write(b"\0" * 4096)

    return Fixtures(
        src=src,
        gpt=gpt,
        mbr=mbr,
        bare=bare,
        mbr_gz=mbr_gz,
        empty=empty,
        short=short,
        bad_gpt=bad_gpt,
        bad_ext4=bad_ext4,
        starts={
            "gpt": {1: 2048 * SECTOR, 2: 4096 * SECTOR, 3: 20480 * SECTOR},
            "mbr": {1: 2048 * SECTOR},
            "bare": {0: 0},
        },
    )


