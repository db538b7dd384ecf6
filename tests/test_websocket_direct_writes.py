"""Writes that do not wait (``TrioWebSocket.send_now``), on a real socket pair: a frame the socket
has room for is on the wire before the caller's next checkpoint; what it has no room for is kept,
counted, written first by the next write, and nothing is reordered."""

from __future__ import annotations

import socket

import trio
import trio.testing

from edges.websocket.connection import WebSocketConnection
from edges.websocket.frames import Opcode, encode_frame
from edges.websocket.trio_io import TrioWebSocket


async def socket_pair(send_buffer: int | None = None) -> tuple[TrioWebSocket, trio.SocketStream]:
    ours, theirs = trio.socket.socketpair()
    if send_buffer is not None:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, send_buffer)
    server = TrioWebSocket(trio.SocketStream(ours), WebSocketConnection(1 << 20), peer=None)
    return server, trio.SocketStream(theirs)


async def read_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive_some(size - len(data))
    return data


async def test_a_frame_the_socket_has_room_for_is_written_by_the_caller_at_once() -> None:
    server, client = await socket_pair()
    assert server.send_now(b"hello")
    assert server.pending == 0
    expected = encode_frame(Opcode.BINARY, b"hello")
    with trio.fail_after(5):
        assert await read_exactly(client, len(expected)) == expected


async def test_what_the_socket_cannot_take_is_kept_and_written_first_in_order() -> None:
    server, client = await socket_pair(send_buffer=4096)
    big = bytes(range(256)) * 1024  # 256 KiB: far more than the buffers hold
    assert server.send_now(big)
    left = server.pending
    assert 0 < left < len(big) + 14, "part was written, the rest is pending"
    assert not server.send_now(b"later"), "nothing overtakes pending bytes"
    expected = encode_frame(Opcode.BINARY, big) + encode_frame(Opcode.BINARY, b"after")
    received = b""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.send, b"after")  # waits for the socket, pending bytes first

        with trio.fail_after(10):
            received = await read_exactly(client, len(expected))
    assert received == expected and server.pending == 0


async def test_send_now_declines_while_a_write_is_under_way_or_the_socket_is_not_plain() -> None:
    server, _client = await socket_pair(send_buffer=4096)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.send, bytes(1 << 20))  # blocks: nobody reads yet
        await trio.testing.wait_all_tasks_blocked()
        assert not server.send_now(b"x"), "a write holds the socket"
        nursery.cancel_scope.cancel()
    a, _b = trio.testing.memory_stream_pair()
    in_memory = TrioWebSocket(a, WebSocketConnection(1 << 20), peer=None)
    assert not in_memory.send_now(b"x"), "no socket to write to without waiting"
