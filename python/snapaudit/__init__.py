"""snapaudit: audit VM disk snapshots offline, from Python.

    >>> import snapaudit
    >>> img = snapaudit.open("disk.raw")
    >>> img.partitions
    >>> fs = img.root()
    >>> fs.read("/etc/fstab"); fs.listdir("/etc"); fs.stat("/etc/shadow")
    >>> report = img.check(profile="alibaba-ecs", scan=True)
    >>> report.to_pandas()
    >>> for report in snapaudit.check_many(paths, workers=8): ...
    >>> img.sanitize("clean.raw", report=report)   # a fixed, scrubbed copy

Every call into the native core releases the GIL; images are opened
read-only (memory-mapped unless ``mmap=False``) and never modified
(``Image.sanitize`` writes a new file, or the image itself only with
``in_place=True``).
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator, Union

from ._errors import (
    CorruptImageError,
    ImageNotFoundError,
    InternalError,
    InvalidInputError,
    SnapauditError,
    UnsupportedError,
)
from ._native import (
    DEFAULT_READ_MAX_BYTES,
    Filesystem,
    Image,
    Partition,
    Stat,
    Volume,
    __version__,
    open,
)
from ._native import _batch
from ._report import SEVERITIES, Finding, Location, Report, Severity
from ._sanitize import Action, FreeBlocks, NotFixable, Refusal, Sanitized

__all__ = [
    "Action",
    "CorruptImageError",
    "DEFAULT_READ_MAX_BYTES",
    "Filesystem",
    "Finding",
    "FreeBlocks",
    "Image",
    "ImageNotFoundError",
    "InternalError",
    "InvalidInputError",
    "Location",
    "NotFixable",
    "Partition",
    "Refusal",
    "Report",
    "SEVERITIES",
    "Sanitized",
    "Severity",
    "SnapauditError",
    "Stat",
    "UnsupportedError",
    "Volume",
    "__version__",
    "check_many",
    "open",
]

StrPath = Union[str, "os.PathLike[str]"]


def __dir__() -> list[str]:
    # dir(snapaudit) shows the API, not the helpers this module imports.
    return sorted(__all__)


def check_many(
    paths: Iterable[StrPath],
    *,
    workers: int | None = None,
    profile: str = "alibaba-ecs",
    scan: bool = True,
    progress: Callable[[int, int, Report], object] | None = None,
) -> Iterator[Report]:
    """Audit many images in parallel, yielding one ``Report`` per image in
    the order they complete (``report.path`` says which image).

    ``progress(done, total, report)`` is called as each image finishes,
    before its report is yielded: for a progress bar, e.g.
    ``bar = tqdm(total=len(paths)); progress=lambda d, t, r: bar.update(1)``.

    ``workers`` Rust threads (default: the number of CPUs) each take the next
    image and audit it on that one thread, so ``workers`` is the number of
    cores the batch keeps busy; Python only turns each finished report into
    a ``Report``. (``Image.check`` on a single image uses every core.) An image
    that cannot be audited yields a report with ``verdict == "error"``, the
    message in ``report.error`` and the exception in ``report.exception``;
    the batch goes on. Stopping the iteration early stops the workers after
    the images they are on.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        # One path would otherwise be iterated character by character.
        raise TypeError("check_many takes a list of paths; use Image.check for one image")
    items = [os.fspath(p) for p in paths]
    batch = _batch(items, workers, "check", profile, scan)
    for done, (_index, report_json, exception) in enumerate(batch, start=1):
        report = Report.from_json(report_json, exception=exception)
        if progress is not None:
            progress(done, len(items), report)
        yield report
