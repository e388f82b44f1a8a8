"""Image and Partition: what snapaudit reads of a disk matches how it was built."""

from __future__ import annotations

import os

import pytest

import snapaudit


def test_gpt_partitions_are_read_and_probed(images) -> None:
    img = snapaudit.open(images.gpt)
    assert img.table == "gpt"
    assert img.format == "raw"
    assert img.size_bytes == os.path.getsize(images.gpt)
    assert img.path == str(images.gpt)
    parts = img.partitions
    assert [p.index for p in parts] == [1, 2, 3]
    assert [p.start_bytes for p in parts] == [images.starts["gpt"][i] for i in (1, 2, 3)]
    assert [p.size_bytes for p in parts] == [2048 * 512, 16384 * 512, 81920 * 512]
    assert [p.type for p in parts] == ["bios-boot", "linux", "linux"]
    assert [p.fs for p in parts] == [None, "ext4", "ext4"]
    assert [p.label for p in parts] == [None, "boot", "rootfs"]
    assert [p.uuid for p in parts] == [None, images.boot_uuid, images.root_uuid]
    assert [p.name for p in parts] == ["bios", "boot", "root"]
    # The root is found by content (/etc and /sbin), not by position.
    assert [p.role for p in parts] == [None, None, "root"]
    assert all(p.partuuid and len(p.partuuid) == 36 for p in parts)


def test_mbr_and_bare_disks(images) -> None:
    mbr = snapaudit.open(images.mbr)
    assert mbr.table == "mbr"
    [p] = mbr.partitions
    assert (p.index, p.type, p.fs, p.role, p.start_bytes) == (1, "linux", "ext4", "root", 2048 * 512)

    bare = snapaudit.open(images.bare)
    assert bare.table == "none"
    [p] = bare.partitions
    assert (p.index, p.type, p.fs, p.start_bytes, p.size_bytes) == (0, "whole-disk", "ext4", 0, 40 * 1024 * 1024)
    assert bare.root().listdir("/etc") == sorted(os.listdir(images.src / "etc"))


def test_compressed_image_is_expanded(images) -> None:
    img = snapaudit.open(images.mbr_gz)
    assert img.format == "gz"
    assert img.size_bytes == os.path.getsize(images.mbr)
    assert img.root().read("/etc/hostname") == b"fixture-host\n"


def test_plain_read_strategy_gives_the_same_disk(images) -> None:
    mapped = snapaudit.open(images.gpt)
    read = snapaudit.open(images.gpt, mmap=False)
    assert read.partitions == mapped.partitions
    assert read.root().read("/usr/bin/tool") == mapped.root().read("/usr/bin/tool")


def test_partition_is_frozen_hashable_and_readable(images) -> None:
    img = snapaudit.open(images.gpt)
    p = img.partitions[2]
    with pytest.raises(AttributeError):
        p.label = "other"  # type: ignore[misc]
    assert p == snapaudit.open(images.gpt).partitions[2]
    assert len({p, img.partitions[2], img.partitions[1]}) == 2
    r = repr(p)
    assert r.startswith("Partition(index=3, type='linux', fs='ext4', start_bytes=10485760")
    assert "label='rootfs'" in r and "role='root'" in r
    # Fields that are None are left out to keep the line short.
    assert "None" not in repr(img.partitions[0])


def test_image_repr(images) -> None:
    r = repr(snapaudit.open(images.gpt))
    assert r == f"<snapaudit.Image {str(images.gpt)!r} 56.0 MiB raw, gpt table, 3 partitions>"


def test_filesystem_by_partition(images) -> None:
    img = snapaudit.open(images.gpt)
    boot = img.filesystem(partition=2)
    assert boot.partition == 2
    assert boot.listdir("/") == ["grub", "lost+found"]
    assert boot.read("/grub/grub.cfg") == b"set default=0\n"
    assert img.root().partition == 3
    assert img.filesystem(3).read("/etc/hostname") == b"fixture-host\n"
    assert repr(boot) == f"<snapaudit.Filesystem partition 2 of {str(images.gpt)!r}>"


def test_open_accepts_pathlike(images) -> None:
    assert snapaudit.open(images.mbr).path == snapaudit.open(str(images.mbr)).path
