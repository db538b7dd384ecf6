"""Fixtures shared by all suites: one embedded PostgreSQL per run, and live servers on it."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from live import ADMIN_TOKEN, PASSWORD, ServerProcess, run_server_process
from pgtools import embedded_cluster, scratch_database
from redistools import reachable_redis_url, scratch_prefix

from kernel.config import Settings
from ml.tiny import TINY_CONFIG, TINY_MODEL
from viora.client import Client
from viora.runtime import Runtime
from viora.server import serve

pytest_plugins = ("frames", "pytester")
"""``frames``: every frame a test's Client receives is checked against the protocol registry."""


@pytest.fixture(scope="session")
def embedded_pg_admin_dsn() -> Iterator[str]:
    """One embedded PostgreSQL cluster (pgserver) for the whole run; tests use scratch databases."""
    with embedded_cluster() as dsn:
        yield dsn


@pytest.fixture
def server_settings(embedded_pg_admin_dsn: str) -> Iterator[Settings]:
    with scratch_database(embedded_pg_admin_dsn) as dsn, tempfile.TemporaryDirectory() as data_dir:
        yield Settings(
            data_dir=Path(data_dir),
            pg_dsn=dsn,
            port=0,
            admin_token=ADMIN_TOKEN,
            heartbeat_interval_s=30.0,
            heartbeat_timeout_s=90.0,
            clip_model=TINY_MODEL,  # plumbing tests: the tiny random-init CLIP, built in ~0.3 s
            vector_dim=TINY_CONFIG["embed_dim"],
        )


@pytest.fixture
async def server(server_settings: Settings, nursery: trio.Nursery) -> Runtime:
    """A live server (hypercorn + the whole tree) on an ephemeral port; cancelled after the test."""
    return await nursery.start(
        lambda task_status: serve(server_settings, handle_signals=False, task_status=task_status)
    )


def ws_url(runtime: Runtime) -> str:
    assert runtime.http_url is not None
    return runtime.http_url.replace("http://", "ws://", 1) + "/ws"


@pytest.fixture
def connect(server: Runtime) -> Callable[..., AbstractAsyncContextManager[Client]]:
    """``async with connect() as client`` opens a real websocket to the test server."""

    def open_client(**kwargs: Any) -> AbstractAsyncContextManager[Client]:
        return Client.connect(ws_url(server), **kwargs)

    return open_client


@pytest.fixture
def signup(
    connect: Callable[..., AbstractAsyncContextManager[Client]],
) -> Callable[..., AbstractAsyncContextManager[tuple[Client, dict[str, Any]]]]:
    """``async with signup("alice") as (client, reply)``: a socket signed in as a new account."""

    @asynccontextmanager
    async def open_signed_up(
        username: str, password: str = PASSWORD
    ) -> AsyncIterator[tuple[Client, dict[str, Any]]]:
        async with connect() as client:
            reply = await client.request("auth.register", {"username": username, "password": password})
            yield client, reply

    return open_signed_up


@pytest.fixture(scope="session")
def server_process(embedded_pg_admin_dsn: str) -> Iterator[ServerProcess]:
    """One server process for the run; tests that kill it must start their own."""
    with run_server_process(
        embedded_pg_admin_dsn,
        VIORA_MALFORMED_LIMIT="1000000",
        VIORA_RATE_PER_S="100000",
        VIORA_RATE_BURST="100000",
    ) as server:
        yield server


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis (skipped without one, failed under CI=true: see ``redistools``)."""
    return reachable_redis_url()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    with scratch_prefix(redis_url) as prefix:
        yield prefix
