"""``python -m edges.websocket.echo --port N``: a websocket echo server on our transport, for
Autobahn|Testsuite (``scripts/autobahn``, ``tests/test_autobahn.py``).

It runs the very code ``/ws`` runs — :func:`~edges.websocket.trio_io.read_head`,
:func:`~edges.websocket.trio_io.handshake`, :class:`~edges.websocket.trio_io.TrioWebSocket` — with
every message sent back as it came (text as text, binary as binary). It is a module of the package
it tests rather than a ``viora`` subcommand because it needs nothing of the server: no settings,
no database, no supervision tree — it starts in a blink and exercises the transport alone. Every
path is the echo endpoint; a request that is no websocket handshake is refused (400 or 426).

``--port 0`` picks a free port; the first line printed is the URL the server listens on.
"""

from __future__ import annotations

import argparse
import contextlib
from functools import partial

import trio

from edges.websocket.handshake import RequestHead
from edges.websocket.trio_io import handshake, read_head

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Autobahn's largest messages (cases 9.1.6 and 9.2.6) are exactly 16 MiB."""


async def echo(stream: trio.SocketStream, *, max_message_bytes: int) -> None:
    """Serve one connection: the handshake, then every message back until the peer closes."""
    async with stream:
        head = RequestHead()
        await read_head(stream, head)
        if head.request is None:
            return
        websocket = await handshake(stream, head, max_message_bytes=max_message_bytes)
        if websocket is None:
            return
        try:
            while (message := await websocket.receive()) is not None:
                await websocket.send(message)
        finally:
            await websocket.aclose()


async def serve(
    host: str,
    port: int,
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Echo on ``host:port`` until cancelled; reports the bound port to ``task_status``."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(partial(echo, max_message_bytes=max_message_bytes), listeners)


async def _main(args: argparse.Namespace) -> None:
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(serve, args.host, args.port, max_message_bytes=args.max_message_bytes)
        )
        print(f"ws://{args.host}:{port}/", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m edges.websocket.echo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="0 picks a free one (default 9001)")
    parser.add_argument("--max-message-bytes", type=int, default=MAX_MESSAGE_BYTES)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is stopped
        trio.run(_main, args)


if __name__ == "__main__":
    main()
