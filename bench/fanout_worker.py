"""One follower process of the fan-out benchmark: holds a slice of the online followers.

Each follower connects, signs in with ``auth.resume``, subscribes with ``stream.resume`` to its
``home`` stream from now on, then only listens: it answers heartbeats and notes, for every
``post.created`` push, the post id and the instant it arrived. The instant is ``time.monotonic()``,
which on Linux is one system-wide clock (CLOCK_MONOTONIC), so the parent can subtract the
author's acknowledgement time, taken in another process, from it.

Why a separate process per slice: 2,000 sockets that all receive a frame within the same few
hundred milliseconds are a burst of client CPU. In one process, the last socket would wait behind
the decoding of the other 1,999 and the benchmark would report the client's queue as the server's
latency. The socket code is ``bench.ws_worker``'s lean client (one task per socket).

The parent talks to it over a pipe: the worker sends ``("connected", ok, errors)`` once every
follower has signed in (or failed), then waits for ``("collect",)``, answers with what it received
and closes its sockets.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from bench.ws_worker import PONG, RequestFailed, Socket
from protocol.codec import decode_server_frame
from protocol.errors import ProtocolError
from protocol.events import POST_CREATED
from viora.load.tally import ConnectTally

SIGN_IN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FollowerPlan:
    """What one worker process is told at start: its followers, each with its server and token."""

    followers: list[tuple[str, str]]
    """``(websocket url, token)`` per follower."""
    connect_concurrency: int


@dataclass
class Received:
    """Arrival instants (``time.monotonic()``) per post id, and what went wrong, in one worker."""

    arrivals: dict[int, array] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    held: int = 0
    """Sockets still open when the parent collected: a socket the server dropped is not."""

    def note(self, post_id: int, at: float) -> None:
        times = self.arrivals.get(post_id)
        if times is None:
            times = self.arrivals[post_id] = array("d")
        times.append(at)


@dataclass
class Roster:
    """Shared by the follower tasks of one worker: sign-in progress, then what arrived."""

    tally: ConnectTally
    received: Received = field(default_factory=Received)


async def follower(url: str, token: str, roster: Roster, limiter: trio.CapacityLimiter) -> None:
    """Connect and subscribe (at most ``connect_concurrency`` at a time), then listen until cancelled."""
    try:
        async with AsyncExitStack() as stack:
            async with limiter:
                ws = await stack.enter_async_context(open_websocket_url(url, connect_timeout=60))
                sock = Socket(ws)
                with trio.fail_after(SIGN_IN_TIMEOUT_S):
                    await sock.request("auth.resume", {"token": token})
                    await sock.request("stream.resume", {"stream": "home"})
            roster.tally.settle()
            await listen(ws, roster.received)
    except RequestFailed as refused:
        roster.tally.settle(f"sign-in: {refused.code}")
    except ConnectionClosed as closed:
        if roster.tally.settled.is_set():
            roster.received.errors[f"closed {closed.reason.code}"] += 1
        else:
            roster.tally.settle(f"closed: {closed.reason.code}")
    except (HandshakeError, OSError, trio.TooSlowError, ProtocolError) as error:
        roster.tally.settle(f"connect: {type(error).__name__}")


async def listen(ws: WebSocketConnection, received: Received) -> None:
    """Note every ``post.created`` arrival; the clock is read before decoding, the nearest this
    task gets to the frame's arrival."""
    received.held += 1
    try:
        while True:
            data = await ws.get_message()
            at = time.monotonic()
            frame = decode_server_frame(data)
            if frame.kind == "ping":
                await ws.send_message(PONG)
            elif frame.type == POST_CREATED:
                received.note(frame.body["post"]["id"], at)
    finally:
        received.held -= 1


async def run_followers(plan: FollowerPlan, pipe: Pipe) -> None:
    roster = Roster(ConnectTally(len(plan.followers)))
    limiter = trio.CapacityLimiter(plan.connect_concurrency)
    async with trio.open_nursery() as nursery:
        for url, token in plan.followers:
            nursery.start_soon(follower, url, token, roster, limiter)
        await roster.tally.settled.wait()
        pipe.send(("connected", roster.tally.connected, roster.tally.errors))
        await trio.to_thread.run_sync(pipe.recv)  # ("collect",)
        received = roster.received
        held = received.held
        nursery.cancel_scope.cancel()
    received.held = held
    pipe.send(("received", received))


def follower_main(plan: FollowerPlan, pipe: Pipe) -> None:
    """Process entry point (multiprocessing target)."""
    trio.run(run_followers, plan, pipe)
