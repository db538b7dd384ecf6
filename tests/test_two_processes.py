"""Two ``viora serve`` processes sharing one database and one Redis: live pushes cross processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
from live import ADMIN_TOKEN, PASSWORD, ServerProcess, http_get, next_push, serve_process, subscribe
from pgtools import scratch_database
from redistools import reachable_redis_url, scratch_prefix

from viora.client import Client


@pytest.fixture
def two_servers(embedded_pg_admin_dsn: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    url = reachable_redis_url()
    with scratch_prefix(url) as prefix, scratch_database(embedded_pg_admin_dsn) as dsn:
        env = {"VIORA_REDIS_URL": url, "VIORA_REDIS_PREFIX": prefix}
        with serve_process(dsn, **env) as a, serve_process(dsn, **env) as b:
            yield a, b


async def test_a_follower_on_one_process_gets_pushes_from_an_author_on_another(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    async with Client.connect(a.ws_url) as reader, Client.connect(b.ws_url) as author:
        r = await reader.request("auth.register", {"username": "reader", "password": PASSWORD})
        w = await author.request("auth.register", {"username": "writer", "password": PASSWORD})
        await subscribe(reader, "notifications")
        await subscribe(reader)

        await author.request("follow", {"user_id": r["user_id"]})  # a notification, from b to a
        notified = await next_push(reader, "notifications")
        assert (notified.body["kind"], notified.body["actor_id"]) == ("follow", w["user_id"])

        await reader.request("follow", {"user_id": w["user_id"]})
        posted = (await author.request("post.create", {"text": "from process b"}))["post"]
        pushed = await next_push(reader)
        assert (pushed.type, pushed.seq, pushed.body["post"]["id"]) == ("post.created", 1, posted["id"])

    status, tree = await trio.to_thread.run_sync(http_get, a.http_url + "/admin/tree", ADMIN_TOKEN)
    bus = next(child for child in tree["children"] if child["name"] == "bus")
    assert status == 200 and bus["received"] >= 2 and bus["delivered"] >= 2 and bus["errors"] == 0


async def test_signing_out_everywhere_closes_the_sockets_on_every_process(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    async with Client.connect(a.ws_url) as here, Client.connect(b.ws_url) as there:
        signed = await here.request("auth.register", {"username": "leaver", "password": PASSWORD})
        await there.request("auth.resume", {"token": signed["token"]})
        assert await here.request("auth.logout", {"all": True}) == {"revoked": 1}
        with trio.fail_after(10):
            code, reason = await there.wait_closed()
        assert (code, reason) == (4001, "signed out everywhere")
