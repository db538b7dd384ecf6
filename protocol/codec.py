"""Frame codec: bytes in, typed values out, and typed values back to bytes.

Sans-IO in the manner of h11/wsproto: nothing here touches a socket or a clock, so the
server, test clients and benchmarks share one implementation of the wire format. Every
frame is one msgpack map in one binary websocket message; the envelope keys are a
single letter because they are repeated in every frame.

``decode_request`` is the trust boundary: it accepts *any* bytes and either returns a
well-formed :class:`Request` or raises :class:`ProtocolError`, nothing else, so a hostile
peer cannot crash a connection handler with a crafted frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

import msgpack

from protocol.errors import ErrorCode, ProtocolError, RequestId

PROTOCOL_VERSION = 1
MAX_ID = 2**53
"""Largest integer request id: the largest integer a JavaScript client holds exactly."""
MAX_ID_LEN = 64
"""Longest string request id, in characters."""
MAX_TYPE_LEN = 64
"""Longest message type name, in characters."""
MAX_DEPTH = 32
"""Deepest nesting of maps and lists in a client frame, its own map counting as 1: a request
needs 3 (frame, body, a list field); the rest is room for ``echo`` data."""

_REQUEST_KEYS = frozenset({"v", "id", "t", "b"})
_DECODE_FAILURES = (ValueError, TypeError, msgpack.UnpackException, RecursionError)
"""Everything ``msgpack.unpackb`` raises for bad input (ExtraData, FormatError,
StackError, UnicodeDecodeError and limit violations are all ValueErrors)."""


@dataclass(frozen=True, slots=True)
class Request:
    """One validated client frame; ``body`` is not yet checked against the message's spec."""

    id: RequestId
    type: str
    body: dict[str, Any]


ServerFrameKind = Literal["reply", "error", "push", "ping"]


@dataclass(frozen=True, slots=True)
class ServerFrame:
    """One decoded server frame, as test clients and benchmarks see it.

    ``stream`` and ``seq`` are set only for pushes; ``id`` only for replies and for errors
    that reference a request.
    """

    kind: ServerFrameKind
    id: RequestId
    type: str
    stream: str | None
    seq: int | None
    body: dict[str, Any]


def _reject_ext(code: int, data: bytes) -> object:
    """Refuse msgpack extension types: no message uses them, and handlers should only
    ever see plain JSON-like values (the timestamp extension is decoded to a float)."""
    raise ValueError(f"msgpack extension type {code} is not allowed")


def _unpack(data: bytes) -> object:
    """Unpack exactly one msgpack value.

    The container limits come from the frame's own length, so that a few bytes claiming a
    four-billion-element array are refused before anything is allocated: every element
    takes at least one byte, every map entry at least two.
    """
    size = len(data)
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=True,
        timestamp=1,
        ext_hook=_reject_ext,
        max_str_len=size,
        max_bin_len=size,
        max_array_len=size,
        max_map_len=size // 2,
        max_ext_len=size,
    )


def _too_deep(data: bytes, frame: dict[str, Any]) -> bool:
    """Whether the maps and lists of ``frame`` (decoded from ``data``) nest deeper than
    :data:`MAX_DEPTH`, so that nothing downstream (validation, handlers, packing an ``echo``
    reply) ever meets deep recursion.

    Cheap first: a frame with at most ``MAX_DEPTH`` bytes that could be a container's header
    holds at most that many containers, so it cannot nest deeper (one C-level pass; a typical
    request with ASCII text stops here). Otherwise the decoded value is walked level by level,
    without recursion; one more level than allowed is as far as it goes.
    """
    if len(data.translate(None, _NOT_CONTAINER_HEADERS)) <= MAX_DEPTH:
        return False
    level: list[Any] = [frame]
    for _ in range(MAX_DEPTH):
        items = chain.from_iterable([_values(c) if type(c) is dict else c for c in level])
        level = [item for item in items if type(item) in _CONTAINERS]
        if not level:
            return False
    return True


_values = dict.values
_CONTAINERS = (dict, list)
_CONTAINER_HEADERS = frozenset((*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF))
"""The first bytes of msgpack maps and arrays: fixmap, fixarray, array 16/32, map 16/32."""
_NOT_CONTAINER_HEADERS = bytes(b for b in range(256) if b not in _CONTAINER_HEADERS)


def _parse_id(raw: object) -> RequestId:
    if raw is None:
        return None
    if type(raw) is int:
        if 0 <= raw <= MAX_ID:
            return raw
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"id must be between 0 and {MAX_ID}")
    if type(raw) is str:
        if 0 < len(raw) <= MAX_ID_LEN:
            return raw
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a string id must have 1 to {MAX_ID_LEN} characters")
    raise ProtocolError(ErrorCode.BAD_REQUEST, "id must be an integer or a string")


