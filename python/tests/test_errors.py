"""Bad inputs raise the documented exception classes, never crash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import snapaudit


def test_hierarchy() -> None:
    for cls in (snapaudit.CorruptImageError, snapaudit.UnsupportedError, snapaudit.InvalidInputError, snapaudit.InternalError):
        assert issubclass(cls, snapaudit.SnapauditError)
    assert issubclass(snapaudit.SnapauditError, Exception)
    assert issubclass(snapaudit.InvalidInputError, ValueError)
    assert snapaudit.SnapauditError("x").offset is None


def test_missing_image_is_file_not_found(tmp_path) -> None:
    missing = tmp_path / "nope.raw"
    with pytest.raises(FileNotFoundError) as e:
        snapaudit.open(missing)
    assert e.value.filename == str(missing)
    # Both families catch it: the OS's and snapaudit's own.
    assert isinstance(e.value, snapaudit.SnapauditError)
    assert isinstance(e.value, snapaudit.ImageNotFoundError)
    assert e.value.offset is None
    assert "No such file" in str(e.value)


def test_directory_is_not_an_image(tmp_path) -> None:
    with pytest.raises(IsADirectoryError) as e:
        snapaudit.open(tmp_path)
    assert e.value.filename == str(tmp_path)


def test_unreadable_image_is_permission_error(tmp_path) -> None:
    locked = tmp_path / "locked.raw"
    locked.write_bytes(b"\0" * 4096)
    locked.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            snapaudit.open(locked)
        return
    # root reads any file; drop the capabilities that let it, in a child.
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    code = (
        "import snapaudit, sys\n"
        "try:\n    snapaudit.open(sys.argv[1])\n"
        "except PermissionError as e:\n    print('PermissionError', e.filename)\n"
    )
    out = subprocess.run(
        [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", code, str(locked)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    if out.returncode != 0 and "setpriv" in out.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {out.stderr.strip()}")
    assert out.stdout.strip() == f"PermissionError {locked}", out.stderr


@pytest.mark.parametrize("name", ["empty", "short"])
def test_too_small_to_be_a_disk(images, name) -> None:
    with pytest.raises(snapaudit.CorruptImageError) as e:
        snapaudit.open(getattr(images, name))
    assert e.value.offset == 0
    assert "not a disk image" in str(e.value)


def test_unreadable_gpt_opens_with_no_partitions(images) -> None:
    # Both headers fail their CRC: the core records a table problem (for the
    # disk.partition-table rule) rather than refusing the image.
    img = snapaudit.open(images.bad_gpt)
    assert (img.table, img.partitions) == ("gpt", [])
    with pytest.raises(snapaudit.UnsupportedError, match="no ext2/3/4 filesystem"):
        img.root()


def test_corrupt_ext4(images) -> None:
    img = snapaudit.open(images.bad_ext4)  # the table is fine
    assert img.partitions[0].fs == "ext4"  # and so is the superblock
    with pytest.raises(snapaudit.CorruptImageError) as e:
        img.root()
    assert e.value.offset == images.starts["mbr"][1]


def test_partition_errors(images) -> None:
    img = snapaudit.open(images.gpt)
    with pytest.raises(snapaudit.InvalidInputError, match="no partition 9") as e:
        img.filesystem(partition=9)
    assert isinstance(e.value, ValueError)
    with pytest.raises(snapaudit.UnsupportedError, match="partition 1 holds no filesystem"):
        img.filesystem(partition=1)


def test_paths_inside_the_image_raise_os_errors(images) -> None:
    fs = snapaudit.open(images.mbr).root()
    with pytest.raises(FileNotFoundError) as nf:
        fs.read("/etc/nope")
    assert nf.value.filename == "/etc/nope"
    with pytest.raises(FileNotFoundError):
        fs.listdir("/nope")
    with pytest.raises(FileNotFoundError):
        fs.stat("/nope")
    with pytest.raises(IsADirectoryError) as isdir:
        fs.read("/etc")
    assert isdir.value.filename == "/etc"
    with pytest.raises(NotADirectoryError):
        fs.listdir("/etc/fstab")
    with pytest.raises(ValueError):
        fs.read("etc/fstab")  # paths inside the image are absolute


def test_panic_becomes_internal_error_and_the_interpreter_lives_on(images) -> None:
    with pytest.raises(snapaudit.InternalError, match="bug in snapaudit.*boom"):
        snapaudit._native._panic_for_test("boom")
    assert snapaudit.open(images.mbr).root().exists("/etc")
