"""Decoding in a child process per job: a decoder that hangs or balloons is killed, not the server.

PyAV and Pillow decode in C; a hostile file can make them spin, allocate without end or crash the
process, and no Python-level timeout stops a C loop in a thread. So each decode runs in a process of
its own (``python -m actors.media.child``) — as Mastodon runs ffmpeg — under a memory limit and a
CPU-time backstop, and is killed when it overruns its wall-clock budget or when the job is
cancelled. A fresh interpreter, not a fork of this multi-threaded server (forking it is unsafe) nor
multiprocessing (its children re-run the program's main script): it costs ~0.1 s of start-up and
imports a job, small next to decoding a photo (~0.2 s) and nothing next to a video.

What comes of a run:

* the function's value;
* :class:`~kernel.errors.MediaRejected` — the input is at fault (it raised, it ran past its budget,
  it ran out of its memory, or it crashed the decoder with a signal such as ``SIGSEGV``);
* :class:`~kernel.errors.Fault` — the machine failed (disk full, the child killed by someone else):
  worth another attempt.
"""

from __future__ import annotations

import math
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import trio

from actors.media import child
from actors.media.blame import Faulted, Refused
from kernel.errors import Fault, MediaRejected, Rejection

T = TypeVar("T")

DECODER_CRASHES = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
"""Signals a decoder dies of by itself on a bad input (as opposed to being killed from outside)."""
EXIT_GRACE_S = 5.0
"""How long a child that answered (or closed its pipe) may take to exit before it is killed."""


class Isolation:
    """Runs functions of an input in killable child processes, at most ``cpu`` of them at once."""

    def __init__(self, cpu: trio.CapacityLimiter, memory_bytes: int) -> None:
        self._cpu = cpu
        self._memory_bytes = memory_bytes

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout_s: float,
        progress: trio.MemorySendChannel[float] | None = None,
    ) -> T:
        """``fn(*args)`` in a child (``fn`` and its arguments must pickle: module-level functions).

        With ``progress``, ``fn`` gets a progress callback as its last argument, and the fractions
        it reports arrive on that channel (dropped when it is full: the next one is newer news).
        """
        request = child.Request(fn, args, self._memory_bytes, math.ceil(timeout_s) + 1, progress is not None)
        async with self._cpu:
            answer, exit_code, overran = await _supervise(pickle.dumps(request), timeout_s, progress)
        if overran:
            raise MediaRejected(Rejection.TOO_LONG, f"processing took longer than {timeout_s:g} s")
        if isinstance(answer, child.Returned):
            value: T = answer.value
            return value
        if isinstance(answer, Refused):
            raise answer.error()
        if isinstance(answer, Faulted):
            raise Fault(answer.message)
        raise _silent_death(exit_code)


async def _supervise(
    request: bytes, timeout_s: float, progress: trio.MemorySendChannel[float] | None
) -> tuple[object, int | None, bool]:
    """Start the child, read its messages until its answer or its end, kill it if it overruns (or
    if we are cancelled). Returns its answer (``None`` if it ended without one), its exit code and
    whether it overran."""
    read_fd, write_fd = os.pipe()
    try:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", child.__name__, str(write_fd)],
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            # The child imports what this process imports, from wherever it was started.
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    answer: object = None
    answered = False
    try:
        async with trio.lowlevel.FdStream(read_fd) as answers:
            with trio.move_on_after(timeout_s) as budget:
                assert process.stdin is not None  # opened with stdin=PIPE
                async with process.stdin:
                    with suppress(trio.BrokenResourceError):  # it died first: its exit code tells
                        await process.stdin.send_all(request)
                answer = await _read_answer(_Frames(answers), progress)
                answered = True
    finally:
        with trio.CancelScope(shield=True):
            await _reap(process, EXIT_GRACE_S if answered else 0.0)
    return answer, process.returncode, budget.cancelled_caught


async def _reap(process: trio.Process, grace_s: float) -> None:
    """Let the child exit within ``grace_s``, else kill it; wait for it either way."""
    with trio.move_on_after(grace_s):
        await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


class _Frames:
    """Reads the child's length-prefixed messages off its answer pipe."""

    def __init__(self, stream: trio.lowlevel.FdStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def next(self) -> object | None:
        """The next message, or ``None`` once the pipe is closed."""
        header = await self._take(child.HEADER.size)
        if header is None:
            return None
        (length,) = child.HEADER.unpack(header)
        payload = await self._take(length)
        return None if payload is None else pickle.loads(payload)

    async def _take(self, count: int) -> bytes | None:
        while len(self._buffer) < count:
            chunk = await self._stream.receive_some()
            if not chunk:
                return None
            self._buffer += chunk
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken


async def _read_answer(frames: _Frames, progress: trio.MemorySendChannel[float] | None) -> object:
    while True:
        message = await frames.next()
        if not isinstance(message, child.Progressed):
            return message
        if progress is not None:
            with suppress(trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                progress.send_nowait(message.fraction)


def _silent_death(exit_code: int | None) -> MediaRejected | Fault:
    """Why a child ended without an answer, judged by how it ended."""
    if exit_code is not None and exit_code < 0:
        sig = signal.Signals(-exit_code)
        if sig in DECODER_CRASHES:
            return MediaRejected(Rejection.CORRUPT, f"the decoder crashed on this file ({sig.name})")
        if sig is signal.SIGXCPU:
            return MediaRejected(Rejection.TOO_LONG, "processing used up its CPU time")
        return Fault(f"the decoder process was killed ({sig.name})")
    return MediaRejected(
        Rejection.CORRUPT, f"the decoder process ended without an answer (status {exit_code})"
    )
