"""Text moderation batched across requests (``ml.moderation.batch``): texts that wait while a call
runs go in the next call together; errors reach every caller of the batch; a cancelled leader
hands over, and nobody waits forever."""

from __future__ import annotations

import trio
import trio.testing

from ml.moderation.batch import TextBatcher


class Model:
    """Answers ``len(text)`` per text; each call waits until the test lets it go."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.go = trio.Event()
        self.fail = False

    async def __call__(self, texts: list[str]) -> list[int]:
        self.calls.append(texts)
        await self.go.wait()
        if self.fail:
            raise RuntimeError("the model broke")
        return [len(text) for text in texts]


async def test_texts_that_arrive_during_a_call_are_classified_together_in_the_next() -> None:
    model = Model()
    batcher = TextBatcher(model)
    results: dict[str, list[int]] = {}

    async def ask(*texts: str) -> None:
        results[texts[0]] = await batcher.classify(texts)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, "a")
        await trio.testing.wait_all_tasks_blocked()
        for texts in (("bb", "ccc"), ("dddd",), ("eeeee",)):
            nursery.start_soon(ask, *texts)
        await trio.testing.wait_all_tasks_blocked()
        assert model.calls == [["a"]], "the others wait for the call under way"
        model.go.set()
    assert len(model.calls) == 2 and sorted(model.calls[1]) == ["bb", "ccc", "dddd", "eeeee"]
    assert results == {"a": [1], "bb": [2, 3], "dddd": [4], "eeeee": [5]}
    assert (batcher.calls, batcher.texts) == (2, 5)


async def test_a_failed_call_fails_each_of_its_callers_and_the_next_batch_runs() -> None:
    model = Model()
    batcher = TextBatcher(model)
    errors: list[str] = []

    async def ask(text: str) -> None:
        try:
            await batcher.classify([text])
        except RuntimeError as error:
            errors.append(f"{text}: {error}")

    model.fail = True
    model.go.set()
    async with trio.open_nursery() as nursery:
        for text in ("x", "y"):
            nursery.start_soon(ask, text)
    assert sorted(errors) == ["x: the model broke", "y: the model broke"]
    model.fail = False
    assert await batcher.classify(["ok"]) == [2]


async def test_a_cancelled_leader_hands_over_and_the_others_are_answered() -> None:
    calls: list[list[str]] = []
    release = trio.Event()

    async def model(texts: list[str]) -> list[int]:
        calls.append(texts)
        await release.wait()  # the leader is cancelled while waiting here (like for the limiter)
        return [len(text) for text in texts]

    batcher = TextBatcher(model)
    answered: list[int] = []
    async with trio.open_nursery() as nursery:
        leader = trio.CancelScope()

        async def lead() -> None:
            with leader:
                await batcher.classify(["lead"])

        async def follow() -> None:
            answered.extend(await batcher.classify(["follower"]))

        nursery.start_soon(lead)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(follow)
        await trio.testing.wait_all_tasks_blocked()
        leader.cancel()
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert answered == [8], "the follower took over and got its verdict"
    assert calls == [["lead"], ["follower"]], "the cancelled leader's own text was dropped, not rerun"


async def test_a_batch_holds_at_most_max_batch_texts_but_never_splits_a_request() -> None:
    model = Model()
    batcher = TextBatcher(model, max_batch=3)
    async with trio.open_nursery() as nursery:
        for texts in (["1"], ["2", "3"], ["4", "5"], ["6", "7", "8", "9"]):
            nursery.start_soon(batcher.classify, texts)
            await trio.testing.wait_all_tasks_blocked()  # queued in this order
        model.go.set()
    assert model.calls == [["1"], ["2", "3"], ["4", "5"], ["6", "7", "8", "9"]]


async def test_nothing_to_classify_costs_no_call() -> None:
    model = Model()
    assert await TextBatcher(model).classify([]) == []
    assert model.calls == []
