"""A small Viora protocol client over trio-websocket, for tests, benchmarks and scripts.

Requests are correlated with replies by id, so many may be in flight on one socket; everything
that is not a reply (pushes, heartbeats, errors that reference no request) arrives on ``events``.
Server heartbeats are answered with ``pong`` automatically unless ``auto_pong=False``.
Requests that create something carry a fresh client key, which their retries reuse (see
:meth:`Client.request`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from protocol.codec import ServerFrame, decode_server_frame, encode_request

CREATES = frozenset({"post.create", "comment.create", "dm.send"})
"""Requests that take a ``client_key``: each call of :meth:`Client.request` is one action."""
MAYBE_DONE = frozenset({"timeout", "unavailable"})
"""Error codes after which the request may or may not have happened: retried under its key."""


class ServerError(Exception):
    """The server answered a request with an error frame."""

    def __init__(self, code: str, message: str, frame: ServerFrame) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.frame = frame


class MessageSocket(Protocol):
    """What the client needs of a socket: a trio-websocket connection, or the load tester's
    in-process pipe (``viora.load.inprocess``). ``get_message`` raises ``ConnectionClosed``."""

    async def send_message(self, message: bytes | str) -> None: ...

    async def get_message(self) -> bytes | str: ...


class Client:
    def __init__(self, ws: MessageSocket, *, auto_pong: bool = True, events: int = 1024) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self._ids = itertools.count(1)
        self._pending: dict[int, trio.MemorySendChannel[ServerFrame]] = {}
        self._events_send, self.events = trio.open_memory_channel[ServerFrame](events)
        self.closed = trio.Event()
        self.close_code: int | None = None
        self.close_reason: str | None = None

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, **kwargs: Any) -> AsyncIterator[Client]:
        async with (
            open_websocket_url(url, max_message_size=16 * 1024 * 1024) as ws,
            cls.over(ws, **kwargs) as client,
        ):
            yield client

    @classmethod
    @asynccontextmanager
    async def over(cls, ws: MessageSocket, **kwargs: Any) -> AsyncIterator[Client]:
        """A client on an already open socket, reading it until the block ends."""
        client = cls(ws, **kwargs)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._read_loop)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()

    async def request(
        self, type_: str, body: dict[str, Any] | None = None, *, timeout: float = 10.0, attempts: int = 1
    ) -> Any:
        """Send a request and return the reply body; raise :class:`ServerError` for an error frame.

        A request that creates something (:data:`CREATES`) gets a fresh ``client_key`` unless
        ``body`` names one. With ``attempts`` > 1, a try that got no reply in ``timeout``, or one
        answered with a :data:`MAYBE_DONE` code, is sent again with the same body — the same key,
        so the server creates the post at most once. Retry only such requests, or idempotent ones.
        """
        if type_ in CREATES and "client_key" not in (body or {}):
            body = {**(body or {}), "client_key": str(uuid.uuid4())}
        for remaining in range(attempts - 1, -1, -1):
            try:
                return await self._request_once(type_, body, timeout)
            except (trio.TooSlowError, ServerError) as error:
                if not remaining or (isinstance(error, ServerError) and error.code not in MAYBE_DONE):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _request_once(self, type_: str, body: dict[str, Any] | None, timeout: float) -> Any:
        req_id = next(self._ids)
        send, receive = trio.open_memory_channel[ServerFrame](1)
        self._pending[req_id] = send
        try:
            await self.ws.send_message(encode_request(type_, body, req_id))
            with trio.fail_after(timeout):
                frame = await receive.receive()
        finally:
            self._pending.pop(req_id, None)
        if frame.kind == "error":
            raise ServerError(frame.body["code"], frame.body["message"], frame)
        return frame.body

    async def send(self, type_: str, body: dict[str, Any] | None = None) -> None:
        """Send a message that gets no reply (``pong``, ``typing``)."""
        await self.ws.send_message(encode_request(type_, body))

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send_message(data)

    async def next_event(self, *, timeout: float = 10.0) -> ServerFrame:
        with trio.fail_after(timeout):
            return await self.events.receive()

    async def wait_closed(self, *, timeout: float = 10.0) -> tuple[int | None, str | None]:
        with trio.fail_after(timeout):
            await self.closed.wait()
        return self.close_code, self.close_reason

    async def _read_loop(self) -> None:
        try:
            while True:
                message = await self.ws.get_message()
                frame = decode_server_frame(message if isinstance(message, bytes) else message.encode())
                waiter = self._pending.get(frame.id) if isinstance(frame.id, int) else None
                if waiter is not None:
                    waiter.send_nowait(frame)
                elif frame.kind == "ping" and self.auto_pong:
                    await self.send("pong")
                else:
                    await self._events_send.send(frame)
        except ConnectionClosed as closed:
            if closed.reason is not None:
                self.close_code = closed.reason.code
                self.close_reason = closed.reason.reason
        finally:
            self.closed.set()
