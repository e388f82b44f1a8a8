"""Image.scan() and Image.check(scan=...): the sensitive-data scan from
Python, on a disk with planted (generated, fake) secrets. Findings carry the
path, line and image offset; no report ever holds a secret in clear."""

from __future__ import annotations

import os
import random
import shutil
import string
import subprocess
from pathlib import Path

import pytest

import snapaudit

UUID = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
MIB = 1024 * 1024


def _tool(name: str) -> str | None:
    # e2fsprogs and fdisk live in /sbin, which is not on every user's PATH.
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")


MKE2FS = _tool("mke2fs")
SFDISK = _tool("sfdisk")


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


@pytest.fixture(scope="module")
def secret_disk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    if MKE2FS is None or SFDISK is None:
        pytest.skip("mke2fs (e2fsprogs) and sfdisk (fdisk) are needed to build the test image")
    rng = random.Random(7)
    secrets = {
        "aws_id": "AKIA" + _chars(rng, string.ascii_uppercase + "234567", 16),
        "aws_secret": _chars(rng, string.ascii_letters + string.digits, 40),
        "token": "ghp_" + _chars(rng, string.ascii_letters + string.digits, 36),
    }
    base = tmp_path_factory.mktemp("scan")
    src = base / "src"
    _write(
        src / "home/user/.aws/credentials",
        (
            "[default]\n"
            f"aws_access_key_id = {secrets['aws_id']}\n"
            f"aws_secret_access_key = {secrets['aws_secret']}\n"
        ).encode(),
        mode=0o600,
    )
    _write(src / "srv/app/deploy.sh", f"#!/bin/sh\nexport GITHUB_TOKEN={secrets['token']}\n".encode())
    _write(src / "srv/app/README", b"nothing to see\n")
    disk = base / "data.raw"
    with open(disk, "wb") as f:
        f.truncate(34 * MIB)
    assert MKE2FS is not None and SFDISK is not None
    subprocess.run(
        [SFDISK, "-q", "--no-reread", "--no-tell-kernel", str(disk)],
        input=b"label: dos\nstart=2048, size=65536, type=83\n",
        check=True,
    )
    subprocess.run(
        [MKE2FS, "-q", "-F", "-t", "ext4", "-b", "4096", "-L", "data", "-U", UUID,
         "-E", f"offset={MIB}", "-d", str(src), str(disk), f"{32 * 1024}k"],
        check=True,
    )
    return disk, secrets


def test_scan_finds_the_planted_secrets(secret_disk) -> None:
    disk, secrets = secret_disk
    report = snapaudit.open(disk).scan()
    assert report.verdict == "fail"
    got = {(f.rule, f.severity, f.path, f.line) for f in report.errors}
    assert ("secret.cloud-access-key", "error", "/home/user/.aws/credentials", 2) in got
    assert ("secret.credentials-file", "error", "/home/user/.aws/credentials", None) in got
    assert ("secret.token", "error", "/srv/app/deploy.sh", 2) in got
    token = next(f for f in report.errors if f.rule == "secret.token")
    # The image offset of the match: the bytes there are the token.
    assert token.offset_bytes is not None and token.location.length_bytes == 40
    with open(disk, "rb") as f:
        f.seek(token.offset_bytes)
        assert f.read(4) == b"ghp_"
    # A data disk gets no boot rules.
    assert not [f for f in report.findings if f.rule.split(".")[0] in ("boot", "fstab", "os", "accounts")]
    assert report.to_dict()["stats"]["files_scanned"] == 3


def test_reports_never_hold_a_secret(secret_disk) -> None:
    disk, secrets = secret_disk
    img = snapaudit.open(disk)
    for report in (img.scan(), img.check(scan=True)):
        text = report.to_json()
        for name, value in secrets.items():
            assert value[4:16] not in text, f"{name} leaked"
        assert report.errors, "nothing found: this test would prove nothing"


def test_check_runs_the_scan_unless_told_not_to(secret_disk) -> None:
    disk, _ = secret_disk
    img = snapaudit.open(disk)
    with_scan = {f.rule for f in img.check(scan=True).findings}
    without = {f.rule for f in img.check(scan=False).findings}
    assert "secret.token" in with_scan
    assert not any(r.startswith("secret.") for r in without)
    # Not a system disk: check says so, scan does not.
    assert "disk.root-fs" in without


def test_scan_of_a_clean_disk_passes(images) -> None:
    report = snapaudit.open(images.gpt).scan()
    assert report.error is None
    assert [f for f in report.errors if f.rule.startswith("secret.")] == []


def test_scan_of_a_corrupt_filesystem_still_reports(images) -> None:
    # Zeroed group descriptors: the files cannot be walked, the rest of
    # the disk is still scanned and the report says what it could do.
    report = snapaudit.open(images.bad_ext4).scan()
    assert report.error is None
    assert report.verdict in ("pass", "fail")


CUSTOM_RULES = """
[[rules]]
id = "fixture-hostname"
description = "the fixture's host name, as an in-house rule would name an internal token"
regex = '''fixture-host'''
keywords = ["fixture-host"]
"""


def test_custom_rules_are_added_to_the_builtin_ones(images) -> None:
    img = snapaudit.open(images.mbr)

    def at_hostname(report: snapaudit.Report) -> list[snapaudit.Finding]:
        return [f for f in report.findings if f.location.path == "/etc/hostname"]

    assert at_hostname(img.scan()) == []
    found = at_hostname(img.scan(rules=CUSTOM_RULES))
    assert len(found) == 1 and found[0].location.line == 1
    assert "fixture-host" not in (found[0].evidence or ""), "evidence is redacted"
    assert len(at_hostname(img.check(rules=CUSTOM_RULES))) == 1
    with pytest.raises(snapaudit.SnapauditError):
        img.scan(rules="[[rules]]\nid = 'x'\nregex = '''(unclosed'''\n")