def decode_request(data: bytes | str, *, max_bytes: int) -> Request:
    """Decode one client frame, enforcing the envelope rules; see the module docstring.

    A ``nil`` id or body counts as absent. Text frames are refused: the size of a str
    is measured in characters, which never exceed its UTF-8 byte length, so the size
    check cannot wave through a frame that is too large.
    """
    if len(data) > max_bytes:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, f"frames are limited to {max_bytes} bytes")
    if isinstance(data, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "binary frames only")
    try:
        frame = _unpack(data)
    except _DECODE_FAILURES as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"not a single msgpack value: {exc}") from None
    if type(frame) is not dict:
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame must be a msgpack map")
    if _too_deep(data, frame):
        raise ProtocolError(ErrorCode.BAD_FRAME, f"maps and lists may nest at most {MAX_DEPTH} deep")

    ref = _parse_id(frame.get("id"))
    version = frame.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.BAD_VERSION, f"v must be {PROTOCOL_VERSION}, got {version!r}"[:200], ref=ref
        )
    unknown = frame.keys() - _REQUEST_KEYS
    if unknown:
        names = ", ".join(sorted(repr(key) for key in unknown))
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown top-level keys: {names}"[:200], ref=ref)
    msg_type = frame.get("t")
    if type(msg_type) is not str or not 0 < len(msg_type) <= MAX_TYPE_LEN:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"t must be a string of 1 to {MAX_TYPE_LEN} characters", ref=ref
        )
    body = frame.get("b")
    if body is None:
        body = {}
    elif type(body) is not dict:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "b must be a map", ref=ref)
    return Request(ref, msg_type, body)


_local = threading.local()


def _pack(obj: dict[str, Any]) -> bytes:
    """Pack with a reused per-thread ``Packer``: about twice as fast as ``msgpack.packb``,
    which builds a new Packer per call. Per thread because a Packer owns a buffer."""
    try:
        pack = _local.pack
    except AttributeError:
        pack = _local.pack = msgpack.Packer(use_bin_type=True).pack
    packed: bytes = pack(obj)  # msgpack has no type hints: say what it returns
    return packed


def encode_reply(req_id: RequestId, type: str, body: dict[str, Any]) -> bytes:
    """The answer to request ``req_id``; ``type`` is the request's type."""
    if req_id is None:
        return _pack({"v": PROTOCOL_VERSION, "t": type, "b": body})
    return _pack({"v": PROTOCOL_VERSION, "id": req_id, "t": type, "b": body})


def encode_error(
    code: ErrorCode, message: str, ref: RequestId = None, retry_after: float | None = None
) -> bytes:
    """An error frame; ``ref`` (the failed request's id) also goes into the envelope's id
    so that clients can route errors and replies through the same lookup."""
    body: dict[str, Any] = {"code": code.value, "message": message, "ref": ref}
    if retry_after is not None:
        body["retry_after"] = retry_after
    if ref is None:
        return _pack({"v": PROTOCOL_VERSION, "t": "error", "b": body})
    return _pack({"v": PROTOCOL_VERSION, "id": ref, "t": "error", "b": body})


def error_from(exc: ProtocolError) -> bytes:
    """The error frame for a caught :class:`ProtocolError`."""
    return encode_error(exc.code, exc.message, exc.ref, exc.retry_after)


def encode_push(stream: str, seq: int, type: str, body: dict[str, Any]) -> bytes:
    """An unsolicited event; ``seq`` increases by one per frame within ``stream``."""
    return _pack({"v": PROTOCOL_VERSION, "t": type, "s": stream, "q": seq, "b": body})


def pack_body(body: dict[str, Any]) -> bytes:
    """Pack a push body once, to send it to many users with :func:`encode_push_packed`."""
    return _pack(body)


def encode_push_packed(stream: str, seq: int, type: str, packed_body: bytes) -> bytes:
    """The same frame as :func:`encode_push`, around a body packed beforehand.

    A fan-out sends one body to thousands of users, each under its own sequence number: packing
    the body once and splicing it in (a msgpack map is its entries one after the other, so the
    4-entry envelope's header just becomes a 5-entry one) saves packing it thousands of times.
    """
    envelope = _pack({"v": PROTOCOL_VERSION, "t": type, "s": stream, "q": seq})
    return bytes((_FIXMAP | 5,)) + envelope[1:] + _KEY_B + packed_body


_FIXMAP = 0x80
_KEY_B: bytes = msgpack.packb("b")

_PING: bytes = msgpack.packb({"v": PROTOCOL_VERSION, "t": "ping"}, use_bin_type=True)


def encode_ping() -> bytes:
    """The server heartbeat; it never changes, so it is packed once."""
    return _PING


def encode_request(type: str, body: dict[str, Any] | None = None, id: RequestId = None) -> bytes:
    """A client frame, for test clients and benchmarks."""
    frame: dict[str, Any] = {"v": PROTOCOL_VERSION, "t": type}
    if id is not None:
        frame["id"] = id
    if body is not None:
        frame["b"] = body
    return _pack(frame)


def decode_server_frame(data: bytes) -> ServerFrame:
    """Decode a server frame, raising ``ProtocolError(bad_frame)`` if it breaks the format.

    Classification: ``t == "error"`` is an error, a frame with a stream is a push, a
    ``ping`` with neither id nor body is a heartbeat (the answer to a ``ping`` request sent
    without an id has a body: it is a reply), anything else answers a request.
    """
    try:
        frame = msgpack.unpackb(data, raw=False)
    except _DECODE_FAILURES as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"not a single msgpack value: {exc}") from None
    if not isinstance(frame, dict) or frame.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"not a version {PROTOCOL_VERSION} map: {frame!r}"[:200])
    msg_type = frame.get("t")
    body = frame.get("b", {})
    if not isinstance(msg_type, str) or not isinstance(body, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, f"bad envelope: {frame!r}"[:200])
    req_id = frame.get("id")
    stream = frame.get("s")
    kind: ServerFrameKind
    if msg_type == "error":
        kind = "error"
    elif stream is not None:
        kind = "push"
    elif msg_type == "ping" and req_id is None and "b" not in frame:
        kind = "ping"
    else:
        kind = "reply"
    return ServerFrame(kind, req_id, msg_type, stream, frame.get("q"), body)
