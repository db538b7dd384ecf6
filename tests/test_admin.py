"""Operators' view: health endpoints, the admin tree (token-protected), ``viora tree``, shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import trio
from live import ADMIN_TOKEN, ServerProcess, http_get, run_server_process

from kernel.config import Settings
from viora.client import Client
from viora.runtime import Runtime


async def get(runtime: Runtime, path: str, token: str | None = None) -> tuple[int, Any]:
    assert runtime.http_url is not None
    return await trio.to_thread.run_sync(http_get, runtime.http_url + path, token)


def child(tree: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in tree["children"] if c["name"] == name)


async def test_health_and_readiness(server: Runtime) -> None:
    assert await get(server, "/healthz") == (200, {"status": "ok"})
    assert await get(server, "/readyz") == (200, {"status": "ready", "problems": []})


async def test_readiness_fails_when_the_database_is_gone(server: Runtime, server_settings: Settings) -> None:
    server.stores.db.pool.close()  # as if the database vanished under us
    status, body = await get(server, "/readyz")
    assert status == 503 and body["problems"] == ["database unreachable"]
    assert (await get(server, "/healthz"))[0] == 200


async def test_the_admin_tree_needs_the_admin_token(server: Runtime) -> None:
    assert (await get(server, "/admin/tree"))[0] == 401
    assert (await get(server, "/admin/tree", "wrong-token"))[0] == 403
    status, tree = await get(server, "/admin/tree", ADMIN_TOKEN)
    assert status == 200 and tree["path"] == "/viora"
    names = [c["name"] for c in tree["children"]]
    assert names[0] == "loop-probe" and names[-1] == "http", "http starts last so it stops first"
    assert {"sessions", "feed", "heartbeats"} <= set(names)


async def test_the_admin_tree_shows_live_figures(
    signup: Any, server: Runtime, server_settings: Settings
) -> None:
    async with signup("olga") as (client, reply):
        for n in range(3):
            await client.request("echo", {"data": n})
        _, tree = await get(server, "/admin/tree", ADMIN_TOKEN)
    sessions = child(tree, "sessions")
    (user,) = sessions["children"]
    assert user["name"] == f"user:{reply['user_id']}"
    assert user["path"] == f"/viora/sessions/user:{reply['user_id']}"
    assert (user["kind"], user["state"], user["restarts"]) == ("actor", "running", 0)
    assert user["mailbox"] == {"depth": 0, "capacity": server_settings.session_mailbox, "waiting_senders": 0}
    assert user["processed"] == 4, "one attach notice and three echo requests"
    assert user["sockets"] == 1
    heartbeats = child(tree, "heartbeats")
    assert heartbeats["sockets"] == 1
    assert child(tree, "loop-probe")["loop_lag_ms"]["peak"] >= 0


def test_viora_tree_renders_a_running_server(server_process: ServerProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "viora.cli", "tree", "--url", server_process.http_url, "--token", ADMIN_TOKEN],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("viora [supervisor] running restarts=0")
    assert any(line.startswith("  sessions [supervisor] running") for line in lines)
    assert any(line.startswith("  http [worker] running") for line in lines)
    refused = subprocess.run(
        [sys.executable, "-m", "viora.cli", "tree", "--url", server_process.http_url, "--token", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 1 and "HTTP 403" in refused.stderr


async def test_sigterm_closes_sockets_with_1001_and_exits_cleanly(embedded_pg_admin_dsn: str) -> None:
    with run_server_process(embedded_pg_admin_dsn) as server:
        async with Client.connect(server.ws_url) as client:
            await client.request("ping")
            server.process.send_signal(signal.SIGTERM)
            assert await client.wait_closed() == (1001, "server shutting down")
        returncode = await trio.to_thread.run_sync(lambda: server.process.wait(timeout=20))
        assert returncode == 0
