"""The websocket transport without sockets: the handshake, the frame codec and the protocol state
machine fed bytes directly, and the Trio layer over in-memory streams.

Client frames are built here by hand (a per-byte XOR, independent of the codec under test) and the
server's answers parsed by hand, so the tests check the bytes on the wire, not the codec against
itself."""

from __future__ import annotations

import base64
import os
import struct

import h11
import pytest
import trio
import trio.testing

from edges.websocket.connection import (
    Close,
    Message,
    Ping,
    Pong,
    State,
    WebSocketClosed,
    WebSocketConnection,
)
from edges.websocket.frames import encode_frame, rotate_mask, unmask
from edges.websocket.handshake import RequestHead, accept_token
from edges.websocket.trio_io import handshake, read_head

MASK = b"\x37\xfa\x21\x3d"
TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def client_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    mask: bytes = MASK,
) -> bytes:
    """A frame as a client sends it (masked), built without the codec under test."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        header = bytes((first, bit | n))
    elif n < 65536:
        header = struct.pack("!BBH", first, bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, bit | 127, n)
    if not masked:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each unmasked, final frame in ``data`` — what a server must send."""
    frames = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert first & 0xF0 == 0x80, "final, no reserved bits"
        assert not second & 0x80, "server frames are not masked"
        n, pos = second & 0x7F, pos + 2
        if n == 126:
            (n,), pos = struct.unpack_from("!H", data, pos), pos + 2
        elif n == 127:
            (n,), pos = struct.unpack_from("!Q", data, pos), pos + 8
        frames.append((first & 0x0F, data[pos : pos + n]))
        pos += n
    return frames


def close_code(data: bytes) -> int:
    [(opcode, payload)] = server_frames(data)
    assert opcode == CLOSE
    return int(struct.unpack_from("!H", payload)[0])


def ws(limit: int = 1 << 20) -> WebSocketConnection:
    return WebSocketConnection(max_message_bytes=limit)


# --------------------------------------------------------------------------- handshake

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example


def request(
    *,
    method: str = "GET",
    version: str = "1.1",
    key: bytes | None = KEY,
    extra: str = "",
    upgrade: str = "websocket",
    connection: str = "keep-alive, Upgrade",
    ws_version: str = "13",
) -> bytes:
    lines = [f"{method} /ws?x=1 HTTP/{version}", "Host: example.com"]
    if upgrade:
        lines.append(f"Upgrade: {upgrade}")
    if connection:
        lines.append(f"Connection: {connection}")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key.decode()}")
    if ws_version:
        lines.append(f"Sec-WebSocket-Version: {ws_version}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def answer_to(data: bytes) -> tuple[h11.Response | h11.InformationalResponse, bytes]:
    head = RequestHead()
    head.receive_data(data)
    assert head.done and head.request is not None
    answer = head.answer()
    client = h11.Connection(h11.CLIENT)
    client.send(
        h11.Request(
            method="GET",
            target="/ws",
            headers=[("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade")],
        )
    )
    client.receive_data(answer.data)
    response = client.next_event()
    assert isinstance(response, h11.Response | h11.InformationalResponse)
    body = b""
    if isinstance(response, h11.Response):
        assert not answer.accepted
        while isinstance(event := client.next_event(), h11.Data):
            body += event.data
    else:
        assert answer.accepted
    return response, body


def test_the_accept_token_is_the_rfc_example() -> None:
    assert accept_token(KEY) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_valid_handshake_is_answered_101_with_the_accept_hash() -> None:
    response, _ = answer_to(request())
    assert response.status_code == 101
    headers = dict(response.headers)
    assert headers[b"sec-websocket-accept"] == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert headers[b"upgrade"] == b"websocket" and headers[b"connection"].lower() == b"upgrade"
    assert b"sec-websocket-extensions" not in headers, "no extension is negotiated"


def test_the_path_drops_the_query_and_early_frames_are_kept() -> None:
    head = RequestHead()
    frame = client_frame(TEXT, b"early")
    head.receive_data(request() + frame)
    assert head.path == "/ws"
    assert head.trailing == frame


def test_a_head_arriving_byte_by_byte_completes_on_its_last_byte() -> None:
    head = RequestHead()
    data = request()
    for i in range(len(data) - 1):
        head.receive_data(data[i : i + 1])
        assert not head.done
    head.receive_data(data[-1:])
    assert head.request is not None


@pytest.mark.parametrize(
    ("kwargs", "status", "header"),
    [
        ({"upgrade": ""}, 426, (b"upgrade", b"websocket")),  # a plain GET /ws
        ({"ws_version": "8"}, 426, (b"sec-websocket-version", b"13")),
        ({"ws_version": ""}, 426, (b"sec-websocket-version", b"13")),
        ({"method": "POST", "extra": "Content-Length: 0\r\n"}, 400, None),
        ({"connection": "keep-alive"}, 400, None),
        ({"key": None}, 400, None),
        ({"key": b"c2hvcnQ="}, 400, None),  # 5 bytes
        ({"key": b"not base64!!"}, 400, None),
        ({"version": "1.0"}, 400, None),
    ],
)
def test_bad_handshakes_are_refused_with_an_http_answer(
    kwargs: dict[str, object], status: int, header: tuple[bytes, bytes] | None
) -> None:
    response, body = answer_to(request(**kwargs))  # type: ignore[arg-type]
    assert response.status_code == status
    headers = dict(response.headers)
    assert headers[b"connection"] == b"close"
    assert body, "the answer says what was wrong"
    if header is not None:
        assert headers[header[0]] == header[1]


def test_bytes_that_are_no_http_head_are_flagged() -> None:
    garbage = RequestHead()
    garbage.receive_data(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64) + b"\r\n\r\n"
    )  # TLS hello
    assert garbage.invalid and garbage.request is None
    huge = RequestHead(max_bytes=1024)
    huge.receive_data(b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 2048)
    assert huge.invalid


