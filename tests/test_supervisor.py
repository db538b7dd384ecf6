"""Supervision semantics: strategies, restart types, intensity, shutdown order and drain."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from supervisor import (
    Backoff,
    ChildContext,
    ChildSpec,
    ChildStartError,
    RestartType,
    Strategy,
    Supervisor,
    SupervisorEscalation,
    render_tree,
)


class Worker:
    """A controllable child: records starts/stops; crashes or exits when told to."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal
        self.command: trio.MemorySendChannel[str] | None = None
        self.ready = trio.Event()

    def spec(self, restart: RestartType = RestartType.PERMANENT, shutdown_s: float = 5.0) -> ChildSpec:
        return ChildSpec(self.name, self.run, restart, shutdown_s)

    async def run(self, ctx: ChildContext) -> None:
        send, receive = trio.open_memory_channel[str](1)
        self.command = send
        self.journal.append(f"start {self.name}#{ctx.incarnation}")
        ctx.started()
        self.ready.set()
        async with trio.open_nursery() as nursery:

            async def on_stop() -> None:
                await ctx.stop_requested.wait()
                self.journal.append(f"stop {self.name}")
                nursery.cancel_scope.cancel()

            order = "stop"  # what is left when the stop cancels the wait for an order
            nursery.start_soon(on_stop)
            order = await receive.receive()
            nursery.cancel_scope.cancel()
        if order == "crash":
            raise RuntimeError(f"{self.name} was told to crash")

    async def order(self, what: str) -> None:
        self.ready = trio.Event()
        assert self.command is not None
        await self.command.send(what)


def incarnations(sup: Supervisor) -> dict[str, int]:
    return {c["name"]: c["incarnation"] for c in sup.inspect()["children"]}


async def start_tree(nursery: trio.Nursery, strategy: Strategy, journal: list[str], **kw: Any):
    workers = [Worker(n, journal) for n in ("a", "b", "c")]
    sup = Supervisor("root", [w.spec() for w in workers], strategy=strategy, **kw)
    await nursery.start(sup.run)
    return sup, workers


async def wait_restarted(sup: Supervisor, name: str, incarnation: int) -> None:
    while incarnations(sup)[name] < incarnation or state_of(sup, name) != "running":
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(0.01)


def state_of(sup: Supervisor, name: str) -> str:
    return next(c["state"] for c in sup.inspect()["children"] if c["name"] == name)


async def test_one_for_one_restarts_only_the_crashed_child(autojump_clock: Any) -> None:
    journal: list[str] = []
    async with trio.open_nursery() as nursery:
        sup, (_a, b, _c) = await start_tree(nursery, Strategy.ONE_FOR_ONE, journal)
        await b.order("crash")
        await wait_restarted(sup, "b", 2)
        assert incarnations(sup) == {"a": 1, "b": 2, "c": 1}
        tree = sup.inspect()
        assert tree["children"][1]["restarts"] == 1
        assert "told to crash" in tree["children"][1]["last_error"]
        await sup.shutdown()


async def test_one_for_all_restarts_everyone_stopping_siblings_in_reverse(autojump_clock: Any) -> None:
    journal: list[str] = []
    async with trio.open_nursery() as nursery:
        sup, (_a, b, _c) = await start_tree(nursery, Strategy.ONE_FOR_ALL, journal)
        journal.clear()
        await b.order("crash")
        await wait_restarted(sup, "c", 2)
        assert incarnations(sup) == {"a": 2, "b": 2, "c": 2}
        assert journal == ["stop c", "stop a", "start a#2", "start b#2", "start c#2"]
        await sup.shutdown()


async def test_rest_for_one_restarts_the_crashed_and_later_children(autojump_clock: Any) -> None:
    journal: list[str] = []
    async with trio.open_nursery() as nursery:
        sup, (_a, b, _c) = await start_tree(nursery, Strategy.REST_FOR_ONE, journal)
        journal.clear()
        await b.order("crash")
        await wait_restarted(sup, "c", 2)
        assert incarnations(sup) == {"a": 1, "b": 2, "c": 2}
        assert journal == ["stop c", "start b#2", "start c#2"]
        await sup.shutdown()


