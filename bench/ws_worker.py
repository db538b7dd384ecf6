"""One load-generating process: holds a slice of the benchmark's websocket clients.

Why a lean client instead of :class:`viora.client.Client`: each ``Client`` runs its own reader task
and opens a memory channel per request so that many requests can be in flight on one socket. A
benchmark client has exactly one request in flight, so a single task per socket that sends and
then reads until its reply arrives does the same work with fewer task switches; with 5,000
sockets and the server on the same two cores, client CPU is server CPU lost. Both clients share
the wire format through ``protocol.codec``.

The parent drives the phases over a pipe (see :func:`worker_main`): connect and sign in, then
*paced* echoes, then optionally *saturation*, then close. Each phase starts at a wall-clock
instant chosen by the parent so that every worker process starts together.
"""

from __future__ import annotations

import random
import time
from array import array
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from protocol.codec import decode_server_frame, encode_request
from protocol.errors import ProtocolError
from viora.load.tally import ConnectTally

PASSWORD = "wsbench-password"
SIGN_IN_TIMEOUT_S = 120.0
"""Generous: the first run registers every user, and argon2 on two threads queues them for minutes."""
ECHO_TIMEOUT_S = 30.0
ECHO_BODY = {"data": "x" * 32}
PONG = encode_request("pong")
TOKEN_REFUSALS = {"token_invalid", "token_expired", "token_revoked"}


