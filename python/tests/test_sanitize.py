"""Image.sanitize: a dirty system disk in, a fixed copy out, the input untouched."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import snapaudit
from snapaudit import Sanitized

MIB = 1024 * 1024
ROOT_UUID = "3d9f6c1a-2b4e-4f5a-8c7d-9e0f1a2b3c4d"
#: A filesystem that is not on the disk: its fstab line must be commented out.
DATA_UUID = "7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3"
PART_START = MIB
PART_BYTES = 48 * MIB


def _tool(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")


MKE2FS = _tool("mke2fs")
SFDISK = _tool("sfdisk")
E2FSCK = _tool("e2fsck")


def _put(root: Path, path: str, data: bytes) -> None:
    full = root / path.lstrip("/")
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_bytes(data)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MBR disk whose root filesystem has host keys, a machine-id, a
    shell history, an fstab line for a disk that is not there and an
    authorized key (which only a person may remove)."""
    if MKE2FS is None or SFDISK is None:
        pytest.skip("mke2fs (e2fsprogs) and sfdisk (fdisk) are needed")
    base = tmp_path_factory.mktemp("sanitize")
    src = base / "src"
    _put(src, "/etc/os-release", b'ID=debian\nVERSION_ID="12"\n')
    _put(src, "/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n")
    _put(src, "/etc/shadow", b"root:*:19000:0:99999:7:::\n")
    fstab = f"UUID={ROOT_UUID} / ext4 errors=remount-ro 0 1\nUUID={DATA_UUID} /data ext4 defaults 0 2\n"
    _put(src, "/etc/fstab", fstab.encode())
    _put(src, "/etc/ssh/ssh_host_ed25519_key", b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"A" * 300 + b"\n")
    _put(src, "/etc/machine-id", b"0123456789abcdef0123456789abcdef\n")
    _put(src, "/root/.bash_history", b"ls\ncd /srv\nmake deploy\n" * 50)
    _put(src, "/root/.ssh/authorized_keys", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest user@host\n")
    _put(src, "/sbin/init", b"#!/bin/sh\n")
    image = base / "dirty.raw"
    with open(image, "wb") as f:
        f.truncate(PART_START + PART_BYTES)
    script = f"label: dos\nstart={PART_START // 512}, size={PART_BYTES // 512}, type=83\n"
    subprocess.run([SFDISK, "-q", "--no-reread", "--no-tell-kernel", str(image)], input=script.encode(), check=True)
    subprocess.run(
        [MKE2FS, "-q", "-F", "-t", "ext4", "-U", ROOT_UUID, "-E", f"offset={PART_START}", "-d", str(src),
         str(image), f"{PART_BYTES // 1024}k"],
        check=True,
    )
    return image


def test_sanitize_writes_a_fixed_copy_and_leaves_the_input_alone(dirty: Path, tmp_path: Path) -> None:
    before = _sha256(dirty)
    img = snapaudit.open(dirty)
    report = img.check()
    assert {f.rule for f in report.findings} >= {
        "hygiene.ssh-host-keys",
        "hygiene.machine-id",
        "hygiene.shell-history",
        "fstab.data-disk",
        "hygiene.authorized-keys",
    }
    out = tmp_path / "clean.raw"
    result = img.sanitize(out, report=report)

    assert isinstance(result, Sanitized)
    assert result.written and result.output == str(out)
    assert result.method in ("reflink", "copy-file-range", "read-write")
    ops = {(a.op, a.path) for a in result.actions}
    assert ("delete", "/etc/ssh/ssh_host_ed25519_key") in ops
    assert ("truncate", "/etc/machine-id") in ops
    assert ("wipe", "/root/.bash_history") in ops
    assert ("comment-out", "/etc/fstab") in ops
    assert any(op == "zero-free-space" for op, _ in ops)
    # Each action names the findings it fixes.
    delete = next(a for a in result.actions if a.op == "delete")
    assert [f.rule for f in delete.fixes] == ["hygiene.ssh-host-keys"]
    # What needs a person is listed with the reason.
    keys = [n for n in result.not_fixable if n.finding.rule == "hygiene.authorized-keys"]
    assert keys and "owner" in keys[0].reason
    assert result.free_blocks_after is not None
    assert all(s.nonzero_free_blocks == 0 for s in result.free_blocks_after)

    assert _sha256(dirty) == before, "the input image changed"
    if E2FSCK is not None:
        fsck = subprocess.run([E2FSCK, "-fn", f"{out}?offset={PART_START}"], capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr

    clean = snapaudit.open(out)
    fs = clean.root()
    assert not fs.exists("/etc/ssh/ssh_host_ed25519_key")
    assert fs.read("/etc/machine-id") == b""
    history = fs.read("/root/.bash_history")
    assert len(history) == len(b"ls\ncd /srv\nmake deploy\n" * 50) and set(history) == {0}
    assert fs.read("/etc/fstab").splitlines()[1].startswith(b"#UID=")
    rules = {f.rule for f in clean.check().findings}
    assert not rules & {"hygiene.ssh-host-keys", "hygiene.machine-id", "fstab.data-disk"}
    assert "hygiene.authorized-keys" in rules


def test_plan_only_writes_nothing(dirty: Path, tmp_path: Path) -> None:
    img = snapaudit.open(dirty)
    result = img.sanitize(plan_only=True)
    assert not result.written and result.output is None and result.outcome is None
    assert {a.op for a in result.actions} >= {"delete", "truncate", "wipe", "comment-out", "zero-free-space"}
    assert list(tmp_path.iterdir()) == []
    # The document round-trips through its JSON form.
    again = Sanitized.from_json(result.to_json())
    assert again == result
    assert again.to_dict()["schema"] == "snapaudit.sanitize/1"
    assert "plan only" in repr(result)


def test_a_report_given_as_json_is_used(dirty: Path) -> None:
    img = snapaudit.open(dirty)
    report = img.check()
    only_fstab = report.to_dict()
    only_fstab["findings"] = [f for f in only_fstab["findings"] if f["rule"] == "fstab.data-disk"]
    import json

    result = img.sanitize(plan_only=True, report=json.dumps(only_fstab), zero_free=False)
    assert [a.op for a in result.actions] == ["comment-out"]


def test_refusals(dirty: Path, tmp_path: Path) -> None:
    img = snapaudit.open(dirty)
    with pytest.raises(snapaudit.InvalidInputError, match="input image"):
        img.sanitize(dirty)
    with pytest.raises(snapaudit.InvalidInputError, match="output path"):
        img.sanitize()
    with pytest.raises(snapaudit.InvalidInputError):
        img.sanitize("x.raw", report="not json")
    packed = tmp_path / "dirty.raw.gz"
    with open(dirty, "rb") as fin, gzip.open(packed, "wb", compresslevel=1) as fout:
        shutil.copyfileobj(fin, fout)
    compressed = snapaudit.open(packed)
    with pytest.raises(snapaudit.InvalidInputError, match="compressed"):
        compressed.sanitize(in_place=True)
    # A compressed input still sanitizes into a new file.
    out = tmp_path / "from-gz.raw"
    result = compressed.sanitize(out)
    assert result.method == "read-write"
    assert not snapaudit.open(out).root().exists("/etc/ssh/ssh_host_ed25519_key")


def test_in_place_changes_the_image_itself(dirty: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.raw"
    shutil.copyfile(dirty, copy)
    img = snapaudit.open(copy)
    result = img.sanitize(in_place=True)
    assert result.method == "in-place" and result.output == str(copy)
    assert not snapaudit.open(copy).root().exists("/etc/ssh/ssh_host_ed25519_key")
    if E2FSCK is not None:
        fsck = subprocess.run([E2FSCK, "-fn", f"{copy}?offset={PART_START}"], capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
