"""The IndexActor: jobs run in order, failures are counted not fatal, unfinished work is backfilled."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from actors.actor import actor_spec
from actors.embedder.indexer import AnalyseMedia, IndexActor, IndexPost
from kernel.errors import StoreUnavailable
from supervisor import Supervisor


class FakeIntelligence:
    """Records calls; stands in for IntelligenceService, whose real paths the live tests cover."""

    def __init__(self, unindexed: list[int]) -> None:
        self.unindexed = unindexed
        self.indexed: list[int] = []
        self.analysed: list[int] = []
        self.batches: list[list[int]] = []
        self.hold: trio.Event | None = None
        """When set, the first batch waits for it (so the next ones queue up)."""
        self.warmed_before_backfill: bool | None = None
        self._warm = False

    async def warm_up(self) -> None:
        self._warm = True

    async def unindexed_posts(self, *, within_s: float, limit: int) -> list[int]:
        self.warmed_before_backfill = self._warm
        return list(self.unindexed)

    async def index_posts(self, post_ids: list[int]) -> None:
        self.batches.append(list(post_ids))
        if self.hold is not None and len(self.batches) == 1:
            await self.hold.wait()
        if any(post_id < 0 for post_id in post_ids):
            raise StoreUnavailable("the vector store is down")
        if 0 in post_ids:
            raise ValueError("odd data")
        self.indexed.extend(post_ids)

    async def analyse_media(self, media_id: int) -> list[int]:
        self.analysed.append(media_id)
        return [100 + media_id]


async def run_indexer(
    fake: FakeIntelligence, nursery: trio.Nursery, capacity: int = 2
) -> tuple[Supervisor, Any]:
    spec, ref = actor_spec("indexer", lambda: IndexActor(fake), capacity=capacity)  # type: ignore[arg-type]
    sup = Supervisor("root", [spec])
    await nursery.start(sup.run)
    return sup, ref


async def test_unfinished_posts_are_backfilled_on_start_through_a_small_mailbox() -> None:
    fake = FakeIntelligence(unindexed=[1, 2, 3, 4, 5])
    async with trio.open_nursery() as nursery:
        sup, ref = await run_indexer(fake, nursery)
        await trio.testing.wait_all_tasks_blocked()
        assert fake.indexed == [1, 2, 3, 4, 5], "more than the mailbox holds, without deadlock"
        assert ref.inspect()["backfilled"] == 5
        assert fake.warmed_before_backfill, "the moderation models load at start, not on first use"
        await sup.shutdown()


async def test_failed_jobs_are_counted_and_the_actor_goes_on() -> None:
    fake = FakeIntelligence(unindexed=[])
    async with trio.open_nursery() as nursery:
        sup, ref = await run_indexer(fake, nursery)
        await ref.ask(IndexPost(-1))  # an outage
        await ref.ask(IndexPost(0))  # a poison job
        await ref.ask(AnalyseMedia(7))  # moderation, then re-indexing the posts showing it
        figures = sup.inspect()["children"][0]
        assert (figures["jobs_failed"], figures["jobs_done"], figures["restarts"]) == (2, 2, 0)
        assert (fake.analysed, fake.indexed) == ([7], [107])
        await sup.shutdown()


async def test_posts_queued_meanwhile_are_indexed_in_one_batch_and_a_poison_post_fails_alone() -> None:
    fake = FakeIntelligence(unindexed=[])
    fake.hold = trio.Event()
    async with trio.open_nursery() as nursery:
        sup, ref = await run_indexer(fake, nursery, capacity=16)
        await ref.tell(IndexPost(1))
        await trio.testing.wait_all_tasks_blocked()  # indexing post 1, held
        for post_id in (2, 0, 3):
            await ref.tell(IndexPost(post_id))
        fake.hold.set()
        await trio.testing.wait_all_tasks_blocked()
        assert fake.batches == [[1], [2, 0, 3], [2], [0], [3]], "one batch; on failure, one by one"
        assert fake.indexed == [1, 2, 3]
        await sup.shutdown()