class RequestFailed(Exception):
    """The server answered with an error frame; ``code`` is its stable error code."""

    def __init__(self, code: str, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker process is told at start: its clients and how to reach the server."""

    url: str
    usernames: list[str]
    tokens: dict[str, str]
    connect_concurrency: int
    interval_s: float


@dataclass
class PhaseResult:
    """Round-trip latencies (seconds) and failures of one phase in one worker."""

    latencies: array = field(default_factory=lambda: array("d"))
    errors: Counter[str] = field(default_factory=Counter)
    late_sends: int = 0
    """Paced sends that went out more than one interval behind schedule (the client fell behind)."""


@dataclass
class Phase:
    """A measured phase as the client tasks see it: when to start and stop, who takes part."""

    name: str
    start: float
    end: float
    participants: int
    result: PhaseResult = field(default_factory=PhaseResult)
    running: int = 0
    """Clients still inside the phase; it is over when the clock says so and this is zero."""
    drained: trio.Event = field(default_factory=trio.Event)
    """Set when the last client leaves the phase after its end."""

    def leave(self) -> None:
        self.running -= 1
        if self.running == 0 and trio.current_time() >= self.end:
            self.drained.set()


class Conductor:
    """Shared by the client tasks of one worker: the phases, announced one at a time."""

    def __init__(self, clients: int) -> None:
        self.announced = trio.Event()
        self.phase: Phase | None = None
        self.tally = ConnectTally(clients)
        """Every client connected and signed in, or failed to."""
        self.new_tokens: dict[str, str] = {}
        self.held = 0

    def announce(self, phase: Phase | None) -> None:
        """Start ``phase`` (``None``: close everything); wakes every waiting client."""
        self.phase = phase
        event, self.announced = self.announced, trio.Event()
        event.set()


class Socket:
    """One signed-in benchmark socket: request ids and the request/reply round trip."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self._next_id = 0

    async def request(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send one request and read until its reply, answering heartbeats on the way."""
        self._next_id += 1
        req_id = self._next_id
        await self.ws.send_message(encode_request(type_, body, req_id))
        while True:
            frame = decode_server_frame(await self.ws.get_message())
            if frame.kind == "ping":
                await self.ws.send_message(PONG)
            elif frame.id == req_id:
                if frame.kind == "error":
                    raise RequestFailed(frame.body["code"], frame.body.get("retry_after"))
                return frame.body

    async def answer_heartbeats(self) -> None:
        """While idle, keep the socket alive: the server closes sockets silent for 60 s."""
        while True:
            frame = decode_server_frame(await self.ws.get_message())
            if frame.kind == "ping":
                await self.ws.send_message(PONG)


async def sign_in(sock: Socket, username: str, token: str | None) -> str | None:
    """Resume with the cached token; fall back to login, then register (argon2 is slow, so each
    user is registered once). Returns a new token to cache, or ``None`` if the old one still works."""
    if token is not None:
        try:
            await sock.request("auth.resume", {"token": token})
            return None
        except RequestFailed as refused:
            if refused.code not in TOKEN_REFUSALS:
                raise
        return await _login_or_register(sock, username, "auth.login", "auth_failed")
    return await _login_or_register(sock, username, "auth.register", "username_taken")


async def _login_or_register(sock: Socket, username: str, first: str, fallback_on: str) -> str:
    other = "auth.register" if first == "auth.login" else "auth.login"
    body = {"username": username, "password": PASSWORD}
    try:
        reply = await _retrying_busy(sock, first, body)
    except RequestFailed as refused:
        if refused.code != fallback_on:
            raise
        reply = await _retrying_busy(sock, other, body)
    return reply["token"]


async def _retrying_busy(sock: Socket, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a client should do when the server's password-hash queue is full: back off, retry."""
    delay = 0.05
    while True:
        try:
            return await sock.request(type_, body)
        except RequestFailed as refused:
            if refused.code != "busy":
                raise
        await trio.sleep(delay * (0.5 + random.random()))
        delay = min(1.0, delay * 2)


async def client_life(
    rank: int, plan: WorkerPlan, conductor: Conductor, limiter: trio.CapacityLimiter
) -> None:
    """Connect and sign in (at most ``connect_concurrency`` at a time), then follow the phases."""
    username = plan.usernames[rank]
    try:
        async with AsyncExitStack() as stack:
            async with limiter:
                ws = await stack.enter_async_context(open_websocket_url(plan.url, connect_timeout=60))
                sock = Socket(ws)
                with trio.fail_after(SIGN_IN_TIMEOUT_S):
                    new_token = await sign_in(sock, username, plan.tokens.get(username))
            if new_token is not None:
                conductor.new_tokens[username] = new_token
            conductor.tally.settle()
            await hold(rank, sock, conductor, plan.interval_s)
    except RequestFailed as refused:
        conductor.tally.settle(f"sign-in: {refused.code}")
    except ConnectionClosed as closed:
        conductor.tally.settle(f"closed: {closed.reason.code}")
    except (HandshakeError, OSError, trio.TooSlowError, ProtocolError) as error:
        conductor.tally.settle(f"connect: {type(error).__name__}")


async def hold(rank: int, sock: Socket, conductor: Conductor, interval_s: float) -> None:
    """Keep a signed-in socket until told to close; a socket the server drops stops counting."""
    conductor.held += 1
    try:
        await follow_phases(rank, sock, conductor, interval_s)
    except ConnectionClosed:
        pass  # counted by the phase it broke, and in the parent's "held after"
    finally:
        conductor.held -= 1


async def follow_phases(rank: int, sock: Socket, conductor: Conductor, interval_s: float) -> None:
    """Idle (answering heartbeats) between phases; take part in each phase this client is in."""
    while True:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sock.answer_heartbeats)
            await conductor.announced.wait()
            nursery.cancel_scope.cancel()
        phase = conductor.phase
        if phase is None:
            return
        if rank < phase.participants:
            phase.running += 1
            try:
                await run_phase(rank, sock, phase, interval_s)
            finally:
                phase.leave()


async def run_phase(rank: int, sock: Socket, phase: Phase, interval_s: float) -> None:
    """Paced: one echo per interval, staggered by rank. Saturation: back-to-back echoes."""
    result = phase.result
    paced = phase.name == "paced"
    next_send = phase.start + (rank / phase.participants) * interval_s if paced else phase.start
    await trio.sleep_until(next_send)
    while trio.current_time() < phase.end:
        sent = trio.current_time()
        if paced and sent - next_send > interval_s:
            result.late_sends += 1
        try:
            with trio.fail_after(ECHO_TIMEOUT_S):
                await sock.request("echo", ECHO_BODY)
            result.latencies.append(trio.current_time() - sent)
        except RequestFailed as refused:
            result.errors[refused.code] += 1
            if refused.retry_after is not None:
                await trio.sleep(refused.retry_after)  # or the server closes us for rate abuse
        except trio.TooSlowError:
            result.errors["client timeout"] += 1
        except ConnectionClosed as closed:
            result.errors[f"closed {closed.reason.code}"] += 1
            raise
        if paced:
            next_send += interval_s
            await trio.sleep_until(next_send)


def trio_time_of(wall: float) -> float:
    """Translate a ``time.time()`` instant into Trio's clock (which has its own offset)."""
    return trio.current_time() + (wall - time.time())


async def run_worker(plan: WorkerPlan, pipe: Pipe) -> None:
    """Connect every client, report, then obey the parent's phase commands until ``close``."""
    conductor = Conductor(len(plan.usernames))
    limiter = trio.CapacityLimiter(plan.connect_concurrency)
    async with trio.open_nursery() as nursery:
        for rank in range(len(plan.usernames)):
            nursery.start_soon(client_life, rank, plan, conductor, limiter)
        await conductor.tally.settled.wait()
        pipe.send(("connected", conductor.tally.connected, conductor.tally.errors, conductor.new_tokens))
        while True:
            command = await trio.to_thread.run_sync(pipe.recv)
            if command[0] == "close":
                conductor.announce(None)
                break
            await drive_phase(conductor, pipe, *command)
    pipe.send(("closed",))


async def drive_phase(
    conductor: Conductor, pipe: Pipe, name: str, wall_start: float, duration_s: float, participants: int
) -> None:
    """Run one phase and send its result; ``held`` tells the parent how many sockets survived."""
    start = trio_time_of(wall_start)
    phase = Phase(name, start, start + duration_s, participants)
    conductor.announce(phase)
    await trio.sleep_until(phase.end)
    if phase.running:
        await phase.drained.wait()
    pipe.send(("done", phase.result, conductor.held))


def worker_main(plan: WorkerPlan, pipe: Pipe) -> None:
    """Process entry point (multiprocessing target)."""
    trio.run(run_worker, plan, pipe)
