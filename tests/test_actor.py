"""Actors: bounded mailboxes, backpressure, ask/timeout, crash + restart keeping the mailbox, drain."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from actors.actor import Actor, ActorRef, actor_spec
from kernel.errors import ActorCrashed, ActorStopped, AskTimeout
from supervisor import Supervisor


class Counter(Actor):
    """Adds numbers; 'crash' raises; ('hold', event) blocks until the event is set."""

    def __init__(self) -> None:
        self.total = 0
        self.seen: list[Any] = []

    async def handle(self, message: Any) -> Any:
        self.seen.append(message)
        if message == "crash":
            raise RuntimeError("asked to crash")
        if isinstance(message, tuple) and message[0] == "hold":
            await message[1].wait()
            return "released"
        if message == "total":
            return self.total
        self.total += message
        return self.total

    def inspect(self) -> dict[str, Any]:
        return {"total": self.total}


async def start_counter(nursery: trio.Nursery, capacity: int = 4) -> tuple[Supervisor, ActorRef[Counter]]:
    spec, ref = actor_spec("counter", Counter, capacity=capacity)
    sup = Supervisor("root", [spec])
    await nursery.start(sup.run)
    return sup, ref


async def test_tell_and_ask() -> None:
    async with trio.open_nursery() as nursery:
        sup, ref = await start_counter(nursery)
        await ref.tell(2)
        assert await ref.ask(3) == 5
        await sup.shutdown()


async def test_a_full_mailbox_applies_backpressure_and_try_tell_drops() -> None:
    async with trio.open_nursery() as nursery:
        sup, ref = await start_counter(nursery, capacity=2)
        release = trio.Event()
        await ref.tell(("hold", release))
        await trio.testing.wait_all_tasks_blocked()  # the actor is now busy with 'hold'
        await ref.tell(1)
        await ref.tell(1)
        assert ref.mailbox_depth() == 2

        blocked_sender_done = trio.Event()

        async def third_sender() -> None:
            await ref.tell(1)
            blocked_sender_done.set()

        nursery.start_soon(third_sender)
        await trio.testing.wait_all_tasks_blocked()
        assert not blocked_sender_done.is_set(), "tell must wait while the mailbox is full"
        assert ref.inspect()["mailbox"] == {"depth": 2, "capacity": 2, "waiting_senders": 1}
        assert ref.try_tell(1) is False
        assert ref.dropped == 1

        release.set()
        await blocked_sender_done.wait()
        assert await ref.ask("total") == 3
        await sup.shutdown()


async def test_ask_times_out_cleanly_and_the_abandoned_request_is_skipped(autojump_clock: Any) -> None:
    async with trio.open_nursery() as nursery:
        sup, ref = await start_counter(nursery)
        release = trio.Event()
        await ref.tell(("hold", release))
        with pytest.raises(AskTimeout):
            await ref.ask(100, timeout=1.0)  # queued behind 'hold', which never ends in time
        release.set()
        assert await ref.ask("total") == 0, "the request whose asker gave up was not applied"
        assert ref.dropped == 1
        assert ref.alive
        await sup.shutdown()


async def test_crash_fails_asker_restarts_fresh_and_keeps_queue(autojump_clock: Any) -> None:
    async with trio.open_nursery() as nursery:
        sup, ref = await start_counter(nursery)
        await ref.ask(10)
        first = ref.instance
        release = trio.Event()
        await ref.tell(("hold", release))
        crash_result: list[BaseException] = []

        async def crasher() -> None:
            try:
                await ref.ask("crash")
            except ActorCrashed as exc:
                crash_result.append(exc)

        nursery.start_soon(crasher)
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell(5)  # queued behind the crash: must survive it
        release.set()
        assert await ref.ask("total") == 5, "new incarnation: fresh state, queued message handled"
        assert crash_result and "asked to crash" in str(crash_result[0])
        assert ref.instance is not first and ref.incarnation == 2
        node = sup.inspect()["children"][0]
        assert node["restarts"] == 1
        assert node["last_error"] == "RuntimeError: asked to crash"
        assert node["total"] == 5
        await sup.shutdown()


async def test_final_stop_drains_the_mailbox_then_refuses_messages() -> None:
    async with trio.open_nursery() as nursery:
        sup, ref = await start_counter(nursery, capacity=8)
        release = trio.Event()
        await ref.tell(("hold", release))
        for _ in range(5):
            await ref.tell(1)
        instance = ref.instance
        assert instance is not None

        async def shutdown() -> None:
            await sup.shutdown()

        nursery.start_soon(shutdown)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert instance.total == 5, "queued messages were handled before the actor stopped"
    with pytest.raises(ActorStopped):
        await ref.tell(1)


async def test_tree_reports_actor_figures() -> None:
    async with trio.open_nursery() as nursery:
        sup, ref = await start_counter(nursery, capacity=4)
        for n in range(3):
            await ref.ask(n)
        node = sup.inspect()["children"][0]
        assert node["name"] == "counter"
        assert node["path"] == "/root/counter"
        assert node["kind"] == "actor"
        assert node["state"] == "running"
        assert node["processed"] == 3
        assert node["mailbox"] == {"depth": 0, "capacity": 4, "waiting_senders": 0}
        assert node["uptime_s"] >= 0
        await sup.shutdown()


async def test_tell_now_handles_inline_only_when_the_actor_is_idle() -> None:
    class Inline(Actor):
        def __init__(self) -> None:
            self.seen: list[str] = []
            self.release = trio.Event()

        async def handle(self, message: Any) -> None:
            if message == "block":
                await self.release.wait()
            self.seen.append(message)

        def handle_now(self, message: Any) -> bool:
            if message == "later":
                return False
            self.seen.append(f"inline {message}")
            return True

    sup = Supervisor("root")
    spec, ref = actor_spec("inline", Inline)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await sup.start_child(spec)
        await trio.testing.wait_all_tasks_blocked()
        actor = ref.instance
        assert isinstance(actor, Inline)
        assert ref.tell_now("a") and actor.seen == ["inline a"]
        assert ref.tell_now("later") and actor.seen == ["inline a"], "declined: queued"
        await trio.testing.wait_all_tasks_blocked()
        assert actor.seen == ["inline a", "later"]
        ref.try_tell("block")
        await trio.testing.wait_all_tasks_blocked()
        assert ref.tell_now("b") and actor.seen == ["inline a", "later"], "busy: queued, not overtaking"
        actor.release.set()
        await trio.testing.wait_all_tasks_blocked()
        assert actor.seen == ["inline a", "later", "block", "b"]
        await sup.shutdown()
