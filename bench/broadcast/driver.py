"""One workload against one server: the Node load driver, with the server's CPU read around it.

``clients.mjs`` connects every client first and says ``ready``; only then are the server's CPU
counters read and ``go`` written, and they are read again as soon as it reports ``done``. So the
CPU figure covers exactly the workload (sending, relaying, receiving, draining the last messages)
and none of the connecting.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from bench.broadcast.peers import Peers
from bench.broadcast.servers import CpuSample, Server

DRIVER_LIMIT_S = 600.0
"""The driver has its own stall watchdog; this only ends a driver that hangs outright."""


@dataclass(frozen=True)
class Workload:
    """What ``clients.mjs`` runs (its config, minus where to connect and with which tokens)."""

    workload: str
    """``broadcast`` (closed loop for ``duration_s``) or ``fanout`` (``count`` single messages)."""
    clients: int
    payload_bytes: int
    duration_s: float
    window: int
    rate: float
    count: int
    pause_ms: float
    connect_concurrency: int
    stall_ms: float

    def as_config(self) -> dict[str, Any]:
        """The fields under the names ``clients.mjs`` reads (camelCase)."""
        return {_camel(key): value for key, value in asdict(self).items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Credentials:
    """Ours: the followed account's token (the sender) and one token per receiver."""

    sender: str
    receivers: list[str]


def run_workload(
    peers: Peers,
    server: Server,
    workload: Workload,
    credentials: Credentials | None = None,
    during: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> dict[str, Any]:
    """Run ``workload`` against ``server``; ``during`` wraps the measured part (e.g. a profiler)."""
    config_path = _write_config(peers.scratch, server, workload, credentials)
    log_path = peers.scratch / f"clients-{server.name}-{workload.workload}.log"
    command = [peers.node, str(peers.script("clients.mjs")), str(config_path)]
    try:
        with (
            open(log_path, "wb") as log,
            subprocess.Popen(
                command,
                cwd=peers.scratch,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            ) as driver,
        ):
            watchdog = threading.Timer(DRIVER_LIMIT_S, driver.kill)
            watchdog.start()
            try:
                return _measure(driver, server, during, log_path)
            finally:
                watchdog.cancel()
    finally:
        config_path.unlink(missing_ok=True)  # it holds sign-in tokens


def _measure(
    driver: subprocess.Popen[str],
    server: Server,
    during: Callable[[], AbstractContextManager[object]],
    log_path: Path,
) -> dict[str, Any]:
    assert driver.stdin is not None and driver.stdout is not None
    ready = _expect(driver.stdout, "ready", log_path)
    server.stats(reset_peak_lag=True)
    with during():
        before = server.cpu()
        driver.stdin.write("go\n")
        driver.stdin.flush()
        done = _expect(driver.stdout, "done", log_path)
        used = server.cpu() - before
    stats = server.stats()
    driver.wait(30)
    return {**_connect_figures(ready), **_without_event(done), **cpu_figures(used, done), **_lag(stats)}


def _write_config(scratch: Path, server: Server, workload: Workload, credentials: Credentials | None) -> Path:
    config = {**workload.as_config(), "kind": server.client_kind, "url": server.url}
    if credentials is not None:
        config |= {"senderToken": credentials.sender, "receiverTokens": credentials.receivers}
    path = scratch / f"clients-{server.name}-{workload.workload}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out)
    return path


def _expect(stdout: IO[str], event: str, log_path: Path) -> dict[str, Any]:
    """The driver's next event line; it must be ``event`` (a ``failed`` or EOF raises)."""
    for line in stdout:
        message = json.loads(line)
        if message.get("event") == event:
            return message
        if message.get("event") == "failed":
            raise RuntimeError(f"load driver failed: {message.get('error')} (log: {log_path})")
    raise RuntimeError(f"load driver exited before '{event}' (log: {log_path})")


def _connect_figures(ready: dict[str, Any]) -> dict[str, Any]:
    return {
        "connected": ready["connected"],
        "connect_failed": ready["connect_failed"],
        "connect_failures_sample": ready["connect_failures"],
        "connect_s": ready["connect_s"],
    }


def _without_event(done: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in done.items() if key != "event"}


def cpu_figures(used: CpuSample, done: dict[str, Any]) -> dict[str, Any]:
    """Server CPU figures of a workload from the CPU it ``used`` and the driver's ``done`` report."""
    deliveries = done["deliveries"]
    messages = done["sent"] - done["refused"]
    total = used.total_s
    return {
        "server_cpu_s": round(total, 3),
        "server_cpu_process_s": round(used.process_s, 3),
        "server_cpu_database_s": round(used.database_s, 3),
        "server_cpu_busy": round(total / done["elapsed_s"], 3) if done["elapsed_s"] else None,
        "deliveries_per_cpu_s": round(deliveries / total, 1) if total > 0 else None,
        "server_cpu_us_per_delivery": round(total * 1e6 / deliveries, 1) if deliveries else None,
        "server_cpu_ms_per_message": round(total * 1e3 / messages, 2) if messages else None,
    }


def _lag(stats: dict[str, Any]) -> dict[str, Any]:
    if not stats:
        return {}
    return {
        "server_loop_lag_ms": stats.get("loop_lag_ms"),
        "server_rss_mib": round(stats["rss_bytes"] / 2**20, 1),
    }
