"""Container formats from Python: a qcow2 (and a qcow2 over a backing file)
opens as the raw disk it holds, audits the same, and is never reopened by
the audit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import snapaudit


def _qemu_img() -> str:
    path = shutil.which("qemu-img", path=os.environ.get("PATH", "") + os.pathsep + "/usr/bin")
    if path is None:
        pytest.fail("qemu-img is needed: apt-get install -y qemu-utils")
    return path


def _keys(report: snapaudit.Report) -> set[tuple[str, str, str | None, int | None]]:
    return {(f.rule, f.severity, f.location.path, f.location.line) for f in report.findings}


def test_qcow2_reads_and_audits_as_its_raw_disk(images, tmp_path: Path) -> None:
    qcow = tmp_path / "mbr.qcow2"
    subprocess.run([_qemu_img(), "convert", "-O", "qcow2", "-c", str(images.mbr), str(qcow)], check=True)
    raw = snapaudit.open(images.mbr)
    img = snapaudit.open(qcow)
    assert img.format == "qcow2"
    assert img.size_bytes == raw.size_bytes
    assert [p.index for p in img.partitions] == [p.index for p in raw.partitions]
    assert img.root().read("/etc/hostname") == raw.root().read("/etc/hostname")
    assert _keys(img.check(scan=False)) == _keys(raw.check(scan=False))
    # The audit reads the image it opened: removing the file does not matter.
    qcow.unlink()
    assert _keys(img.check(scan=True)) == _keys(raw.check(scan=True))


def test_backing_dir_finds_a_moved_backing_file(images, tmp_path: Path) -> None:
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    base = base_dir / "base.raw"
    shutil.copyfile(images.mbr, base)
    top = tmp_path / "top.qcow2"
    subprocess.run(
        [_qemu_img(), "create", "-q", "-f", "qcow2", "-b", "base/base.raw", "-F", "raw", str(top)],
        check=True,
        cwd=tmp_path,
    )
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(str(top), moved / "top.qcow2")
    with pytest.raises(snapaudit.SnapauditError, match="backing file"):
        snapaudit.open(moved / "top.qcow2")
    img = snapaudit.open(moved / "top.qcow2", backing_dir=base_dir)
    assert img.root().read("/etc/hostname") == snapaudit.open(images.mbr).root().read("/etc/hostname")
