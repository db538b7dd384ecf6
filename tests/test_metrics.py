"""``GET /metrics``: Prometheus text scraped from a live server after real websocket traffic."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import trio
from live import ADMIN_TOKEN
from prometheus_client.parser import text_string_to_metric_families

from edges.http.metrics import batch_size_buckets
from edges.ws.sockets import SocketRegistry
from kernel.config import Settings
from viora.runtime import Runtime

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None) -> tuple[int, str]:
    """Blocking GET of the text body (``live.http_get`` decodes JSON, which this is not)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def get_metrics(runtime: Runtime, token: str | None = ADMIN_TOKEN) -> tuple[int, str]:
    assert runtime.http_url is not None
    return await trio.to_thread.run_sync(scrape, runtime.http_url + "/metrics", token)


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def test_metrics_need_the_admin_token(server: Runtime) -> None:
    assert (await get_metrics(server, None))[0] == 401
    assert (await get_metrics(server, "wrong-token"))[0] == 403


async def test_metrics_show_live_figures_after_traffic(
    signup: Any, server: Runtime, server_settings: Settings
) -> None:
    async with signup("mira") as (client, reply):
        for n in range(3):
            await client.request("echo", {"data": n})
        status, text = await get_metrics(server)
    assert status == 200
    found = samples(text)
    assert value(found, "viora_connections_open") == 1
    assert value(found, "viora_messages_in_total") >= 4, "sign-up and three echoes"
    assert value(found, "viora_messages_out_total") >= 4, "their four replies"
    session = {"path": f"/viora/sessions/user:{reply['user_id']}", "kind": "actor"}
    assert value(found, "viora_actor_messages_handled_total", **session) == 4, "attach notice and 3 echoes"
    assert value(found, "viora_actor_mailbox_capacity", **session) == server_settings.session_mailbox
    assert value(found, "viora_actor_mailbox_depth", **session) == 0
    assert value(found, "viora_actor_restarts_total", **session) == 0
    assert value(found, "viora_indexer_backlog") == 0
    assert (
        value(found, "viora_embedder_queue_capacity", path="/viora/embedder")
        == server_settings.embedder_queue
    )
    assert ("viora_embedder_batch_size_count", frozenset({("path", "/viora/embedder")})) in found
    for lag in ("viora_event_loop_lag_seconds", "viora_event_loop_lag_p99_seconds"):
        assert value(found, lag) >= 0
    assert value(found, "viora_event_loop_lag_peak_seconds") >= value(found, "viora_event_loop_lag_seconds")
    assert {name for name, _ in found if name == "viora_media_jobs_total"}, "dispatcher outcomes exported"


@dataclass(eq=False)
class FakeSocket:
    """Only what ``SocketRegistry.add`` and ``frame_totals`` read."""

    frames_in: int
    frames_out: int
    peer: str | None = None
    outbox_bytes: int = 0


def test_closed_sockets_stay_in_the_message_totals() -> None:
    registry = SocketRegistry(Settings())
    first, second = FakeSocket(frames_in=3, frames_out=5), FakeSocket(frames_in=1, frames_out=2)
    registry.add(first)  # type: ignore[arg-type]
    registry.add(second)  # type: ignore[arg-type]
    assert registry.frame_totals() == (4, 7)
    registry.discard(first)  # type: ignore[arg-type]
    registry.discard(first)  # type: ignore[arg-type]  # twice: counted once
    second.frames_in += 1
    assert registry.frame_totals() == (5, 7)
    assert len(registry) == 1


def test_batch_sizes_become_cumulative_buckets() -> None:
    buckets = batch_size_buckets({"1": 3, "5": 2, "32": 1}, max_batch=32)
    assert buckets == [
        ("1", 3.0),
        ("2", 3.0),
        ("4", 3.0),
        ("8", 5.0),
        ("16", 5.0),
        ("32", 6.0),
        ("+Inf", 6.0),
    ]
