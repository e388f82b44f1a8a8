"""Logical volumes through the Python API, on disks the real lvm2 wrote
(``testdata/build-lvm-fixtures.sh``; it fails naming the Debian package
when lvm2 or cryptsetup is missing)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import snapaudit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def lvm_dir() -> Path:
    out = Path(os.environ.get("SNAPAUDIT_FIXTURES") or REPO / "target" / "fixtures") / "lvm"
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    run = subprocess.run(
        ["bash", str(REPO / "testdata" / "build-lvm-fixtures.sh"), str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_volumes_and_their_filesystems(lvm_dir: Path) -> None:
    img = snapaudit.open(lvm_dir / "lvm-sys-mbr.img")
    vols = {v.name: v for v in img.volumes}
    assert sorted(vols) == ["vg0/root", "vg0/swap"]
    root = vols["vg0/root"]
    assert (root.vg, root.lv, root.fs, root.role, root.problem) == ("vg0", "root", "ext4", "root", None)
    assert root.size_bytes == sum(length for _, _, length in root.segments)
    assert vols["vg0/swap"].fs == "swap"
    assert all(p.role is None for p in img.partitions)
    fs = img.filesystem(volume="vg0/root")
    assert fs.volume == "vg0/root" and fs.partition == 2
    assert b"/dev/mapper/vg0-root" in fs.read("/etc/fstab")
    assert img.root().volume == "vg0/root"
    assert img.filesystem(partition=1).volume is None
    with pytest.raises(snapaudit.InvalidInputError, match="vg0/root"):
        img.filesystem(volume="vg0/nope")
    with pytest.raises(snapaudit.UnsupportedError, match="swap"):
        img.filesystem(volume="vg0/swap")
    with pytest.raises(snapaudit.InvalidInputError):
        img.filesystem(1, volume="vg0/root")


def test_unsupported_volumes_say_why(lvm_dir: Path) -> None:
    img = snapaudit.open(lvm_dir / "lvm-thin.img")
    thin = next(v for v in img.volumes if v.name == "th/thin")
    assert thin.problem is not None and "thin volume" in thin.problem
    with pytest.raises(snapaudit.UnsupportedError, match="th/thin is a thin volume"):
        img.filesystem(volume="th/thin")


def test_report_locations_name_the_volume(lvm_dir: Path) -> None:
    report = snapaudit.open(lvm_dir / "lvm-sys-mbr.img").check(scan=False)
    lvm_root = [f for f in report.findings if f.rule == "disk.single-root" and f.location.volume]
    assert [f.location.volume for f in lvm_root] == ["vg0/root"]
    assert str(lvm_root[0].location).startswith("vg0/root")
    assert lvm_root[0].location.to_dict()["volume"] == "vg0/root"
