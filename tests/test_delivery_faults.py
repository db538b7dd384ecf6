"""Faults that stay local: live delivery never fails a publisher, and a crash's pending fan-outs
are taken at start-up (only when no other process could still be fanning them out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from live import PASSWORD, next_push, subscribe

from actors.feed.recovery import STUCK_AFTER_S, FanoutRecovery
from actors.session.directory import RESTART_WAIT_S
from actors.session.presence import PresenceActor, PresenceChanged
from kernel.config import Settings
from kernel.errors import ActorStopped
from stores.bus import Delivery
from stores.presence import InProcessPresence
from stores.social import Post
from supervisor import Backoff
from viora.client import Client
from viora.runtime import Runtime
from viora.server import serve


def restarts(node: dict[str, Any]) -> list[tuple[str, int]]:
    """Every node of the tree below ``node`` with its restart count."""
    found = []
    for child in node.get("children", []):
        found.append((child["path"], child["restarts"]))
        found.extend(restarts(child))
    return found


async def test_a_feed_actor_keeps_fanning_out_while_a_recipients_session_restarts(
    signup: Any, server: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Backoff, "delay", lambda self, recent: 60.0)  # restarts take a minute
    async with signup("joe") as (jo, j), signup("kai") as (kai, _):
        await kai.request("follow", {"user_id": j["user_id"]})
        await subscribe(kai)
        ref = await server.services.sessions.actor_for(j["user_id"])
        await ref.tell("a message no SessionActor understands")  # jo's session: restarting
        posted = (await jo.request("post.create", {"text": "while my session restarts"}))["post"]
        with trio.fail_after(RESTART_WAIT_S / 2):  # before: the fan-out waited 5 s on jo, then crashed
            push = await next_push(kai)
        assert push.body["post"]["id"] == posted["id"]
        assert not ref.alive, "jo's session is still restarting"
        tree = restarts(server.root.inspect())
        assert "/viora/feed/feed-0" in dict(tree) and all(n == 0 for _, n in tree), tree


class FailingBus:
    """A bus whose live delivery fails as a stopped session's did."""

    async def publish(self, delivery: Delivery) -> None:
        raise ActorStopped("/viora/sessions/user:2")

    async def alone(self) -> bool:
        return True


class Followers:
    async def follower_ids(self, user_id: int) -> list[int]:
        return [2]


async def test_the_presence_actor_counts_a_failed_broadcast_and_carries_on() -> None:
    actor = PresenceActor(InProcessPresence(), Followers(), FailingBus(), lambda user_id: True, 100)  # type: ignore[arg-type]
    await actor.handle(PresenceChanged(1))  # before: ActorStopped crashed the presence actor
    assert actor.inspect() == {"broadcasts": 0, "store_errors": 0, "undelivered": 1}


# ------------------------------------------------------------------------- start-up recovery


def ws_url(runtime: Runtime) -> str:
    assert runtime.http_url is not None
    return runtime.http_url.replace("http://", "ws://", 1) + "/ws"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Runtime]:
    """A server process's life: started on ``settings``, stopped when the block ends."""
    async with trio.open_nursery() as nursery:
        yield await nursery.start(
            lambda task_status: serve(settings, handle_signals=False, task_status=task_status)
        )
        nursery.cancel_scope.cancel()


async def test_posts_a_crash_left_pending_are_fanned_out_at_the_next_start_up(
    server_settings: Settings,
) -> None:
    async with serving(server_settings) as first:
        async with Client.connect(ws_url(first)) as author, Client.connect(ws_url(first)) as reader:
            a = await author.request("auth.register", {"username": "lou", "password": PASSWORD})
            r = await reader.request("auth.register", {"username": "moe", "password": PASSWORD})
            await reader.request("follow", {"user_id": a["user_id"]})
        # Acknowledged as post.create does, but the process went before its fan-out ran.
        lost = await first.stores.social.create_post(a["user_id"], "lost in a crash", (), None)
    async with serving(server_settings) as second, Client.connect(ws_url(second)) as reader:
        await reader.request("auth.resume", {"token": r["token"]})
        await subscribe(reader, after=0)
        with trio.fail_after(STUCK_AFTER_S / 6):  # before: not until the post was a minute old
            push = await next_push(reader)
        assert push.body["post"]["id"] == lost.id
        assert second.feed.recovery.recovered == 1


class Handed:
    """The FeedActors as a recovery sees them: posts handed over for fan-out."""

    def __init__(self) -> None:
        self.post_ids: list[int] = []

    async def __call__(self, post: Post) -> None:
        self.post_ids.append(post.id)


async def alone() -> bool:
    return True


async def not_alone() -> bool:
    return False


async def test_start_up_leaves_young_posts_alone_while_another_process_lives(
    server: Runtime, signup: Any
) -> None:
    async with signup("nia") as (_, n):
        post = await server.stores.social.create_post(n["user_id"], "on its way elsewhere", (), None)
        handed = Handed()
        recovery = FanoutRecovery(server.stores.fanout, server.stores.social, handed, not_alone)
        assert await recovery.take_orphans() == 0 and handed.post_ids == []
        recovery = FanoutRecovery(server.stores.fanout, server.stores.social, handed, alone)
        assert await recovery.take_orphans() == 1 and handed.post_ids == [post.id]


async def test_orphans_are_the_posts_pending_before_the_fence_whatever_their_claims(
    server: Runtime, signup: Any
) -> None:
    ledger, social = server.stores.fanout, server.stores.social
    async with signup("ozzy") as (_, o):
        author = o["user_id"]
        claimed = await social.create_post(author, "claimed by a sweeper that died", (), None)
        assert await ledger.claim_stuck(older_than_s=0, lease_s=3600, limit=10) == [claimed.id]
        young = await social.create_post(author, "pending, young", (), None)
        fence = await ledger.clock()
        later = await social.create_post(author, "created after the fence: a live process's", (), None)
        assert await ledger.claim_orphans(before=fence, limit=10) == [claimed.id, young.id]
        assert await ledger.claim_orphans(before=fence, limit=10) == [], "claimed after the fence: ours"
        assert later.id in await ledger.claim_stuck(older_than_s=0, lease_s=3600, limit=10)
