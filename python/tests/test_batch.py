"""check_many and the batch machinery under it: one report per image, errors
as reports, never an exception that kills the batch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import snapaudit
from snapaudit import Report


def _mix(images, tmp_path):  # type: ignore[no-untyped-def]
    return [
        images.gpt,
        tmp_path / "missing.raw",
        images.mbr,
        images.empty,
        images.bad_gpt,
        images.bare,
        tmp_path,  # a directory
        images.mbr_gz,
    ]


def test_batch_yields_one_report_per_image_good_or_broken(images, tmp_path) -> None:
    paths = _mix(images, tmp_path)
    results = list(snapaudit._native._batch([str(p) for p in paths], 2, "open"))
    assert sorted(i for i, _, _ in results) == list(range(len(paths)))
    by_index = {i: (Report.from_json(text, exception=exc), exc) for i, text, exc in results}
    for i, path in enumerate(paths):
        report, exc = by_index[i]
        assert report.path == str(path)
    expected_failures = {
        1: FileNotFoundError,
        3: snapaudit.CorruptImageError,
        6: IsADirectoryError,
    }
    for i, (report, exc) in by_index.items():
        if i in expected_failures:
            assert isinstance(exc, expected_failures[i]), (i, exc)
            assert report.verdict == "error"
            assert report.error == str(exc)
            assert report.findings == ()
            assert report.image["format"] == "unknown"
        else:
            assert exc is None, (i, exc)
            assert report.error is None
            assert report.disk["table"] in ("gpt", "mbr", "none")
    assert by_index[7][0].image["format"] == "gz"
    assert by_index[3][0].image["size_bytes"] == 0  # the empty file, stat'ed


@pytest.mark.parametrize("workers", [1, 3, 16])
def test_batch_any_worker_count_covers_every_image(images, workers) -> None:
    paths = [str(images.mbr)] * 7
    results = list(snapaudit._native._batch(paths, workers, "open"))
    assert sorted(i for i, _, _ in results) == list(range(7))


def test_batch_arguments(images) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        snapaudit._native._batch([str(images.mbr)], 0, "open")
    with pytest.raises(ValueError, match="unknown batch job"):
        snapaudit._native._batch([str(images.mbr)], 1, "nope")
    assert list(snapaudit._native._batch([], 2, "open")) == []


def test_batch_stops_early_without_hanging(images) -> None:
    batch = snapaudit._native._batch([str(images.mbr)] * 50, 2, "open")
    first = next(batch)
    assert first[2] is None
    del batch  # workers see the flag and stop after their current image


def test_check_many_wants_a_list(images) -> None:
    with pytest.raises(TypeError, match="list of paths"):
        next(snapaudit.check_many(str(images.mbr)))


def _cli() -> Path | None:
    """The CLI binary cargo built next to this package (debug or release)."""
    root = Path(__file__).resolve().parents[2]
    for profile in ("release", "debug"):
        exe = root / "target" / profile / "snapaudit"
        if exe.is_file():
            return exe
    return None


def test_report_findings_equal_the_cli_json(images) -> None:
    cli = _cli()
    if cli is None:
        pytest.fail("the snapaudit CLI is not built: cargo build -p snapaudit-cli")
    for disk in (images.mbr, images.gpt):
        out = subprocess.run(
            [str(cli), "check", "--no-scan", "--format", "json", str(disk)],
            capture_output=True, text=True, check=False,
        )
        assert out.returncode in (0, 1), out.stderr
        cli_report = json.loads(out.stdout)
        report = snapaudit.open(disk).check(profile="alibaba-ecs", scan=False)
        ours = report.to_dict()
        assert ours["findings"] == cli_report["findings"]
        assert ours["summary"] == cli_report["summary"]
        assert ours["disk"] == cli_report["disk"]
        assert report.verdict == cli_report["summary"]["verdict"]


def test_check_many_reports_every_image_even_broken_ones(images, tmp_path) -> None:
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.raw"
    paths = [images.mbr, empty, images.gpt, missing]
    reports = list(snapaudit.check_many(paths, workers=2, scan=False))
    assert len(reports) == len(paths)
    by_path = {r.path: r for r in reports}
    assert set(by_path) == {str(p) for p in paths}
    assert by_path[str(empty)].verdict == "error"
    assert "empty file" in (by_path[str(empty)].error or "")
    assert by_path[str(missing)].verdict == "error"
    assert isinstance(by_path[str(missing)].exception, FileNotFoundError)
    for good in (images.mbr, images.gpt):
        assert by_path[str(good)].verdict in ("pass", "fail")
        assert by_path[str(good)].error is None


def test_check_many_audits_every_image(images) -> None:
    reports = list(snapaudit.check_many([images.mbr, images.gpt], workers=2, scan=False))
    assert sorted(r.path for r in reports) == sorted([str(images.mbr), str(images.gpt)])
    assert all(r.error is None and r.verdict in ("pass", "fail") for r in reports)
