"""Fan-out recovery: posts acknowledged but never fanned out are fanned out again.

A post is pending in the fan-out ledger from its creation until its FeedActor has written it to
every follower's home stream. A process that dies in between (or an outage that outlasts the
FeedActor's retries) leaves it pending; this sweeper, one per process, claims posts pending for
longer than a fan-out can take and hands them to the FeedActors again. Claims are leased in the
database, so several processes sweeping at once fan each post out once more, not once each.

At a process's start-up the sweep need not wait that long for what a crash left: if no other
process shares the site (the event bus says whom it reaches), every post pending since before the
start is an orphan — its process is gone, and so are its sweepers' claims — and is claimed at once
(:meth:`FanoutRecovery.take_orphans`). With other processes alive a pending post may be on its way
in one of them, and nothing says whose it is: the age rule decides, as in every later sweep. (A
process still draining at shutdown — its subscription ends before its FeedActors — or two starting
at the same instant may fan such a post out twice: at least once, as below.)

Fan-out is therefore *at least once*: a process that dies after writing some home streams but
before marking the post done makes the retry write those streams again. Home timelines show each
post once (``SocialService.home`` keeps the newest entry of a post), so the cost is a repeated
``post.created`` on a resumed stream, never a missing one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from kernel.errors import StoreUnavailable
from stores.fanout import FanoutLedger
from stores.social import Post, SocialStore
from supervisor import ChildContext

log = logging.getLogger("viora.feed")

STUCK_AFTER_S = 60.0
"""A post still pending this long after its creation was lost: a FeedActor takes milliseconds,
and gives up retrying an outage after ~3 s."""
CLAIM_LEASE_S = 120.0
SWEEP_EVERY_S = 15.0
BATCH = 100


class FanoutRecovery:
    def __init__(
        self,
        ledger: FanoutLedger,
        social: SocialStore,
        fan_out: Callable[[Post], Awaitable[None]],
        alone: Callable[[], Awaitable[bool]],
    ) -> None:
        """``alone()``: whether no other server process is alive (False when it cannot tell)."""
        self._ledger = ledger
        self._social = social
        self._fan_out = fan_out
        self._alone = alone
        self._orphans_taken = False
        """Once per process: after a restart of this child alone, pending posts may be this
        process's own, queued in its FeedActors' mailboxes."""
        self.recovered = 0

    async def run(self, ctx: ChildContext) -> None:
        """Supervised child body: a crash's leftovers at once, then a sweep every ``SWEEP_EVERY_S``."""
        ctx.expose(lambda: {"recovered": self.recovered})
        ctx.started()
        await ctx.run_until_stopped(self._sweep_forever)

    async def _sweep_forever(self) -> None:
        if not self._orphans_taken:
            self._orphans_taken = True
            try:
                await self.take_orphans()
            except StoreUnavailable as exc:  # not tried again: later posts may be ours by then
                log.warning("fan-out recovery at start-up cannot reach the database: %s", exc)
        while True:
            try:
                while await self.sweep_once() == BATCH:
                    pass  # a big backlog: keep going
            except StoreUnavailable as exc:
                log.warning("fan-out recovery cannot reach the database: %s", exc)
            await trio.sleep(SWEEP_EVERY_S)

    async def take_orphans(self) -> int:
        """At start-up, alone: hand every post pending since before now to the FeedActors, young or
        claimed as it may be; how many were claimed (0 with other processes alive).

        The fence is read before asking who is alive, so a process that starts meanwhile — it
        subscribes to the bus before it takes requests — has created none of the posts taken.
        """
        fence = await self._ledger.clock()
        if not await self._alone():
            return 0
        taken = 0
        while True:
            post_ids = await self._ledger.claim_orphans(before=fence, limit=BATCH)
            taken += await self._hand_over(post_ids)
            if len(post_ids) < BATCH:
                return taken

    async def sweep_once(self, older_than_s: float = STUCK_AFTER_S) -> int:
        """Hand the posts pending longer than ``older_than_s`` to the FeedActors; how many were claimed."""
        post_ids = await self._ledger.claim_stuck(
            older_than_s=older_than_s, lease_s=CLAIM_LEASE_S, limit=BATCH
        )
        return await self._hand_over(post_ids)

    async def _hand_over(self, post_ids: list[int]) -> int:
        """Fan the claimed posts out again (those deleted meanwhile are skipped); how many were claimed."""
        posts = await self._social.get_posts(post_ids)
        for post_id in post_ids:
            if (post := posts.get(post_id)) is not None:
                log.info("fanning out post %s again: its fan-out never finished", post_id)
                await self._fan_out(post)
                self.recovered += 1
        return len(post_ids)
