"""Report and Finding over the ``snapaudit.report/1`` JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

import snapaudit
from snapaudit import Finding, Report

# A report as the core serializes it (serde field order, absent options
# left out), with one finding of each severity.
SAMPLE = {
    "schema": "snapaudit.report/1",
    "image": {"path": "disk.raw", "size_bytes": 2147483648, "format": "raw"},
    "profile": "alibaba-ecs",
    "disk": {
        "table": "mbr",
        "partitions": [
            {
                "index": 1,
                "start_bytes": 1048576,
                "size_bytes": 2146435072,
                "type": "linux",
                "fs": "ext4",
                "uuid": "5f4c2a1e-8b7d-4e3f-9a6b-1c2d3e4f5a6b",
                "label": "rootfs",
                "role": "root",
            }
        ],
    },
    "system": {"os": {"id": "debian", "version_id": "12", "pretty_name": "Debian"}, "kernels": ["6.1.0"], "bootloader": "grub2"},
    "findings": [
        {
            "rule": "fstab.data-disk",
            "severity": "error",
            "message": "/etc/fstab line 4 mounts UUID=7d2e on /data, which is not on this disk",
            "location": {"partition": 1, "path": "/etc/fstab", "line": 4, "offset_bytes": 123456},
            "evidence": "UUID=7d2e /data ext4 defaults 0 2",
            "remediation": "comment the line out or add nofail",
        },
        {
            "rule": "secret.aws-key",
            "severity": "warning",
            "message": "an access key id in a vendor file",
            "location": {"partition": 1, "path": "/usr/share/doc/x", "offset_bytes": 999, "length_bytes": 20},
            "evidence": "AKIA\u2026(20 chars, sha256:3f2a9c)",
            "vendor": True,
        },
        {"rule": "os.release", "severity": "info", "message": "Debian 12", "location": {}},
    ],
    "summary": {"errors": 1, "warnings": 1, "infos": 1, "verdict": "fail"},
    "stats": {"elapsed_ms": 12, "files_scanned": 0, "bytes_scanned": 0},
}


@pytest.fixture
def report() -> Report:
    return Report.from_json(json.dumps(SAMPLE))


def test_round_trip_is_exact(report: Report) -> None:
    assert report.to_dict() == SAMPLE
    assert json.loads(report.to_json()) == SAMPLE
    assert report.to_json() == json.dumps(SAMPLE, ensure_ascii=False, separators=(",", ":"))
    assert Report.from_json(report.to_json(indent=2)) == report


def test_round_trip_of_a_report_serialized_by_the_core(images) -> None:
    """The private `open` batch job serializes a real core `Report` (no
    rules run): what Python reads and writes back is byte-identical."""
    [(_, text, exc)] = list(snapaudit._native._batch([str(images.gpt)], 1, "open"))
    assert exc is None
    r = Report.from_json(text)
    assert r.to_json() == text
    assert r.profile == "open"  # never mistaken for an audit
    assert [p["role"] for p in r.disk["partitions"]] == [None, None, "root"]


def test_verdict_and_severity_lists(report: Report) -> None:
    assert report.verdict == "fail" and not report.passed
    assert [f.rule for f in report.errors] == ["fstab.data-disk"]
    assert [f.rule for f in report.warnings] == ["secret.aws-key"]
    assert [f.rule for f in report.infos] == ["os.release"]
    assert report.path == "disk.raw"
    assert repr(report) == "<Report 'disk.raw' alibaba-ecs: fail (1 error, 1 warning, 1 info)>"


def test_finding_fields_and_repr(report: Report) -> None:
    f = report.findings[0]
    assert (f.rule, f.severity, f.partition, f.path, f.line, f.offset_bytes) == ("fstab.data-disk", "error", 1, "/etc/fstab", 4, 123456)
    assert str(f.location) == "p1:/etc/fstab:4"
    assert repr(f).startswith("Finding(rule='fstab.data-disk', severity='error', partition=1, path='/etc/fstab', line=4,")
    assert report.findings[1].vendor and report.findings[1].location.length_bytes == 20
    assert str(report.findings[2].location) == "-"
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.rule = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.error = "x"  # type: ignore[misc]


def test_unknown_severity_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        Finding.from_dict({"rule": "r", "severity": "fatal", "message": "m", "location": {}})


def test_failed_report() -> None:
    failed = dict(SAMPLE, findings=[], summary={"errors": 0, "warnings": 0, "infos": 0, "verdict": "error"}, error="cannot open")
    r = Report.from_dict(failed, exception=FileNotFoundError("x"))
    assert r.verdict == "error" and not r.passed and r.error == "cannot open"
    assert isinstance(r.exception, FileNotFoundError)
    assert r.to_dict() == failed  # the exception is not part of the JSON
    assert "error: cannot open" in repr(r)
    assert "could not be audited: cannot open" in r._repr_html_()


def test_repr_html_escapes_every_cell() -> None:
    hostile = dict(
        SAMPLE,
        findings=[
            {
                "rule": "x<b>",
                "severity": "error",
                "message": "<script>alert(1)</script>",
                "location": {"path": "/tmp/<img src=x>&\"'"},
                "evidence": "</td></tr></table>",
                "remediation": "a & b",
            }
        ],
    )
    hostile["image"] = {"path": "<evil>.raw", "size_bytes": 1, "format": "raw"}
    html = Report.from_dict(hostile)._repr_html_()
    for raw in ("<script>", "<img", "</td></tr></table>", "<evil>", "x<b>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "/tmp/&lt;img src=x&gt;&amp;&quot;&#x27;" in html
    assert "a &amp; b" in html
    assert html.count("<tr") == 2  # header and one finding


def test_repr_html_lists_findings_in_order(report: Report) -> None:
    html = report._repr_html_()
    assert html.index("fstab.data-disk") < html.index("secret.aws-key") < html.index("os.release")
    assert "p1:/etc/fstab:4" in html


def test_to_pandas_types(report: Report) -> None:
    pd = pytest.importorskip("pandas")
    df = report.to_pandas()
    assert list(df.columns) == [
        "rule", "severity", "message", "partition", "path", "line",
        "offset_bytes", "evidence", "remediation", "vendor",
    ]  # fmt: skip
    assert len(df) == len(report.findings) == 3
    sev = df["severity"].dtype
    assert isinstance(sev, pd.CategoricalDtype) and sev.ordered
    assert list(sev.categories) == ["info", "warning", "error"]
    assert df["severity"].max() == "error"
    for col in ("partition", "line", "offset_bytes"):
        assert df[col].dtype == pd.Int64Dtype(), col
    for col in ("rule", "message", "path", "evidence", "remediation"):
        assert isinstance(df[col].dtype, pd.StringDtype), col
    assert df["vendor"].dtype == bool
    assert df["line"].tolist()[0] == 4 and df["line"].isna().tolist() == [False, True, True]
    assert df["vendor"].tolist() == [False, True, False]
    assert df.loc[df["severity"] >= "warning", "rule"].tolist() == ["fstab.data-disk", "secret.aws-key"]


def test_to_pandas_of_an_empty_report_keeps_the_types() -> None:
    pd = pytest.importorskip("pandas")
    empty = Report.from_dict(dict(SAMPLE, findings=[]))
    df = empty.to_pandas()
    assert len(df) == 0
    assert df["partition"].dtype == pd.Int64Dtype()
    assert isinstance(df["severity"].dtype, pd.CategoricalDtype)


def test_to_sarif_is_the_cli_rendering(images) -> None:
    import json
    import subprocess
    from pathlib import Path

    report = snapaudit.open(images.mbr).check(scan=False)
    sarif = json.loads(report.to_sarif())
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [f.rule for f in report.findings]
    root = Path(__file__).resolve().parents[2]
    cli = next(
        (root / "target" / p / "snapaudit" for p in ("debug", "release") if (root / "target" / p / "snapaudit").is_file()),
        None,
    )
    if cli is None:
        pytest.fail("the snapaudit CLI is not built: cargo build -p snapaudit-cli")
    out = subprocess.run(
        [str(cli), "check", "--no-scan", "--format", "sarif", str(images.mbr)], capture_output=True, text=True
    )
    cli_results = json.loads(out.stdout)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [r["ruleId"] for r in cli_results]


def test_summary_counts_are_singular_for_one() -> None:
    r = Report.from_dict(
        {
            "schema": "snapaudit.report/1",
            "image": {"path": "d", "size_bytes": 1, "format": "raw"},
            "profile": "p",
            "findings": [],
            "summary": {"errors": 1, "warnings": 2, "infos": 0, "verdict": "fail"},
        }
    )
    assert "1 error, 2 warnings, 0 infos" in repr(r)
    assert "1 error, 2 warnings, 0 infos" in r._repr_html_()


def test_dir_shows_only_the_api() -> None:
    assert set(dir(snapaudit)) == set(snapaudit.__all__)
    assert "os" not in dir(snapaudit) and "_batch" not in dir(snapaudit)


def test_repr_html_colours_severities_and_folds_evidence(report: Report) -> None:
    from snapaudit._report import SEVERITY_COLOURS

    html = report._repr_html_()
    for f in report.findings:
        assert f'<tr class="snapaudit-{f.severity}">' in html
        assert f"color:{SEVERITY_COLOURS[f.severity]}" in html
    with_evidence = [f for f in report.findings if f.evidence]
    assert with_evidence, "the sample report has evidence to fold"
    assert html.count("<details>") >= len(with_evidence)


def test_check_many_reports_progress(images) -> None:
    seen: list[tuple[int, int, str]] = []
    paths = [images.mbr, images.gpt]
    reports = list(
        snapaudit.check_many(paths, workers=2, scan=False, progress=lambda d, t, r: seen.append((d, t, r.path)))
    )
    assert [(d, t) for d, t, _ in seen] == [(1, 2), (2, 2)]
    assert sorted(p for _, _, p in seen) == sorted(r.path for r in reports)
