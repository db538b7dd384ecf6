"""Helpers for tests that talk to a live server over HTTP or run it as a process (no fixtures here)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pgtools import scratch_database

from ml.tiny import TINY_CONFIG, TINY_MODEL
from viora.client import Client, ServerError

ADMIN_TOKEN = f"test-admin-{secrets.token_hex(8)}"
"""Random per test run: a server of another run that took a port we probed cannot pass as ours."""
PASSWORD = "correct horse battery"


def http_get(url: str, token: str | None = None) -> tuple[int, Any]:
    """Blocking GET returning (status, decoded JSON); run it with ``trio.to_thread.run_sync``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@dataclass
class ServerProcess:
    """``viora serve`` running as a real OS process (for fuzzing, the CLI and signal shutdown)."""

    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@contextmanager
def run_server_process(admin_dsn: str, **env_overrides: str) -> Iterator[ServerProcess]:
    """``viora serve`` on a scratch database of its own."""
    with scratch_database(admin_dsn) as dsn, serve_process(dsn, **env_overrides) as server:
        yield server


@contextmanager
def serve_process(dsn: str, **env_overrides: str) -> Iterator[ServerProcess]:
    """``viora serve`` on database ``dsn`` (several processes may share one), with a data dir and a
    port of its own; ready (``/readyz``) when this yields, terminated after.

    The port is probed free, then bound by the server: another program may take it in between.
    A server that then fails to bind is started again on another port, and readiness is checked
    with this run's admin token, so another run's server on the port is never taken for ours.
    """
    with tempfile.TemporaryDirectory() as data_dir:
        for attempt in range(PORT_ATTEMPTS):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            env = {
                **os.environ,
                "VIORA_DATA_DIR": data_dir,
                "VIORA_PG_DSN": dsn,
                "VIORA_PORT": str(port),
                "VIORA_ADMIN_TOKEN": ADMIN_TOKEN,
                "VIORA_CLIP_MODEL": TINY_MODEL,
                "VIORA_VECTOR_DIM": str(TINY_CONFIG["embed_dim"]),
                "HF_HUB_OFFLINE": "1",
                **env_overrides,
            }
            process = subprocess.Popen([sys.executable, "-m", "viora.cli", "serve"], env=env)
            server = ServerProcess(process, port, env)
            try:
                if _wait_ready(server):
                    yield server
                    return
            finally:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=15)
            if attempt + 1 == PORT_ATTEMPTS:
                raise RuntimeError(f"viora serve exited with {process.returncode}")


PORT_ATTEMPTS = 3
READY_TIMEOUT_S = 90.0
"""A generous bound: a loaded 2-core CI box has needed more than 30 s to start a server."""


def _wait_ready(server: ServerProcess) -> bool:
    """True once ``server`` answers as ours; False if it exited (say, its port was taken)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:  # waiting on another process: polling is the only signal there is
        if server.process.poll() is not None:
            return False
        try:
            ready = http_get(server.http_url + "/readyz")[0] == 200
            if ready and http_get(server.http_url + "/admin/stats", ADMIN_TOKEN)[0] == 200:
                return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"viora serve did not become ready in {READY_TIMEOUT_S:g} s")
        time.sleep(0.1)


# --------------------------------------------------------------------------- protocol helpers


async def expect_error(code: str, awaitable: Any) -> None:
    with pytest.raises(ServerError) as caught:
        await awaitable
    assert caught.value.code == code, caught.value


async def subscribe(client: Client, stream: str = "home", after: int | None = 0) -> dict[str, Any]:
    body: dict[str, Any] = {"stream": stream}
    if after is not None:
        body["after"] = after
    return await client.request("stream.resume", body)


async def next_push(client: Client, stream: str = "home") -> Any:
    event = await client.next_event()
    while event.kind != "push" or event.stream != stream:
        event = await client.next_event()
    return event
