"""A socket-free pipe between a load-test client and a server ``Connection`` in the same process.

The in-process mode of ``viora load`` measures the actor layer alone: frames go from the client
straight into :class:`edges.ws.connection.Connection` (the same decode, guard, handlers,
session actors, feed actors and stores as behind a websocket) with no TCP, no websocket framing and
no hypercorn. Both directions are bounded channels, so a slow reader applies back-pressure as a
socket buffer would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from trio_websocket import CloseReason, ConnectionClosed

from edges.ws.context import Services
from edges.ws.endpoint import open_connection
from protocol.errors import CloseCode

PIPE_FRAMES = 256
"""Frames buffered each way: roughly what a loopback socket holds for small frames."""


class _ServerEnd:
    """The :class:`~edges.ws.context.Transport` the server's ``Connection`` uses."""

    peer: str | None = None
    """No network address: the per-address socket cap does not apply in process."""

    def __init__(self, pipe: MemoryPipe) -> None:
        self._pipe = pipe

    async def receive(self) -> bytes | str | None:
        try:
            return await self._pipe.to_server_receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return None

    async def send(self, data: bytes) -> None:
        await self._pipe.to_client_send.send(data)

    async def send_many(self, messages: list[bytes]) -> None:
        for data in messages:
            await self.send(data)

    def send_now(self, data: bytes) -> bool:
        try:
            self._pipe.to_client_send.send_nowait(data)
        except trio.WouldBlock:
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return True  # the client is gone: the reader learns it
        return True

    pending = 0
    """A message is in the pipe whole or not at all."""

    async def flush(self) -> None:
        return None

    async def close(self, code: int, reason: str) -> None:
        self._pipe.close_reason = CloseReason(code, reason)
        await self._pipe.to_client_send.aclose()


class MemoryPipe:
    """The client end (a :class:`viora.client.MessageSocket`) of an in-process connection."""

    def __init__(self) -> None:
        self.to_server_send, self.to_server_receive = trio.open_memory_channel[bytes | str](PIPE_FRAMES)
        self.to_client_send, self.to_client_receive = trio.open_memory_channel[bytes](PIPE_FRAMES)
        self.close_reason: CloseReason | None = None
        self.server_end = _ServerEnd(self)

    async def send_message(self, message: bytes | str) -> None:
        try:
            await self.to_server_send.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ConnectionClosed(self.close_reason) from None

    async def get_message(self) -> bytes | str:
        try:
            return await self.to_client_receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise ConnectionClosed(
                self.close_reason or CloseReason(int(CloseCode.NORMAL), "closed")
            ) from None

    async def aclose(self) -> None:
        """Hang up, as a client closing its socket does: the server sees its peer gone."""
        await self.to_server_send.aclose()


@asynccontextmanager
async def open_pipe(services: Services) -> AsyncIterator[MemoryPipe]:
    """Serve a fresh ``Connection`` over a pipe for as long as the block runs."""
    pipe = MemoryPipe()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(open_connection(pipe.server_end, services).serve)
        try:
            yield pipe
        finally:
            await pipe.aclose()
