"""Whose fault an exception raised while decoding is: the input's, or the machine's.

Everything a decoder raises on a file is the file's fault — Pillow's ``SyntaxError`` on a junk EXIF
block, an FFmpeg error, an ``IndexError`` deep in a parser, our own checks — because the same bytes
raise the same way on every attempt, so retrying only burns attempts. The exceptions are the
machine's failures (a full or failing disk, no file descriptors left): those may pass, so the job is
retried. Memory exhaustion is the file's fault here, since each decode runs under its own memory
limit (see :mod:`actors.media.child`).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from kernel.errors import MediaRejected, Rejection

MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EMFILE, errno.ENFILE})
"""``OSError`` numbers that say the machine failed, not the file."""
MESSAGE_CHARS = 200
_PATH = re.compile(r"/[^\s'\"]+")


@dataclass(frozen=True, slots=True)
class Refused:
    """The input is at fault: the job ends ``failed`` with this reason."""

    code: Rejection
    message: str

    def error(self) -> MediaRejected:
        return MediaRejected(self.code, self.message)


@dataclass(frozen=True, slots=True)
class Faulted:
    """The machine failed: the job is retried."""

    message: str


def judge(exc: BaseException) -> Refused | Faulted:
    if isinstance(exc, MediaRejected):
        return Refused(exc.code, exc.message)
    if isinstance(exc, MemoryError):
        return Refused(Rejection.TOO_LARGE, "decoding needs more memory than a job may use")
    if isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS:
        return Faulted(f"{type(exc).__name__}: {describe(exc)}")
    return Refused(
        Rejection.CORRUPT, f"the file could not be decoded ({type(exc).__name__}: {describe(exc)})"
    )


def describe(exc: BaseException) -> str:
    """The exception's own words, without file paths (a server path is no business of the
    uploader's) and short enough for a reason shown to users."""
    text = str(getattr(exc, "strerror", None) or exc).strip().partition("\n")[0] or "no detail"
    return _PATH.sub("<file>", text)[:MESSAGE_CHARS]