# --------------------------------------------------------------------------- codec


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 125, 1023, 1024, 1025, 4099, 70_000])
def test_unmask_is_the_xor_with_the_repeated_mask(n: int) -> None:
    payload = os.urandom(n)
    expected = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    assert unmask(payload, MASK) == expected
    # unmasked in pieces, the mask turned by what went before, it is the same
    cut = n // 3
    assert unmask(payload[:cut], MASK) + unmask(payload[cut:], rotate_mask(MASK, cut)) == expected


@pytest.mark.parametrize(("n", "header"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_server_frames_have_the_shortest_header(n: int, header: int) -> None:
    frame = encode_frame(BINARY, b"x" * n)
    assert len(frame) == header + n
    assert server_frames(frame) == [(BINARY, b"x" * n)]


# --------------------------------------------------------------------------- messages


def test_text_and_binary_messages() -> None:
    conn = ws()
    events = conn.receive_data(client_frame(TEXT, "κόσμε".encode()) + client_frame(BINARY, b"\x00\xff"))
    assert events == [Message("κόσμε"), Message(b"\x00\xff")]
    assert conn.data_to_send() == b""


def test_frames_fed_one_byte_at_a_time() -> None:
    conn = ws()
    data = client_frame(TEXT, b"hello", fin=False) + client_frame(CONTINUATION, "é".encode() * 100)
    events = []
    for i in range(len(data)):
        events += conn.receive_data(data[i : i + 1])
    assert events == [Message("hello" + "é" * 100)]


def test_a_fragmented_message_with_a_ping_in_the_middle() -> None:
    conn = ws()
    events = conn.receive_data(
        client_frame(BINARY, b"frag1-", fin=False)
        + client_frame(PING, b"are you there")
        + client_frame(CONTINUATION, b"frag2-", fin=False)
        + client_frame(PONG, b"unsolicited")
        + client_frame(CONTINUATION, b"end")
    )
    assert events == [Ping(b"are you there"), Pong(b"unsolicited"), Message(b"frag1-frag2-end")]
    assert server_frames(conn.data_to_send()) == [(PONG, b"are you there")]


def test_empty_messages_and_empty_fragments() -> None:
    conn = ws()
    events = conn.receive_data(
        client_frame(TEXT, b"")
        + client_frame(BINARY, b"")
        + client_frame(TEXT, b"", fin=False)
        + client_frame(CONTINUATION, b"", fin=False)
        + client_frame(CONTINUATION, b"")
    )
    assert events == [Message(""), Message(b""), Message("")]


@pytest.mark.parametrize(
    "data",
    [
        client_frame(TEXT, b"not masked", masked=False),
        client_frame(TEXT, b"rsv", rsv=1),
        client_frame(TEXT, b"rsv", rsv=4),
        client_frame(0x3, b"reserved data opcode"),
        client_frame(0xB, b"reserved control opcode"),
        client_frame(CONTINUATION, b"nothing to continue"),
        client_frame(TEXT, b"a", fin=False) + client_frame(TEXT, b"b"),  # a new message mid-fragments
        client_frame(PING, b"fragmented", fin=False),
        client_frame(PING, b"x" * 126),
    ],
)
def test_protocol_errors_close_with_1002(data: bytes) -> None:
    conn = ws()
    conn.receive_data(data)
    assert conn.state is State.CLOSING
    assert close_code(conn.data_to_send()) == 1002


def test_a_length_with_the_top_bit_set_fails_for_good() -> None:
    conn = ws()
    conn.receive_data(bytes((0x82, 0xFF)) + struct.pack("!Q", 1 << 63) + MASK)
    assert close_code(conn.data_to_send()) == 1002
    assert conn.state is State.CLOSED  # no frame boundary after it to find a close at


# --------------------------------------------------------------------------- UTF-8


def test_utf8_split_across_fragments_and_reads_is_fine() -> None:
    conn = ws()
    data = "κόσμε 🎉".encode()
    wire = b"".join(
        client_frame(CONTINUATION if i else TEXT, data[i : i + 1], fin=i == len(data) - 1)
        for i in range(len(data))
    )
    assert conn.receive_data(wire) == [Message("κόσμε 🎉")]


def test_invalid_utf8_fails_fast_in_a_fragment_before_the_message_ends() -> None:
    conn = ws()
    conn.receive_data(client_frame(TEXT, "κόσμε".encode(), fin=False))
    assert conn.state is State.OPEN
    conn.receive_data(client_frame(CONTINUATION, b"\xf4\x90\x80\x80", fin=False))  # above U+10FFFF
    assert conn.state is State.CLOSING
    assert close_code(conn.data_to_send()) == 1007


def test_invalid_utf8_fails_fast_in_the_middle_of_a_frame() -> None:
    conn = ws()
    frame = client_frame(TEXT, "κόσμε".encode() + b"\xed\xa0\x80" + b"edited" * 1000)
    header = 2 + 2 + 4  # 16-bit length, mask
    prefix = header + len("κόσμε".encode()) + 2  # up to and with \xed\xa0: a UTF-16 surrogate already
    assert conn.receive_data(frame[: prefix - 1]) == []
    assert conn.state is State.OPEN
    conn.receive_data(frame[prefix - 1 : prefix])
    assert conn.state is State.CLOSING, "failed before the rest of the frame arrived"
    assert close_code(conn.data_to_send()) == 1007


@pytest.mark.parametrize("payload", [b"\xff", b"\xc0\xaf", "κ".encode()[:1], b"ok\xe2\x82"])
def test_invalid_or_truncated_utf8_closes_with_1007(payload: bytes) -> None:
    conn = ws()
    conn.receive_data(client_frame(TEXT, payload))
    assert close_code(conn.data_to_send()) == 1007


# --------------------------------------------------------------------------- size limit


def test_a_message_over_the_limit_is_refused_from_its_header() -> None:
    conn = ws(limit=1000)
    frame = client_frame(BINARY, b"x" * 1001)
    conn.receive_data(frame[:8])  # header only: the payload never has to arrive
    assert close_code(conn.data_to_send()) == 1009


def test_fragments_count_together_against_the_limit() -> None:
    conn = ws(limit=1000)
    assert conn.receive_data(client_frame(BINARY, b"x" * 1000)) == [Message(b"x" * 1000)]  # at the limit
    conn.receive_data(client_frame(BINARY, b"x" * 600, fin=False))
    assert conn.state is State.OPEN
    conn.receive_data(client_frame(CONTINUATION, b"x" * 401))
    assert close_code(conn.data_to_send()) == 1009


# --------------------------------------------------------------------------- closing


def test_the_peers_close_is_echoed_with_its_code() -> None:
    conn = ws()
    events = conn.receive_data(client_frame(CLOSE, struct.pack("!H", 3000) + b"bye"))
    assert events == [Close(3000, "bye")]
    assert conn.state is State.CLOSED
    assert close_code(conn.data_to_send()) == 3000


def test_an_empty_close_is_answered_with_an_empty_close() -> None:
    conn = ws()
    assert conn.receive_data(client_frame(CLOSE)) == [Close(None, "")]
    assert server_frames(conn.data_to_send()) == [(CLOSE, b"")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000])
def test_close_codes_a_peer_may_not_send_close_with_1002(code: int) -> None:
    conn = ws()
    conn.receive_data(client_frame(CLOSE, struct.pack("!H", code)))
    assert close_code(conn.data_to_send()) == 1002
    assert conn.state is State.CLOSED  # the peer closed already: nothing to wait for


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1013, 1014, 3000, 4999])
def test_close_codes_a_peer_may_send_are_echoed(code: int) -> None:
    conn = ws()
    conn.receive_data(client_frame(CLOSE, struct.pack("!H", code)))
    assert close_code(conn.data_to_send()) == code