@pytest.mark.parametrize(
    ("restart", "order", "restarted"),
    [
        (RestartType.PERMANENT, "exit", True),
        (RestartType.PERMANENT, "crash", True),
        (RestartType.TRANSIENT, "exit", False),
        (RestartType.TRANSIENT, "crash", True),
        (RestartType.TEMPORARY, "crash", False),
    ],
)
async def test_restart_types(restart: RestartType, order: str, restarted: bool, autojump_clock: Any) -> None:
    journal: list[str] = []
    worker = Worker("w", journal)
    sup = Supervisor("root", [worker.spec(restart)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await worker.order(order)
        await trio.sleep(10)  # virtual time: far beyond any restart backoff
        assert (incarnations(sup)["w"] == 2) is restarted
        expected = "running" if restarted else ("failed" if order == "crash" else "stopped")
        assert state_of(sup, "w") == expected
        await sup.shutdown()


async def test_intensity_exceeded_escalates_to_the_parent(autojump_clock: Any) -> None:
    journal: list[str] = []
    worker = Worker("flaky", journal)
    child_sup = Supervisor("inner", [worker.spec()], intensity=2, period_s=5.0, path="/root/inner")
    root = Supervisor("root", [child_sup.child_spec()], intensity=5, period_s=60.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        for _ in range(3):  # 3 crashes within 5 s: one more than intensity 2 allows
            await worker.ready.wait()
            await worker.order("crash")
            await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(1)
        inner = root.inspect()["children"][0]
        assert inner["restarts"] == 1, "the parent restarted the subtree that escalated"
        assert "intensity exceeded" in inner["last_error"]
        assert inner["children"][0]["incarnation"] == 1, "a restarted subtree starts its children afresh"
        await root.shutdown()


async def test_escalation_from_the_root_raises(autojump_clock: Any) -> None:
    worker = Worker("flaky", [])
    sup = Supervisor("root", [worker.spec()], intensity=1, period_s=5.0)
    with pytest.RaisesGroup(SupervisorEscalation):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            for _ in range(2):
                await worker.ready.wait()
                await worker.order("crash")


async def test_restarts_spread_over_time_do_not_escalate(autojump_clock: Any) -> None:
    worker = Worker("w", [])
    sup = Supervisor("root", [worker.spec()], intensity=1, period_s=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for _ in range(4):
            await worker.ready.wait()
            await worker.order("crash")
            await trio.sleep(6)  # each crash falls outside the previous one's period
        assert incarnations(sup)["w"] == 5
        await sup.shutdown()


class CrashLoop:
    """A child that crashes right after every start, recording when; fails to start once told to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.crashed_at: list[float] = []
        self.fail_start = False

    def spec(self) -> ChildSpec:
        return ChildSpec(self.name, self.run)

    async def run(self, ctx: ChildContext) -> None:
        if self.fail_start:
            raise OSError("port in use")
        ctx.started()
        await trio.lowlevel.checkpoint()
        self.crashed_at.append(trio.current_time())
        raise RuntimeError(f"{self.name} crashes again")


@pytest.mark.parametrize("dynamic", [False, True])
async def test_a_pending_restart_backoff_does_not_hold_up_start_child(dynamic: bool, autojump_clock: Any) -> None:
    looping = CrashLoop("flaky")
    sup = Supervisor(
        "root",
        [] if dynamic else [looping.spec()],
        intensity=100,
        period_s=60.0,
        backoff=Backoff(initial_s=0.5, max_s=2.0),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        if dynamic:
            await sup.start_child(looping.spec())
        while len(looping.crashed_at) < 4:  # the backoff has grown to its 2 s cap
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked()
        backoff_ends = looping.crashed_at[-1] + 2.0
        assert state_of(sup, "flaky") == "restarting"
        assert sup.knows_child("flaky"), "a child awaiting its restart is still known"

        await sup.start_child(Worker("user-1", []).spec())
        assert trio.current_time() < backoff_ends, "start_child waited for a sibling's restart backoff"
        assert state_of(sup, "user-1") == "running"
        with pytest.raises(ValueError, match="already has"):
            await sup.start_child(looping.spec())  # a twin would bypass the restart intensity
        await sup.shutdown()


async def test_shutdown_during_a_restart_backoff_stops_without_restarting(autojump_clock: Any) -> None:
    journal: list[str] = []
    worker = Worker("w", journal)
    sup = Supervisor("root", [worker.spec()], backoff=Backoff(initial_s=1.0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await worker.order("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert state_of(sup, "w") == "restarting"
        before = trio.current_time()
        await sup.shutdown()
        assert trio.current_time() - before < 1.0, "shutdown waited out the backoff"
    assert journal == ["start w#1"]
    assert incarnations(sup) == {"w": 1}
    assert state_of(sup, "w") == "stopped"


async def test_a_failed_restart_counts_as_a_crash_and_escalates(autojump_clock: Any) -> None:
    looping = CrashLoop("flaky")
    sup = Supervisor("root", [looping.spec()], intensity=3, period_s=60.0)
    with pytest.RaisesGroup(pytest.RaisesExc(SupervisorEscalation, match="OSError: port in use")):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            looping.fail_start = True  # the first run crashes; every restart fails to start
    # The crash and two failed restarts are within intensity 3; the third failed restart exceeds it.
    tree = sup.inspect()["children"][0]
    assert tree["incarnation"] == 4
    assert tree["restarts"] == 3
    assert len(looping.crashed_at) == 1


async def test_an_exit_queued_for_a_child_awaiting_restart_is_not_handled_twice(autojump_clock: Any) -> None:
    journal: list[str] = []
    # intensity 1: counting b's crash on top of a's (they are one incident) would escalate.
    async with trio.open_nursery() as nursery:
        sup, (a, b, _c) = await start_tree(nursery, Strategy.ONE_FOR_ALL, journal, intensity=1)
        assert a.command is not None and b.command is not None
        a.command.send_nowait("crash")  # both crash in the same scheduling batch: both exits are
        b.command.send_nowait("crash")  # queued before the supervisor handles the first one
        await wait_restarted(sup, "c", 2)
        await trio.sleep(10)
        assert incarnations(sup) == {"a": 2, "b": 2, "c": 2}
        assert [c["restarts"] for c in sup.inspect()["children"]] == [1, 1, 1]
        await sup.shutdown()


async def test_shutdown_stops_children_in_reverse_start_order() -> None:
    journal: list[str] = []
    async with trio.open_nursery() as nursery:
        sup, _ = await start_tree(nursery, Strategy.ONE_FOR_ONE, journal)
        await sup.shutdown()
    assert journal == ["start a#1", "start b#1", "start c#1", "stop c", "stop b", "stop a"]
    assert [c["state"] for c in sup.inspect()["children"]] == ["stopped"] * 3


async def test_a_child_that_ignores_stop_is_cancelled_at_its_drain_deadline(autojump_clock: Any) -> None:
    cancelled = trio.Event()

    async def stubborn(ctx: ChildContext) -> None:
        ctx.started()
        try:
            await trio.sleep_forever()  # never looks at ctx.stop_requested
        finally:
            cancelled.set()

    sup = Supervisor("root", [ChildSpec("stubborn", stubborn, shutdown_s=3.0)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        before = trio.current_time()
        await sup.shutdown()
        assert cancelled.is_set()
        assert trio.current_time() - before == pytest.approx(3.0)


async def test_dynamic_children_come_and_go() -> None:
    journal: list[str] = []
    sup = Supervisor("sessions")
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        worker = Worker("user-1", journal)
        await sup.start_child(worker.spec(RestartType.TRANSIENT))
        assert sup.knows_child("user-1")
        with pytest.raises(ValueError, match="already has"):
            await sup.start_child(worker.spec())
        await worker.order("exit")  # a transient child ending normally is forgotten
        await trio.testing.wait_all_tasks_blocked()
        assert sup.inspect()["children"] == []
        await sup.shutdown()


async def test_a_child_that_fails_to_start_fails_the_supervisor_start() -> None:
    async def broken(ctx: ChildContext) -> None:
        raise OSError("port in use")

    sup = Supervisor("root", [ChildSpec("broken", broken)])
    with pytest.RaisesGroup(pytest.RaisesExc(ChildStartError, match="port in use")):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)


def test_render_tree_shows_the_figures() -> None:
    tree = {
        "name": "root",
        "kind": "supervisor",
        "state": "running",
        "restarts": 0,
        "strategy": "one_for_one",
        "children": [
            {
                "name": "echo",
                "kind": "actor",
                "state": "running",
                "restarts": 2,
                "mailbox": {"depth": 3, "capacity": 8},
                "processed": 41,
                "uptime_s": 125.0,
                "last_error": "RuntimeError: boom",
            }
        ],
    }
    text = render_tree(tree)
    assert text.splitlines()[1] == (
        "  echo [actor] running restarts=2 mailbox=3/8 handled=41 up=2m05s  last_error='RuntimeError: boom'"
    )
