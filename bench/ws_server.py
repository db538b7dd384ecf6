"""Start and stop a throwaway ``viora serve`` for one benchmark run, and read its /admin/stats.

The data dir is kept between runs (under ``bench/results/``, git-ignored): the benchmark users and
their cached tokens live in its database, and registering thousands of users again would cost
minutes of argon2. The server *process* is fresh each run, so its RSS and loop lag are this run's.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServerHandle:
    """A running server: where its websocket and admin API are, and its pid (for py-spy)."""

    ws_url: str
    http_url: str
    admin_token: str
    pid: int | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_stats(http_url: str, admin_token: str, *, reset_peak_lag: bool = False) -> dict[str, Any]:
    """GET /admin/stats; with ``reset_peak_lag`` the server starts a new peak after answering."""
    query = "?reset_peak_lag=1" if reset_peak_lag else ""
    req = urllib.request.Request(
        f"{http_url}/admin/stats{query}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)


def http_url_of(ws_url: str) -> str:
    """``ws://host:port/ws`` -> ``http://host:port`` (the admin API shares the listener)."""
    scheme, rest = ws_url.split("://", 1)
    return ("https" if scheme == "wss" else "http") + "://" + rest.split("/", 1)[0]


@contextmanager
def spawned_server(
    data_dir: Path, log_path: Path, *, module: str = "viora.cli", env: dict[str, str] | None = None
) -> Iterator[ServerHandle]:
    """Run ``viora serve`` on a free port until the block ends, then SIGTERM it and wait.

    ``module`` may name a launcher that wraps ``viora.cli`` (``bench.fanout_trace``); ``env`` adds
    variables (``VIORA_*`` settings, the launcher's own)."""
    port = free_port()
    token = secrets.token_urlsafe(24)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "VIORA_DATA_DIR": str(data_dir),
        "VIORA_PORT": str(port),
        "VIORA_ADMIN_TOKEN": token,
        **(env or {}),
    }
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    handle = ServerHandle(f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}", token, proc.pid)
    try:
        wait_ready(handle, proc)
        yield handle
    finally:
        stop(proc)


def wait_ready(handle: ServerHandle, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{handle.http_url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S:g}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful: closes sockets, stops embedded PostgreSQL); SIGKILL only as a last resort."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
