"""The decoder process's side: confine itself, run one function, send back what came of it.

Run as ``python -m actors.media.child FD`` by :mod:`actors.media.isolation`, one process per job. It
reads one pickled :class:`Request` on stdin. Before touching the input it caps its own address space
(``RLIMIT_AS``: a file that balloons a decoder gets ``MemoryError`` or a failed allocation, not the
machine's memory) and its CPU time (a backstop that ends it even with nobody left to kill it), and
asks to die with its parent (Linux), so no decoder outlives the server.

It answers on file descriptor ``FD`` (not stdout, where a library may print) with length-prefixed
pickles: :class:`Progressed` messages, then exactly one :class:`Returned`,
:class:`~actors.media.blame.Refused` or :class:`~actors.media.blame.Faulted`. A child that dies
without answering is judged by its exit status, in the parent.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import signal
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from actors.media.blame import judge

PROGRESS_STEP = 0.1
"""Progress is reported in steps of at least this much: ~10 messages a job, not one per frame."""
PR_SET_PDEATHSIG = 1
HEADER = struct.Struct(">I")
"""Each message on the answer pipe: its length, then its pickle."""


@dataclass(frozen=True, slots=True)
class Request:
    fn: Callable[..., Any]
    """A module-level function (pickled by reference)."""
    args: tuple[Any, ...]
    memory_bytes: int
    cpu_s: int
    progress: bool
    """Hand ``fn`` a progress callback as its last argument."""


@dataclass(frozen=True, slots=True)
class Progressed:
    fraction: float


@dataclass(frozen=True, slots=True)
class Returned:
    value: Any


class Throttled:
    """The progress callback handed to a decoder: sends a fraction only once it moved enough."""

    def __init__(self, send: Callable[[object], None]) -> None:
        self._send = send
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        if fraction - self._last >= PROGRESS_STEP:
            self._last = fraction
            self._send(Progressed(fraction))


def confine(request: Request) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (request.memory_bytes, request.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (request.cpu_s, request.cpu_s + 1))
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def answer(out: BinaryIO, request: Request) -> None:
    def send(message: object) -> None:
        payload = pickle.dumps(message)
        out.write(HEADER.pack(len(payload)) + payload)
        out.flush()

    confine(request)
    try:
        value = request.fn(*request.args, Throttled(send)) if request.progress else request.fn(*request.args)
    except Exception as exc:
        send(judge(exc))
    else:
        send(Returned(value))


if __name__ == "__main__":
    # Through the module, not this __main__ copy of it: messages must pickle as actors.media.child.*
    from actors.media import child

    with os.fdopen(int(sys.argv[1]), "wb") as answers:
        child.answer(answers, pickle.load(sys.stdin.buffer))
