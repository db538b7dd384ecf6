"""``viora load``: the load tester drives seeded users over websockets and in process, and reports
what it saw (connections held, operations by type, live deliveries, errors)."""

from __future__ import annotations

import io

import pytest
import trio

from viora.load.mix import parse_mix, stamp_age, stamped
from viora.load.progress import Progress, render_summary
from viora.load.runner import InProcessTarget, LoadPlan, SocketTarget, Target, run_load
from viora.load.seed import seed_population
from viora.runtime import Runtime

USERS = 6
PLAN = LoadPlan(users=USERS, rate=40.0, duration_s=1.5, warmup_s=0.0, mix=parse_mix("post=1,dm=1,timeline=1"))


async def run_small_load(runtime: Runtime, target: Target) -> dict:
    dsn = runtime.settings.pg_dsn
    assert dsn is not None
    tokens = await trio.to_thread.run_sync(seed_population, dsn, "lt", USERS, USERS - 1)
    return await run_load(PLAN, target, tokens, Progress(io.StringIO()))


def check_summary(summary: dict) -> None:
    assert summary["connections"] == {"target": USERS, "held": USERS, "failed": 0}
    assert summary["errors"] == {}
    assert set(summary["operations"]) == {"post", "dm", "timeline"}
    for op in summary["operations"].values():
        assert op["count"] > 0 and op["p50_ms"] is not None and op["p99_ms"] >= op["p50_ms"]
    # Everyone follows everyone else: each post reaches the other five, each message the partner.
    posts, messages = summary["operations"]["post"]["count"], summary["operations"]["dm"]["count"]
    assert summary["deliveries"]["post.created"]["count"] == posts * (USERS - 1)
    assert summary["deliveries"]["dm.message"]["count"] == messages
    assert "post.created" in render_summary(summary)


async def test_load_over_websockets_reports_operations_and_deliveries(server: Runtime) -> None:
    assert server.http_url is not None
    ws_url = server.http_url.replace("http://", "ws://", 1) + "/ws"
    summary = await run_small_load(server, SocketTarget([ws_url], server.admin_token))
    check_summary(summary)
    assert summary["server"][0]["loop_lag_ms"]["peak"] >= 0


async def test_load_in_process_drives_session_actors_without_sockets(server: Runtime) -> None:
    sockets_before = len(server.services.sockets)
    target = InProcessTarget(server)
    summary = await run_small_load(server, target)
    check_summary(summary)
    assert summary["target"].startswith("in process")
    assert len(server.services.sockets) == sockets_before, "pipes are closed when the run ends"


def test_mix_parsing_rejects_unknown_operations_and_stamps_round_trip() -> None:
    assert parse_mix("post=2,like") == {"post": 2.0, "like": 1.0}
    with pytest.raises(ValueError, match="unknown operation"):
        parse_mix("teleport=1")
    with pytest.raises(ValueError, match="positive weight"):
        parse_mix("post=0")
    age = stamp_age(stamped("hello"))
    assert age is not None and 0 <= age < 1
    assert stamp_age("no stamp here") is None