def test_bad_close_bodies() -> None:
    one_byte = ws()
    one_byte.receive_data(client_frame(CLOSE, b"\x03"))
    assert close_code(one_byte.data_to_send()) == 1002
    bad_reason = ws()
    bad_reason.receive_data(client_frame(CLOSE, struct.pack("!H", 1000) + b"\xce\xba\xed\xa0\x80"))
    assert close_code(bad_reason.data_to_send()) == 1007
    too_long = ws()
    too_long.receive_data(client_frame(CLOSE, struct.pack("!H", 1000) + b"*" * 124))  # 126 bytes
    assert close_code(too_long.data_to_send()) == 1002
    assert too_long.state is State.CLOSED


def test_our_close_then_frames_are_skipped_until_the_peers_close() -> None:
    conn = ws()
    assert close_code(conn.send(Close(4003, "slow"))) == 4003
    assert conn.state is State.CLOSING
    events = conn.receive_data(
        client_frame(TEXT, b"late", fin=False)
        + client_frame(PING, b"late ping")
        + client_frame(CONTINUATION, b"!")
    )
    assert events == [] and conn.data_to_send() == b"", "no pong after our close"
    assert conn.receive_data(client_frame(CLOSE, struct.pack("!H", 4003))) == [Close(4003, "")]
    assert conn.state is State.CLOSED
    assert conn.data_to_send() == b"", "the peer's answer to our close is not echoed"


