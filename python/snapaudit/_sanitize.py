"""What ``Image.sanitize`` did: the Python face of ``snapaudit.sanitize/1``.

    >>> result = img.sanitize("clean.raw", report=img.check())
    >>> for action in result.actions: print(action.op, action.description)
    >>> result.not_fixable          # findings that need a person, with the reason
    >>> result.output, result.method

The document is the one ``snapaudit sanitize --format json`` prints, so
``Sanitized.from_json(line)`` reads a saved CLI run too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from ._report import Finding

__all__ = ["Action", "FreeBlocks", "NotFixable", "Refusal", "Sanitized"]


@dataclass(frozen=True)
class Action:
    """One change the sanitizer makes to the image."""

    #: ``comment-out``, ``redact``, ``wipe``, ``truncate``, ``delete``,
    #: ``zero-range`` or ``zero-free-space``.
    op: str
    #: Partition of the filesystem changed (0 = the whole disk).
    partition: int
    description: str
    #: Bytes written, zeroed or freed.
    bytes: int
    path: str | None = None
    inode: int | None = None
    #: The findings this action fixes.
    fixes: tuple[Finding, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Action:
        return cls(
            op=d["op"],
            partition=int(d["partition"]),
            description=d["description"],
            bytes=int(d.get("bytes", 0)),
            path=d.get("path"),
            inode=d.get("inode"),
            fixes=tuple(Finding.from_dict(f) for f in d.get("fixes") or ()),
        )


@dataclass(frozen=True)
class NotFixable:
    """A finding the sanitizer leaves to a person, and why."""

    finding: Finding
    reason: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NotFixable:
        return cls(finding=Finding.from_dict(d["finding"]), reason=d["reason"])


@dataclass(frozen=True)
class Refusal:
    """A filesystem the sanitizer will not touch (nothing was written)."""

    partition: int
    reason: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Refusal:
        return cls(partition=int(d["partition"]), reason=d["reason"])


@dataclass(frozen=True)
class FreeBlocks:
    """Free blocks of one ext filesystem and how many still hold data."""

    partition: int
    block_size_bytes: int
    free_blocks: int
    nonzero_free_blocks: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FreeBlocks:
        return cls(
            partition=int(d["partition"]),
            block_size_bytes=int(d["block_size_bytes"]),
            free_blocks=int(d["free_blocks"]),
            nonzero_free_blocks=int(d["nonzero_free_blocks"]),
        )


def _free_blocks(value: Any) -> tuple[FreeBlocks, ...] | None:
    return None if value is None else tuple(FreeBlocks.from_dict(s) for s in value)


@dataclass(frozen=True)
class Sanitized:
    """The plan and, unless ``plan_only``, what was written."""

    #: The input image.
    image: str
    actions: tuple[Action, ...]
    not_fixable: tuple[NotFixable, ...]
    refused: tuple[Refusal, ...]
    #: ``None`` for a plan only.
    outcome: Mapping[str, Any] | None = field(default=None, hash=False)
    free_blocks_before: tuple[FreeBlocks, ...] | None = None
    free_blocks_after: tuple[FreeBlocks, ...] | None = None
    _raw: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sanitized:
        plan = d["plan"]
        return cls(
            image=plan["image"],
            actions=tuple(Action.from_dict(a) for a in plan.get("actions") or ()),
            not_fixable=tuple(NotFixable.from_dict(n) for n in plan.get("not_fixable") or ()),
            refused=tuple(Refusal.from_dict(r) for r in plan.get("refused") or ()),
            outcome=d.get("outcome"),
            free_blocks_before=_free_blocks(d.get("free_blocks_before")),
            free_blocks_after=_free_blocks(d.get("free_blocks_after")),
            _raw=d,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Sanitized:
        """From one ``snapaudit.sanitize/1`` JSON object."""
        return cls.from_dict(json.loads(text))

    @property
    def written(self) -> bool:
        """Whether an image was written (not a plan only, not refused)."""
        return self.outcome is not None

    @property
    def output(self) -> str | None:
        """The sanitized image's path, once written."""
        return None if self.outcome is None else str(self.outcome["output"])

    @property
    def method(self) -> str | None:
        """How the copy was made: ``reflink``, ``copy-file-range``,
        ``read-write`` or ``in-place``."""
        return None if self.outcome is None else str(self.outcome["method"])

    def to_dict(self) -> dict[str, Any]:
        """The ``snapaudit.sanitize/1`` JSON object."""
        copy: dict[str, Any] = json.loads(json.dumps(self._raw))
        return copy

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self._raw, indent=indent)

    def __repr__(self) -> str:
        state = f"written to {self.output!r}" if self.written else ("refused" if self.refused else "plan only")
        return (
            f"<snapaudit.Sanitized {self.image!r}: {len(self.actions)} actions, "
            f"{len(self.not_fixable)} not fixable, {state}>"
        )
