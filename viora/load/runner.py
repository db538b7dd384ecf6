"""``viora load``: simulated users driving a server over the real protocol, with a live progress
line and a summary (connections held, operations per second, latencies, deliveries, errors).

Phases: the users (and a random follow graph) are seeded in the database; every user connects and
signs in with ``auth.resume`` and subscribes to its ``home`` and ``dm`` streams (bounded
concurrency, so the accept backlog is not flooded); users are paired into one-to-one
conversations; then, for ``duration_s``, every user issues operations of the mix at Poisson
instants, so the whole population offers ``rate`` operations per second (open loop per user: a slow
reply delays only that user's next operation, as a real client's would).

Two targets: websockets to one or several running servers (users spread round robin; several
servers must share the database and Redis), or **in process**: the same ``Connection`` objects,
session actors, feed actors and stores, fed through memory pipes instead of sockets — the actor
layer alone (:mod:`viora.load.inprocess`).
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import trio
from trio_websocket import ConnectionClosed, HandshakeError

from viora.client import Client, ServerError
from viora.load.inprocess import open_pipe
from viora.load.mix import FIRE_AND_FORGET, OPERATIONS, SharedState, SimUser, stamp_age
from viora.load.progress import Progress
from viora.load.recorder import Recorder
from viora.load.tally import ConnectTally

if TYPE_CHECKING:  # the runtime imports the ML stack: seconds, and not needed over sockets
    from viora.runtime import Runtime

REQUEST_TIMEOUT_S = 30.0
DRAIN_QUIET_S = 0.5
DRAIN_MAX_S = 5.0
"""After the last operation, deliveries are still recorded until none came for ``DRAIN_QUIET_S``
(at most ``DRAIN_MAX_S``): a post sent in the window's last instant counts with its deliveries."""
DELIVERY_PUSHES = {"post.created": "post", "dm.message": "message"}
"""Push types whose delivery latency is measured, and the body key holding the stamped item."""


@dataclass(frozen=True)
class LoadPlan:
    users: int = 200
    rate: float = 200.0
    """Operations per second offered by the whole population."""
    duration_s: float = 30.0
    warmup_s: float = 5.0
    """Load offered before measuring: caches, pools and lazily built state settle first."""
    mix: dict[str, float] = field(default_factory=dict)
    connect_concurrency: int = 32
    seed: int = 1


class Target(Protocol):
    """Where simulated users connect, and how the server's own figures are read."""

    description: str

    def connect(self, index: int) -> AbstractAsyncContextManager[Client]: ...

    async def server_figures(self, *, reset: bool) -> list[dict[str, Any]]: ...


class SocketTarget:
    """Running servers, over websockets; user ``i`` goes to ``urls[i % len(urls)]``."""

    def __init__(self, urls: list[str], admin_token: str | None) -> None:
        self.urls = urls
        self.admin_token = admin_token
        self.description = f"websockets to {', '.join(urls)}"

    def connect(self, index: int) -> AbstractAsyncContextManager[Client]:
        return Client.connect(self.urls[index % len(self.urls)], events=4096)

    async def server_figures(self, *, reset: bool) -> list[dict[str, Any]]:
        """Each server's ``/admin/stats`` (loop lag, RSS), when an admin token was given."""
        if not self.admin_token:
            return []
        return [await trio.to_thread.run_sync(self._stats, url, reset) for url in self.urls]

    def _stats(self, ws_url: str, reset: bool) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(ws_url)
        scheme = "https" if parts.scheme == "wss" else "http"
        url = f"{scheme}://{parts.netloc}/admin/stats" + ("?reset_peak_lag=1" if reset else "")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            stats = json.load(response)
        return {"server": ws_url, "loop_lag_ms": stats["loop_lag_ms"], "rss_bytes": stats["rss_bytes"]}


class InProcessTarget:
    """The runtime of this very process, through memory pipes (no sockets)."""

    description = "in process (memory pipes into session actors; no sockets)"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @asynccontextmanager
    async def connect(self, index: int) -> AsyncIterator[Client]:
        async with open_pipe(self.runtime.services) as pipe, Client.over(pipe, events=4096) as client:
            yield client

    async def server_figures(self, *, reset: bool) -> list[dict[str, Any]]:
        if reset:
            self.runtime.probe.reset_peak()
        return [{"server": "in-process", **self.runtime.probe.figures()}]


@dataclass
class Run:
    plan: LoadPlan
    target: Target
    users: list[SimUser]
    recorder: Recorder = field(default_factory=Recorder)
    population: ConnectTally = field(init=False)
    shared: SharedState = field(init=False)
    start: trio.Event = field(default_factory=trio.Event)
    stop_at: float = 0.0

    def __post_init__(self) -> None:
        self.population = ConnectTally(len(self.users))
        self.shared = SharedState(random.Random(self.plan.seed))

    def held(self) -> int:
        """Users whose connection is open right now."""
        return sum(1 for u in self.users if u.client is not None and not u.client.closed.is_set())