def test_after_a_failure_the_bad_frame_is_skipped_and_the_close_found() -> None:
    conn = ws(limit=100)
    big = client_frame(BINARY, b"x" * 5000)
    conn.receive_data(big[:1000])
    assert close_code(conn.data_to_send()) == 1009
    assert conn.receive_data(big[1000:] + client_frame(CLOSE, struct.pack("!H", 1000))) == [Close(1000, "")]
    assert conn.state is State.CLOSED


def test_answers_to_messages_before_a_close_may_still_go_out_before_it() -> None:
    conn = ws()
    events = conn.receive_data(client_frame(TEXT, b"hello") + client_frame(TEXT, b"x", rsv=2))
    assert events == [Message("hello")]
    assert conn.can_send, "the failure's close is owed, not sent yet"
    echo = conn.send(Message("hello"))
    assert server_frames(echo + conn.data_to_send())[0] == (TEXT, b"hello")
    assert not conn.can_send
    with pytest.raises(WebSocketClosed):
        conn.send(Message("too late"))


# --------------------------------------------------------------------------- the Trio layer


def handshake_bytes() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def test_over_a_stream_messages_pongs_and_the_closing_handshake() -> None:
    client, server = trio.testing.memory_stream_pair()
    # the client sends a frame right behind its handshake, without waiting for the 101
    await client.send_all(handshake_bytes() + client_frame(TEXT, b"early") + client_frame(PING, b"p"))
    head = RequestHead()
    await read_head(server, head)
    websocket = await handshake(server, head, max_message_bytes=1 << 20, peer="192.0.2.1")
    assert websocket is not None and websocket.peer == "192.0.2.1"
    assert await websocket.receive() == "early"
    await websocket.send(b"\x01binary")
    await websocket.send("text")
    answer = await client.receive_some()
    head_end = answer.index(b"\r\n\r\n") + 4
    assert answer.startswith(b"HTTP/1.1 101 ")
    assert server_frames(answer[head_end:]) == [(PONG, b"p"), (BINARY, b"\x01binary"), (TEXT, b"text")]

    await websocket.close(4001, "signed out")
    assert close_code(await client.receive_some()) == 4001
    async with trio.open_nursery() as nursery:
        nursery.start_soon(websocket.aclose)  # waits for the peer's close, then drops the stream
        await client.send_all(client_frame(CLOSE, struct.pack("!H", 4001)))
    assert await client.receive_some() == b"", "closed after the closing handshake"
    await websocket.send(b"after the end")  # dropped, not raised


async def test_over_a_stream_the_peers_close_ends_receive() -> None:
    client, server = trio.testing.memory_stream_pair()
    await client.send_all(
        handshake_bytes() + client_frame(TEXT, b"last words") + client_frame(CLOSE, struct.pack("!H", 1000))
    )
    head = RequestHead()
    await read_head(server, head)
    websocket = await handshake(server, head, max_message_bytes=1 << 20)
    assert websocket is not None
    assert await websocket.receive() == "last words"
    await websocket.send("answered before the close echo")
    assert await websocket.receive() is None
    await websocket.aclose()
    data = b""
    while chunk := await client.receive_some():
        data += chunk
    frames = server_frames(data[data.index(b"\r\n\r\n") + 4 :])
    assert frames == [(TEXT, b"answered before the close echo"), (CLOSE, struct.pack("!H", 1000))]
