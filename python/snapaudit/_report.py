"""Reports and findings: the Python face of the ``snapaudit.report/1`` JSON.

A report crosses from Rust as the same JSON the CLI prints, so a report from
``Image.check``, from ``check_many`` and from ``Report.from_json(line)`` of a
saved CLI run are the same object, and ``to_dict()`` gives that JSON back.
"""

from __future__ import annotations

import copy
import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence, cast

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas

__all__ = ["Finding", "Location", "Report", "SEVERITIES", "Severity"]

Severity = Literal["info", "warning", "error"]

#: Severities from least to most severe (the order of the pandas categorical).
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")

#: Top-level keys of ``snapaudit.report/1``, in the order the CLI writes them.
_REPORT_KEYS = ("schema", "image", "profile", "disk", "system", "findings", "summary", "stats", "error")

#: ``_repr_html_`` shows at most this many findings; ``to_pandas()`` has all.
#: Colours of the severity cell in the notebook table.
SEVERITY_COLOURS = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
HTML_MAX_ROWS = 200


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Location:
    """Where a finding is. Every field is optional."""

    partition: int | None = None
    #: Path inside the filesystem, or ``unallocated``.
    path: str | None = None
    #: 1-based line number in the file.
    line: int | None = None
    #: Byte offset in the image (not in the partition).
    offset_bytes: int | None = None
    #: Length of the matched data, for scanner matches.
    length_bytes: int | None = None
    #: LVM2 logical volume (``vg/lv``) the finding is in; ``partition`` is
    #: then the partition of the volume's first byte.
    volume: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Location:
        return cls(
            partition=_opt_int(d.get("partition")),
            path=d.get("path"),
            line=_opt_int(d.get("line")),
            offset_bytes=_opt_int(d.get("offset_bytes")),
            length_bytes=_opt_int(d.get("length_bytes")),
            volume=d.get("volume"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (absent fields left out, as the CLI writes them)."""
        items = (
            ("partition", self.partition),
            ("volume", self.volume),
            ("path", self.path),
            ("line", self.line),
            ("offset_bytes", self.offset_bytes),
            ("length_bytes", self.length_bytes),
        )
        return {k: v for k, v in items if v is not None}

    def __str__(self) -> str:
        """``p1:/etc/fstab:4``, ``vg0/root:/etc/fstab:4``, ``p2@1048576``, or ``-``
        when nowhere."""
        parts = []
        if self.volume is not None:
            parts.append(self.volume)
        elif self.partition is not None:
            parts.append(f"p{self.partition}")
        if self.path is not None:
            parts.append(self.path if self.line is None else f"{self.path}:{self.line}")
        where = ":".join(parts)
        if self.path is None and self.offset_bytes is not None:
            where += f"@{self.offset_bytes}"
        return where or "-"


@dataclass(frozen=True)
class Finding:
    """One thing the audit found. Evidence is always redacted by the core."""

    #: Stable rule id from RULES.md, e.g. ``fstab.data-disk``.
    rule: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    evidence: str | None = None
    remediation: str | None = None
    #: A match in an unchanged file installed by the package manager.
    vendor: bool = False
    #: Stable identity (rule, location, evidence digest; never the secret):
    #: what ``snapaudit check --baseline`` accepts findings by.
    fingerprint: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        severity = d["severity"]
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r} (expected one of {', '.join(SEVERITIES)})")
        return cls(
            rule=d["rule"],
            severity=cast(Severity, severity),
            message=d["message"],
            location=Location.from_dict(d.get("location") or {}),
            evidence=d.get("evidence"),
            remediation=d.get("remediation"),
            vendor=bool(d.get("vendor", False)),
            fingerprint=d.get("fingerprint"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, key for key as the CLI writes it."""
        d: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "location": self.location.to_dict(),
        }
        if self.evidence is not None:
            d["evidence"] = self.evidence
        if self.remediation is not None:
            d["remediation"] = self.remediation
        if self.vendor:
            d["vendor"] = True
        if self.fingerprint is not None:
            d["fingerprint"] = self.fingerprint
        return d

    # Shortcuts to the location, which is what a notebook filters on.
    @property
    def partition(self) -> int | None:
        return self.location.partition

    @property
    def path(self) -> str | None:
        return self.location.path

    @property
    def line(self) -> int | None:
        return self.location.line

    @property
    def offset_bytes(self) -> int | None:
        return self.location.offset_bytes

    def __repr__(self) -> str:
        fields: list[tuple[str, Any]] = [("rule", self.rule), ("severity", self.severity)]
        fields += [(k, v) for k, v in self.location.to_dict().items()]
        fields.append(("message", self.message))
        if self.evidence is not None:
            fields.append(("evidence", self.evidence))
        if self.vendor:
            fields.append(("vendor", True))
        return "Finding(" + ", ".join(f"{k}={v!r}" for k, v in fields) + ")"


@dataclass(frozen=True, eq=True)
class Report:
    """One audit of one image (``snapaudit.report/1``).

    A report of an image that could not be audited has ``verdict == "error"``,
    the message in ``error`` and, when it came from this process, the
    exception itself in ``exception`` (``FileNotFoundError``,
    ``CorruptImageError``, …).
    """

    schema: str
    image: Mapping[str, Any] = field(hash=False)
    profile: str
    disk: Mapping[str, Any] = field(hash=False)
    system: Mapping[str, Any] | None = field(hash=False)
    findings: tuple[Finding, ...]
    summary: Mapping[str, Any] = field(hash=False)
    stats: Mapping[str, Any] = field(hash=False, compare=False)
    error: str | None = None
    #: Keys of a newer schema that this version does not know, kept so that
    #: ``to_dict()`` gives back what was read.
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)
    exception: BaseException | None = field(default=None, compare=False, hash=False, repr=False)

    # -- construction -----------------------------------------------------

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, exception: BaseException | None = None) -> Report:
        d = copy.deepcopy(dict(d))
        return cls(
            schema=d["schema"],
            image=d["image"],
            profile=d["profile"],
            disk=d.get("disk") or {"table": "none", "partitions": []},
            system=d.get("system"),
            findings=tuple(Finding.from_dict(f) for f in d.get("findings") or ()),
            summary=d["summary"],
            stats=d.get("stats") or {},
            error=d.get("error"),
            extra={k: v for k, v in d.items() if k not in _REPORT_KEYS},
            exception=exception,
        )

    @classmethod
    def from_json(cls, text: str | bytes, *, exception: BaseException | None = None) -> Report:
        """A report from one JSON object, e.g. one line of ``snapaudit check --format json``."""
        return cls.from_dict(json.loads(text), exception=exception)

    # -- what a notebook asks ---------------------------------------------

    @property
    def path(self) -> str:
        """The image the report is about."""
        return str(self.image.get("path", ""))

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` (at least one error finding) or ``error``
        (the image could not be audited)."""
        return str(self.summary.get("verdict", ""))

    @property
    def passed(self) -> bool:
        return self.error is None and not self.errors

    @property
    def errors(self) -> list[Finding]:
        """Findings of severity ``error``."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "info"]

    # -- conversions ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The ``snapaudit.report/1`` JSON object, as the CLI writes it."""
        d: dict[str, Any] = {
            "schema": self.schema,
            "image": copy.deepcopy(dict(self.image)),
            "profile": self.profile,
            "disk": copy.deepcopy(dict(self.disk)),
        }
        if self.system is not None:
            d["system"] = copy.deepcopy(dict(self.system))
        d["findings"] = [f.to_dict() for f in self.findings]
        d["summary"] = copy.deepcopy(dict(self.summary))
        d["stats"] = copy.deepcopy(dict(self.stats))
        if self.error is not None:
            d["error"] = self.error
        d.update(copy.deepcopy(dict(self.extra)))
        return d

    def to_json(self, indent: int | None = None) -> str:
        """JSON text; compact (like the CLI's one-line-per-image output) by default."""
        if indent is None:
            return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def to_sarif(self) -> str:
        """SARIF 2.1.0 text of this report, as ``snapaudit check --format
        sarif`` writes it (code scanning, IDEs). Fingerprints go into
        ``partialFingerprints``; evidence stays redacted."""
        from ._native import _to_sarif

        return _to_sarif(json.dumps([self.to_dict()]))

    def to_pandas(self) -> pandas.DataFrame:
        """One row per finding, with typed columns: ``severity`` is an ordered
        categorical (info < warning < error), ``partition``/``line``/
        ``offset_bytes`` are nullable ``Int64``, text columns are ``string``,
        ``vendor`` is ``bool``. Needs pandas (``pip install snapaudit[pandas]``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Report.to_pandas() needs pandas: pip install 'snapaudit[pandas]'") from None
        fs = self.findings

        def text(values: Sequence[str | None]) -> Any:
            return pd.array(list(values), dtype="string")

        def ints(values: Sequence[int | None]) -> Any:
            return pd.array(list(values), dtype="Int64")

        return pd.DataFrame(
            {
                "rule": text([f.rule for f in fs]),
                "severity": pd.Categorical([f.severity for f in fs], categories=list(SEVERITIES), ordered=True),
                "message": text([f.message for f in fs]),
                "partition": ints([f.location.partition for f in fs]),
                "path": text([f.location.path for f in fs]),
                "line": ints([f.location.line for f in fs]),
                "offset_bytes": ints([f.location.offset_bytes for f in fs]),
                "evidence": text([f.evidence for f in fs]),
                "remediation": text([f.remediation for f in fs]),
                "vendor": pd.array([f.vendor for f in fs], dtype="bool"),
            }
        )

    # -- display ----------------------------------------------------------

    def __repr__(self) -> str:
        if self.error is not None:
            return f"<Report {self.path!r} {self.profile}: error: {self.error}>"
        return f"<Report {self.path!r} {self.profile}: {self.verdict} ({self._counts()})>"

    def _counts(self) -> str:
        """``1 error, 2 warnings, 0 infos`` (singular for one)."""
        s = self.summary
        parts = []
        for key, one in (("errors", "error"), ("warnings", "warning"), ("infos", "info")):
            n = int(s.get(key, 0))
            parts.append(f"{n} {one if n == 1 else key}")
        return ", ".join(parts)

    def _repr_html_(self) -> str:
        """A table for Jupyter. Every value from the image is HTML-escaped:
        file names, messages and evidence are attacker-controlled text."""
        e = html.escape
        head = (
            f"<p><b>{e(self.path)}</b> &middot; profile {e(self.profile)} &middot; "
            f"verdict <b>{e(self.verdict)}</b>"
        )
        if self.error is not None:
            return f'<div class="snapaudit-report">{head}</p><p>could not be audited: {e(self.error)}</p></div>'
        head += f" &middot; {e(self._counts())}</p>"
        columns = ("severity", "rule", "location", "message", "evidence", "remediation")
        rows = []
        for f in self.findings[:HTML_MAX_ROWS]:
            # The severity cell is coloured; evidence and remediation fold
            # into <details> so that long ones do not swamp the table.
            colour = SEVERITY_COLOURS.get(f.severity, "inherit")
            sev = f'<td style="color:{colour};font-weight:bold">{e(f.severity)}</td>'
            plain = "".join(f"<td>{e(c)}</td>" for c in (f.rule, str(f.location), f.message))
            folded = "".join(
                f"<td><details><summary>{e(c[:40])}{'…' if len(c) > 40 else ''}</summary>{e(c)}</details></td>"
                if c
                else "<td></td>"
                for c in (f.evidence or "", f.remediation or "")
            )
            rows.append(f'<tr class="snapaudit-{e(f.severity)}">{sev}{plain}{folded}</tr>')
        more = len(self.findings) - HTML_MAX_ROWS
        if more > 0:
            rows.append(f'<tr><td colspan="{len(columns)}">… {more} more findings (see to_pandas())</td></tr>')
        table = (
            "<table><thead><tr>"
            + "".join(f"<th>{c}</th>" for c in columns)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )
        return f'<div class="snapaudit-report">{head}{table}</div>'
