"""The opening handshake (RFC 6455 §4.2), sans-IO: an HTTP/1.1 request head parsed with h11, then
answered with 101 and the accept hash, or refused with an HTTP answer that says what was wrong.

Only the head is read here. Whoever owns the socket looks at the request first and decides whether
it is for the websocket at all: :mod:`edges.port` hands every other request, bytes untouched, to
hypercorn; the echo server refuses it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import h11

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""Appended to the client's key before hashing (§1.3): proof that the server speaks websocket."""

MAX_HEAD_BYTES = 16 * 1024
"""A request head longer than this (16 KiB, as hypercorn's h11 allows) is no websocket handshake."""


def accept_token(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for the client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


@dataclass(frozen=True, slots=True)
class Answer:
    data: bytes
    """The HTTP response to write."""
    accepted: bool
    """True: 101 sent, websocket frames follow; False: a refusal, the connection is to be closed."""


class RequestHead:
    """An HTTP/1.x request head read from bytes as they arrive, and the websocket answer to it."""

    def __init__(self, max_bytes: int = MAX_HEAD_BYTES) -> None:
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_bytes)
        self.request: h11.Request | None = None
        self.invalid = False
        """The bytes are no HTTP/1.x request head (HTTP/2, TLS, garbage, a head over ``max_bytes``)."""

    @property
    def done(self) -> bool:
        return self.request is not None or self.invalid

    def receive_data(self, data: bytes) -> None:
        self._h11.receive_data(data)
        try:
            event = self._h11.next_event()
        except h11.RemoteProtocolError:
            self.invalid = True
            return
        if isinstance(event, h11.Request):
            self.request = event

    @property
    def path(self) -> str | None:
        """The request target without its query, once the head is complete."""
        if self.request is None:
            return None
        return self.request.target.split(b"?", 1)[0].decode("ascii", "replace")

    @property
    def trailing(self) -> bytes:
        """Bytes that came after the head: frames a client sent without waiting for our 101."""
        return bytes(self._h11.trailing_data[0])

    def answer(self) -> Answer:
        """101 for a valid websocket handshake; otherwise 400, or 426 (with the ``Upgrade`` or
        ``Sec-WebSocket-Version`` header the client should have sent)."""
        request = self.request
        if request is None:
            raise RuntimeError("answer() before the request head is complete")
        if request.http_version != b"1.1":
            return self._refuse(400, "a websocket handshake is an HTTP/1.1 request")
        if request.method != b"GET":
            return self._refuse(400, "a websocket handshake is a GET request")
        if b"websocket" not in _tokens(request, b"upgrade"):
            return self._refuse(426, "this endpoint speaks websocket only", [(b"upgrade", b"websocket")])
        if b"upgrade" not in _tokens(request, b"connection"):
            return self._refuse(400, "a websocket handshake needs Connection: Upgrade")
        if _tokens(request, b"sec-websocket-version") != [b"13"]:
            return self._refuse(426, "websocket version 13 only", [(b"sec-websocket-version", b"13")])
        keys = [value for name, value in request.headers if name == b"sec-websocket-key"]
        if len(keys) != 1 or not _valid_key(keys[0]):
            return self._refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64")
        response = h11.InformationalResponse(
            status_code=101,
            headers=[
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
                (b"sec-websocket-accept", accept_token(keys[0].strip())),
            ],
        )
        return Answer(self._h11.send(response) or b"", accepted=True)

    def _refuse(self, status: int, why: str, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
        body = why.encode() + b"\n"
        response = h11.Response(
            status_code=status,
            headers=[
                *(headers or []),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        )
        data = b"".join(
            self._h11.send(event) or b"" for event in (response, h11.Data(data=body), h11.EndOfMessage())
        )
        return Answer(data, accepted=False)


def _tokens(request: h11.Request, name: bytes) -> list[bytes]:
    """The comma-separated values of every ``name`` header, lower-cased (h11 lower-cases names)."""
    return [
        token.strip().lower()
        for header, value in request.headers
        if header == name
        for token in value.split(b",")
        if token.strip()
    ]


def _valid_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except binascii.Error:
        return False
