"""The three servers under test: start and stop them, where clients connect, and the CPU they used.

CPU is read from the kernel's per-process counters (user + system, via psutil), summed over the
server process, its threads and its child processes (``children_*`` counts children that have exited
and been reaped, so nothing that ran inside the tree is lost between two readings). Our embedded
PostgreSQL is *not* in that tree: ``pg_ctl`` daemonizes the postmaster, which is re-parented to
init, so its tree is found through ``postmaster.pid`` in the data dir and counted separately. The
figure per server is therefore everything the server needed to do the work, database included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.broadcast.peers import PYTHON_SERVER, Peers
from bench.fanout_seed import embedded_dsn
from bench.ws_server import ServerHandle, fetch_stats, free_port, spawned_server

READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU seconds at one instant: the server's process tree, and its database's."""

    process_s: float
    database_s: float

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(self.process_s - other.process_s, self.database_s - other.database_s)

    def __add__(self, other: CpuSample) -> CpuSample:
        return CpuSample(self.process_s + other.process_s, self.database_s + other.database_s)

    @property
    def total_s(self) -> float:
        return self.process_s + self.database_s


@dataclass(frozen=True)
class Server:
    """One running server under test."""

    name: str
    description: str
    client_kind: str
    """``viora`` or ``socketio``: which client ``clients.mjs`` speaks to it."""
    url: str
    pid: int
    postmaster_pid: int | None = None
    handle: ServerHandle | None = None
    dsn: str | None = None

    def cpu(self) -> CpuSample:
        database = tree_cpu_seconds(self.postmaster_pid) if self.postmaster_pid else 0.0
        return CpuSample(tree_cpu_seconds(self.pid), database)

    def stats(self, *, reset_peak_lag: bool = False) -> dict[str, Any]:
        """Ours only: ``/admin/stats`` (loop lag, RSS, connections)."""
        if self.handle is None:
            return {}
        return fetch_stats(self.handle.http_url, self.handle.admin_token, reset_peak_lag=reset_peak_lag)

    def tree(self) -> Any:
        """Ours only: ``/admin/tree`` (actor mailboxes and counters)."""
        if self.handle is None:
            return None
        request = urllib.request.Request(
            f"{self.handle.http_url}/admin/tree",
            headers={"Authorization": f"Bearer {self.handle.admin_token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)


def tree_cpu_seconds(pid: int) -> float:
    """User + system seconds of ``pid`` and its descendants, including reaped children."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            t = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


# --------------------------------------------------------------------------- ours


@contextmanager
def viora_server(scratch: Path, env: dict[str, str]) -> Iterator[Server]:
    """A fresh ``viora serve`` on embedded defaults (plus ``env``), with a new data dir each run.

    Why fresh: a kept database would carry the last run's posts, and the indexer re-queues
    unindexed recent posts at start-up, which would spend CPU during this run's measurements.
    """
    data_dir = scratch / "viora-data"
    log = scratch / "viora-server.log"
    _stop_leftover_postgres(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    log.unlink(missing_ok=True)
    with spawned_server(data_dir, log, env=env) as handle:
        assert handle.pid is not None
        yield Server(
            name="viora",
            description="Viora (viora serve, Trio + hypercorn, embedded PostgreSQL 16)",
            client_kind="viora",
            url=handle.ws_url,
            pid=handle.pid,
            postmaster_pid=_postmaster_pid(data_dir),
            handle=handle,
            dsn=embedded_dsn(data_dir),
        )


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _stop_leftover_postgres(data_dir: Path) -> None:
    """A run killed hard may leave its embedded PostgreSQL running on the data dir we remove."""
    if not (data_dir / "postgres" / "postmaster.pid").exists():
        return
    try:
        process = psutil.Process(_postmaster_pid(data_dir))
        if process.name() != "postgres":
            return
        process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
        process.wait(30)
    except (psutil.NoSuchProcess, ValueError):
        pass


# --------------------------------------------------------------------------- the peers


@contextmanager
def node_socketio_server(peers: Peers) -> Iterator[Server]:
    port = free_port()
    command = [peers.node, str(peers.script("socketio_server.mjs")), str(port)]
    with _running(command, peers.scratch / "node-socketio.log", cwd=peers.scratch) as process:
        _wait_port(port, process)
        yield Server(
            name="node-socketio",
            description=f"Node {peers.versions['node']} + socket.io {peers.versions['npm:socket.io']}",
            client_kind="socketio",
            url=f"http://127.0.0.1:{port}",
            pid=process.pid,
        )


@contextmanager
def python_socketio_server(peers: Peers) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, str(PYTHON_SERVER), "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(peers.python_path)}
    with _running(command, peers.scratch / "python-socketio.log", env=env) as process:
        _wait_port(port, process)
        versions = peers.versions
        yield Server(
            name="python-socketio",
            description=(
                f"python-socketio {versions.get('pip:python-socketio', '?')} on uvicorn"
                f" {versions.get('pip:uvicorn', '?')} (ASGI, uvloop)"
            ),
            client_kind="socketio",
            url=f"http://127.0.0.1:{port}",
            pid=process.pid,
        )


@contextmanager
def _running(command: list[str], log: Path, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (output to ``log``) until the block ends, then SIGTERM it and wait."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} was not listening on {port} within {READY_TIMEOUT_S:g}s")
