"""One public port: ``/ws`` on our websocket transport, every other request on hypercorn.

We accept each TCP connection ourselves and read its first request head (h11, through
:class:`edges.websocket.handshake.RequestHead`). A request for ``/ws`` gets our handshake, then a
:class:`~edges.websocket.trio_io.TrioWebSocket` under the connection loop — no ASGI in between.
Anything else (HTTP/1.1 with keep-alive, uploads with streaming bodies, h2c or HTTP/2 prior
knowledge, bytes that are no HTTP at all) is handed to hypercorn's own per-connection server,
``TCPServer``, over a :class:`PrefixedStream` that replays the bytes already read: hypercorn serves
the connection as if nobody had touched it. Later requests on a kept-alive HTTP connection stay
with hypercorn, which has no websocket route any more (browsers open a fresh connection for each
websocket, so ``/ws`` always arrives as a first request).

:meth:`PublicPort.serve` is hypercorn's ``worker_serve`` (``hypercorn/trio/run.py``, 0.18) with the
listener replaced: the same lifespan, the same graceful stop (idle keep-alive connections closed,
requests in flight given ``graceful_timeout``), and the bound addresses reported the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import cast

import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ASGIFramework, ConnectionState, LifespanState
from hypercorn.utils import repr_socket_addr, wrap_app

from edges.context import EdgeRuntime
from edges.websocket.handshake import RequestHead
from edges.websocket.trio_io import handshake, read_head
from edges.ws.endpoint import open_connection
from protocol.errors import CloseCode

WEBSOCKET_PATH = "/ws"

HandOff = Callable[[trio.abc.Stream], Awaitable[None]]


class PrefixedStream(trio.abc.HalfCloseableStream):
    """A socket stream whose first reads return ``prefix``, the bytes already read from it.

    ``socket`` is there for hypercorn (it reads the peer's address from it); there is no
    ``do_handshake``, which is how hypercorn tells a plain stream from a TLS one.
    """

    def __init__(self, stream: trio.SocketStream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix
        self.socket = stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if not self._prefix:
            return bytes(await self._stream.receive_some(max_bytes))
        await trio.lowlevel.checkpoint()
        cut = len(self._prefix) if max_bytes is None else max_bytes
        data, self._prefix = self._prefix[:cut], self._prefix[cut:]
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


class PublicPort:
    """The server's one listening port (the ``http`` child of the tree runs :meth:`serve`)."""

    def __init__(self, runtime: EdgeRuntime, http_app: ASGIFramework, config: Config) -> None:
        self._runtime = runtime
        self._app = wrap_app(http_app, config.wsgi_max_body_size, "asgi")
        self._config = config
        self._reading_heads: set[trio.CancelScope] = set()
        self._stopping = False

    async def serve(
        self,
        *,
        shutdown_trigger: Callable[[], Awaitable[None]],
        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until ``shutdown_trigger`` returns, then stop gracefully; reports the bound
        ``http://host:port`` addresses to ``task_status``."""
        config = self._config
        config.set_statsd_logger_class(StatsdLogger)
        lifespan_state: LifespanState = {}
        lifespan = Lifespan(self._app, config, lifespan_state)
        context = WorkerContext(None)  # no max_requests: this process is not a recyclable worker
        async with trio.open_nursery() as lifespan_nursery:
            await lifespan_nursery.start(lifespan.handle_lifespan)
            await lifespan.wait_for_startup()
            sockets = config.create_sockets().insecure_sockets
            for sock in sockets:
                sock.listen(config.backlog)
            listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(sock)) for sock in sockets]
            hand_off = partial(TCPServer, self._app, config, context, ConnectionState(lifespan_state.copy()))
            async with trio.open_nursery() as connections:
                task_status.started(
                    [f"http://{repr_socket_addr(s.family, s.getsockname())}" for s in sockets]
                )
                try:
                    async with trio.open_nursery() as accepting:
                        accepting.start_soon(
                            partial(
                                trio.serve_listeners,
                                partial(self._connection, _hypercorn(hand_off)),
                                listeners,
                                handler_nursery=connections,
                            )
                        )
                        await shutdown_trigger()
                        accepting.cancel_scope.cancel()
                finally:
                    with trio.CancelScope(shield=True):
                        for listener in listeners:
                            await listener.aclose()
                        await context.terminated.set()  # hypercorn closes its idle connections
                    self._stop_reading_heads()
                    connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
            await lifespan.wait_for_shutdown()
            lifespan_nursery.cancel_scope.cancel()

    async def _connection(self, hand_off: HandOff, stream: trio.SocketStream) -> None:
        async with stream:
            if self._stopping:
                return
            head = RequestHead(self._config.h11_max_incomplete_size)
            raw = b""
            # hypercorn's own rule for a connection that sends no request: closed after keep_alive_timeout
            with trio.move_on_after(self._config.keep_alive_timeout) as waiting:
                self._reading_heads.add(waiting)
                try:
                    raw = await read_head(stream, head)
                finally:
                    self._reading_heads.discard(waiting)
            if not head.done:  # silent, gone, or the server is stopping
                return
            if head.path == WEBSOCKET_PATH:
                await self._websocket(stream, head)
            else:
                await hand_off(PrefixedStream(stream, raw))

    async def _websocket(self, stream: trio.SocketStream, head: RequestHead) -> None:
        runtime = self._runtime
        websocket = await handshake(
            stream, head, max_message_bytes=runtime.settings.websocket_max_message_bytes, peer=_peer(stream)
        )
        if websocket is None:
            return
        try:
            if not runtime.root.running.is_set():
                await websocket.close(int(CloseCode.GOING_AWAY), "server is not ready")
                return
            await open_connection(websocket, runtime.services).serve()
        finally:
            await websocket.aclose()

    def _stop_reading_heads(self) -> None:
        """Stopping: connections still silent are closed now rather than after their timeout."""
        self._stopping = True
        for scope in self._reading_heads:
            scope.cancel()


def _hypercorn(server: Callable[[trio.SSLStream[trio.SocketStream]], TCPServer]) -> HandOff:
    """hypercorn's ``TCPServer`` run on any stream: its annotation says TLS stream, but it serves
    a plain one (it probes for ``do_handshake``), which is all a :class:`PrefixedStream` is."""

    async def run(stream: trio.abc.Stream) -> None:
        await server(cast("trio.SSLStream[trio.SocketStream]", stream)).run()

    return run


def _peer(stream: trio.SocketStream) -> str | None:
    """The client's IP address (what the per-address socket cap counts)."""
    try:
        name = stream.socket.getpeername()
    except OSError:
        return None
    return str(name[0]) if isinstance(name, tuple) else None