async def run_load(
    plan: LoadPlan, target: Target, tokens: dict[int, str], progress: Progress
) -> dict[str, Any]:
    """Run the plan against ``target`` with the seeded users' ``tokens``; return the summary."""
    run = Run(plan, target, [SimUser(uid, token) for uid, token in tokens.items()])
    limiter = trio.CapacityLimiter(plan.connect_concurrency)
    async with trio.open_nursery() as nursery:
        for index, user in enumerate(run.users):
            nursery.start_soon(_run_user, run, index, user, limiter)
        await run.population.settled.wait()
        progress.note(f"{run.population.connected} connected, {run.population.failed} failed")
        await _pair_conversations(run.users)
        run.stop_at = trio.current_time() + plan.warmup_s + plan.duration_s
        run.start.set()
        if plan.warmup_s:
            progress.note(f"warming up for {plan.warmup_s:g} s (not measured)")
            await trio.sleep(plan.warmup_s)
        await target.server_figures(reset=True)
        run.recorder.measuring = True
        await progress.follow(run.recorder, run.held, run.stop_at)
        await _drain(run.recorder)
        run.recorder.measuring = False
        server = await target.server_figures(reset=False)
        held = run.held()
        nursery.cancel_scope.cancel()  # users past their last operation just hold their sockets
    total_issued = sum(run.recorder.issued.values())
    return {
        "target": target.description,
        "plan": {"users": plan.users, "rate": plan.rate, "duration_s": plan.duration_s, "mix": plan.mix},
        "connections": {
            "target": plan.users,
            "held": held,
            "failed": run.population.failed,
        },
        "ops_per_s": round(total_issued / plan.duration_s, 1),
        **run.recorder.summary(plan.duration_s),
        "server": server,
    }


async def _drain(recorder: Recorder) -> None:
    with trio.move_on_after(DRAIN_MAX_S):
        while True:
            with trio.move_on_after(DRAIN_QUIET_S) as quiet:
                await recorder.next_delivery()
            if quiet.cancelled_caught:
                return


async def _run_user(run: Run, index: int, user: SimUser, limiter: trio.CapacityLimiter) -> None:
    """Connect, sign in, subscribe, wait for the start, then drive the mix until the deadline."""
    async with AsyncExitStack() as stack:
        try:
            async with limiter:
                client = await stack.enter_async_context(run.target.connect(index))
                await client.request("auth.resume", {"token": user.token}, timeout=REQUEST_TIMEOUT_S)
                for stream in ("home", "dm"):
                    await client.request("stream.resume", {"stream": stream}, timeout=REQUEST_TIMEOUT_S)
        except (OSError, HandshakeError, ConnectionClosed, ServerError, trio.TooSlowError) as error:
            run.recorder.errors[f"connect:{_error_code(error)}"] += 1
            run.population.settle(_error_code(error))
            return
        user.client = client
        run.population.settle()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_record_deliveries, run, user, client)
            await run.start.wait()
            await _drive(run, user, client)
            await trio.sleep_forever()  # hold the socket until the run ends


async def _drive(run: Run, user: SimUser, client: Client) -> None:
    plan = run.plan
    rng = random.Random(plan.seed * 1_000_003 + user.user_id)
    names, weights = list(plan.mix), list(plan.mix.values())
    rate = plan.rate / len(run.users)
    next_at = trio.current_time()
    while True:
        next_at += rng.expovariate(rate)
        if next_at >= run.stop_at:
            return
        await trio.sleep_until(next_at)
        name = rng.choices(names, weights)[0]
        run.recorder.started(name)
        sent = time.monotonic()
        try:
            with trio.fail_after(REQUEST_TIMEOUT_S):
                await OPERATIONS[name](user, client, run.shared)
        except ServerError as error:
            run.recorder.failed(name, error.code)
        except trio.TooSlowError:
            run.recorder.failed(name, "client_timeout")
        except ConnectionClosed as closed:
            run.recorder.failed(name, f"closed:{_error_code(closed)}")
            return
        else:
            if name not in FIRE_AND_FORGET:
                run.recorder.operation(name, time.monotonic() - sent)


async def _record_deliveries(run: Run, user: SimUser, client: Client) -> None:
    """Drain the client's pushes; time those stamped by another user's operation."""
    async for frame in client.events:
        key = DELIVERY_PUSHES.get(frame.type)
        if key is None or frame.kind != "push":
            continue
        item = frame.body.get(key) or {}
        author = item.get("author_id", item.get("sender_id"))
        age = stamp_age(item.get("text"))
        if age is not None and author != user.user_id:
            run.recorder.delivered(frame.type, age)


async def _pair_conversations(users: list[SimUser]) -> None:
    """Users 0-1, 2-3, … share a one-to-one conversation (for ``dm`` and ``typing``)."""
    async with trio.open_nursery() as nursery:
        for first, second in zip(users[::2], users[1::2], strict=False):
            nursery.start_soon(_open_conversation, first, second)


async def _open_conversation(first: SimUser, second: SimUser) -> None:
    if first.client is None or second.client is None:
        return
    reply = await first.client.request("dm.open", {"user_id": second.user_id}, timeout=REQUEST_TIMEOUT_S)
    first.conversation_id = second.conversation_id = reply["conversation"]["id"]


def _error_code(error: BaseException) -> str:
    if isinstance(error, ServerError):
        return error.code
    if isinstance(error, ConnectionClosed) and error.reason is not None:
        return str(error.reason.code)
    return type(error).__name__
