"""Exception classes raised by snapaudit.

Failures of the host OS keep their usual classes: a path that does not exist
inside the image is ``FileNotFoundError``, no permission is
``PermissionError``, reading a directory is ``IsADirectoryError``, listing a
file is ``NotADirectoryError`` (all with ``.filename`` set). A missing image
file (or a missing backing file) is ``ImageNotFoundError``: both a
``FileNotFoundError`` and a ``SnapauditError``, so either ``except`` catches
it.
"""

from __future__ import annotations

__all__ = [
    "SnapauditError",
    "CorruptImageError",
    "UnsupportedError",
    "InvalidInputError",
    "InternalError",
    "ImageNotFoundError",
]


class SnapauditError(Exception):
    """Base class of snapaudit's own errors.

    ``offset`` is the byte offset in the image where the problem was found,
    when known, else ``None``.
    """

    offset: int | None

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class CorruptImageError(SnapauditError):
    """The image contradicts its own format (``offset`` says where)."""


class UnsupportedError(SnapauditError):
    """Valid input that snapaudit does not handle (yet), e.g. an XFS root."""


class InvalidInputError(SnapauditError, ValueError):
    """The arguments do not fit the image (no such partition, a file over the
    read cap, a relative path). Also a ``ValueError``, since it is one."""


class InternalError(SnapauditError):
    """A bug in snapaudit (a Rust panic, caught before it could abort)."""


class ImageNotFoundError(SnapauditError, FileNotFoundError):
    """The image file (or a file of its backing chain) does not exist.

    Constructed like ``OSError``: ``(errno, strerror, filename)``."""

    def __init__(self, errno: int, strerror: str, filename: str | None = None) -> None:
        FileNotFoundError.__init__(self, errno, strerror, filename)
        self.offset = None

    def __str__(self) -> str:
        return FileNotFoundError.__str__(self)
