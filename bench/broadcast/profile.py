"""Sample our server with py-spy during a broadcast, and say where its CPU goes per delivery.

py-spy runs with ``--nonblocking`` (it never pauses the server) and writes speedscope JSON (open it at
https://www.speedscope.app). py-spy leaves out threads that are not running, but counts a thread
that is runnable and waiting for a core as running, so on a busy 2-core box it samples more seconds
than the process spends on CPU. The summary therefore uses *shares* of the samples and scales them to
the CPU the kernel counted for the server process over the same broadcast (PostgreSQL is a separate
process: measured by the run, invisible to py-spy). It folds the samples three ways:

* **by layer**: walking each stack from the sampled frame outwards, the first frame that belongs to
  a known layer (socket syscalls, websocket framing, trio's scheduler, the database driver, ...).
  Leaf-first on purpose: with ``--nonblocking`` some coroutine stacks come back truncated at the
  top, so the outer frames (which task it was) are not always there, but the inner ones are;
* **by thread**: the event loop's thread against the worker threads (DB calls, indexing), from py-spy,
  and exactly from the kernel's per-thread counters;
* **hot functions**: our own functions most often on the stack (inclusive), and the sampled frames
  themselves (self).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

SAMPLE_RATE_HZ = 100
ATTACH_S = 1.0


@dataclass(frozen=True)
class Layer:
    """A layer of the server: a frame belongs to it when its ``path:function`` contains a marker."""

    name: str
    markers: tuple[str, ...]


LAYERS = (
    # Checked in this order for each frame, innermost frame first.
    Layer("socket syscalls (send/recv; the kernel's loopback TCP work)", ("_nonblocking_helper",)),
    Layer("epoll (waiting for and collecting I/O events)", ("EpollIOManager",)),
    Layer(
        "websocket/HTTP framing: ours (edges/websocket, its writes included), hypercorn, h11",
        ("edges/websocket/", "edges/port.py", "hypercorn/", "wsproto/", "h11/"),
    ),
    Layer("msgpack and the protocol codec", ("msgpack", "protocol/")),
    Layer(
        "content indexing (CLIP text embedding, moderation, vectors)",
        ("torch/", "numpy/", "sklearn/", "scipy/", "open_clip/", "ml/", "actors/embedder/", "qdrant"),
    ),
    Layer("database calls (psycopg, the store code)", ("psycopg", "stores/")),
    Layer(
        "thread hand-off (trio.to_thread, worker threads between jobs)",
        ("_thread_cache.py", "trio/_threads.py", "_entry_queue.py", "_wakeup_socketpair.py"),
    ),
    Layer("trio scheduling (task switches, channels, cancel scopes, locks)", ("trio/", "outcome/")),
    Layer(
        "Viora code (connections, actors, sessions, feed, services)",
        ("edges/", "services/", "actors/", "supervisor.py", "viora/"),
    ),
)
OTHER = "other (standard library, ...)"
ENTRY_POINTS = ("viora/cli.py", "<frozen runpy>")
"""Frames on every main-thread stack: left out of the hot-function lists."""


@dataclass
class Folded:
    """Sample weights (seconds) folded by layer, thread and function."""

    total: float = 0.0
    layers: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)


@contextmanager
def py_spy_record(py_spy: Path, pid: int, output: Path) -> Iterator[None]:
    """Record ``pid`` for the duration of the block (SIGINT makes py-spy write its file and exit)."""
    command = [
        str(py_spy), "record", "--pid", str(pid), "--rate", str(SAMPLE_RATE_HZ), "--nonblocking",
        "--format", "speedscope", "--output", str(output),
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(ATTACH_S)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if not output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')[-500:]}")


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system seconds of each live thread of ``pid`` (the event loop's thread id is ``pid``)."""
    try:
        return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}
    except psutil.NoSuchProcess:
        return {}


def split_threads(pid: int, before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    """CPU seconds of the event loop's thread and of all the others between two readings.

    Threads that exited in between are missing from ``after`` (their last seconds are lost), so the
    worker figure is a lower bound; the process total from :mod:`bench.broadcast.servers` is exact.
    """
    used = {tid: seconds - before.get(tid, 0.0) for tid, seconds in after.items()}
    main = used.pop(pid, 0.0)
    return {"event_loop_thread_cpu_s": round(main, 3), "other_threads_cpu_s": round(sum(used.values()), 3)}


def summarise(
    speedscope: Path, project_root: Path, process_cpu_us_per_delivery: float | None
) -> dict[str, Any]:
    """Fold a py-spy speedscope file into layer, thread and function shares (see module doc)."""
    data = json.loads(speedscope.read_text())
    labels = [_frame_label(frame, project_root) for frame in data["shared"]["frames"]]
    folded = Folded()
    for profile in data["profiles"]:
        thread = _thread_name(profile["name"])
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            _fold(folded, thread, [labels[i] for i in stack], weight)
    return {
        "sampled_s": round(folded.total, 2),
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "by_layer": _per_delivery(_shares(folded.layers, folded.total), process_cpu_us_per_delivery),
        "by_thread": _shares(folded.threads, folded.total),
        "hot_functions_inclusive": _shares(folded.inclusive, folded.total, top=20),
        "hot_functions_self": _shares(folded.leaves, folded.total, top=20),
    }


def _fold(folded: Folded, thread: str, stack: list[str], weight: float) -> None:
    folded.total += weight
    folded.threads[thread] += weight
    folded.layers[_layer(stack)] += weight
    if stack:
        folded.leaves[stack[-1]] += weight
    for label in set(stack):
        if not label.startswith(ENTRY_POINTS) and _is_ours(label):
            folded.inclusive[label] += weight


def _layer(stack: list[str]) -> str:
    for label in reversed(stack):
        for layer in LAYERS:
            if any(marker in label for marker in layer.markers):
                return layer.name
    return OTHER


def _is_ours(label: str) -> bool:
    return label.split("/", 1)[0].split(":", 1)[0] in {
        "actors",
        "viora",
        "stores",
        "protocol",
        "supervisor.py",
    }


def _frame_label(frame: dict[str, Any], project_root: Path) -> str:
    """``path:function``, the path relative to site-packages or to the project where it lies there."""
    path = frame.get("file") or "?"
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif path.startswith(str(project_root)):
        path = path[len(str(project_root)) + 1 :]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{path}:{frame.get('name', '?')}"


def _thread_name(profile_name: str) -> str:
    """py-spy names each profile ``Thread <tid> "<name>"``; pool threads differ only by a number."""
    name = profile_name.split('"')[1] if '"' in profile_name else profile_name
    return name.rstrip("0123456789").rstrip() or name


def _shares(counts: Counter[str], total: float, top: int | None = None) -> list[dict[str, Any]]:
    return [
        {"name": name, "share": round(n / total, 4) if total else None} for name, n in counts.most_common(top)
    ]


def _per_delivery(rows: list[dict[str, Any]], us_per_delivery: float | None) -> list[dict[str, Any]]:
    for row in rows:
        if us_per_delivery is not None and row["share"] is not None:
            row["process_cpu_us_per_delivery"] = round(row["share"] * us_per_delivery, 1)
    return rows
