"""The registry of message types: the single source of truth for validation and docs.

A message is declared once, as a :class:`MessageSpec`; the server validates request
bodies against it and ``protocol.docs`` renders PROTOCOL.md from it, so the two cannot
drift apart. Adding a message is one :func:`register` call in the catalogue at the end
of this module (kept here so that importing the registry always yields every message);
the handler still checks what a schema cannot express (character sets, business rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from protocol.codec import Request
from protocol.errors import ErrorCode, ProtocolError, RequestId

FieldType = Literal["str", "int", "float", "bool", "map", "list", "any"]
Direction = Literal["client", "server"]

_SIZED_TYPES = frozenset({"str", "list", "map"})
_ACCEPTED: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "map": (dict,),
    "list": (list,),
}
"""Exact decoded types each field type takes; exact, so that a bool never passes as an int."""
_WIRE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", dict: "map", list: "list", bytes: "bin"}


@dataclass(frozen=True, slots=True)
class Field:
    """One body field. ``min_len``/``max_len`` bound the length of str, list and map values.

    ``float`` fields also accept integers (many msgpack encoders write ``1.0`` as ``1``),
    while ``int`` fields never accept ``True``/``False`` even though Python's bool is an int.
    """

    name: str
    type: FieldType
    description: str
    required: bool = True
    max_len: int | None = None
    min_len: int | None = None

    def __post_init__(self) -> None:
        if self.type != "any" and self.type not in _ACCEPTED:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        sized = self.max_len is not None or self.min_len is not None
        if sized and self.type not in _SIZED_TYPES:
            raise ValueError(f"field {self.name!r}: only str, list and map fields have a length")


@dataclass(frozen=True)
class MessageSpec:
    """A message type in one direction.

    ``auth`` defaults to True so that forgetting it fails closed. Server messages never
    expect a reply; ``stream`` names the push stream of server events delivered as pushes.
    """

    type: str
    direction: Direction
    summary: str
    auth: bool = True
    body: tuple[Field, ...] = ()
    reply: tuple[Field, ...] = ()
    replies: bool = True
    stream: str | None = None
    _fields: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.direction == "server" and (self.replies or self.auth):
            raise ValueError(f"{self.type}: server messages take neither replies nor auth")
        if not self.replies and self.reply:
            raise ValueError(f"{self.type}: a message without replies cannot declare reply fields")
        if self.stream is not None and self.direction != "server":
            raise ValueError(f"{self.type}: only server messages are pushed on a stream")
        by_name = {f.name: f for f in self.body}
        if len(by_name) != len(self.body):
            raise ValueError(f"{self.type}: duplicate body field names")
        object.__setattr__(self, "_fields", by_name)


REGISTRY: dict[str, MessageSpec] = {}
"""Client messages by type: what the server accepts and dispatches on."""
SERVER_MESSAGES: dict[str, MessageSpec] = {}
"""Server messages by type (heartbeats, errors, pushes). Kept apart from REGISTRY because
a type may exist in both directions with different meanings (``ping``)."""


def register(spec: MessageSpec) -> MessageSpec:
    """Add ``spec`` to the registry of its direction; a type can be declared only once."""
    table = REGISTRY if spec.direction == "client" else SERVER_MESSAGES
    if spec.type in table:
        raise ValueError(f"{spec.direction} message {spec.type!r} is already registered")
    table[spec.type] = spec
    return spec


def client_message(type: str, ref: RequestId = None) -> MessageSpec:
    """The spec of client message ``type``; ``ref`` is echoed in the error if there is none."""
    spec = REGISTRY.get(type)
    if spec is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {type!r}", ref=ref)
    return spec


def _type_error(f: Field, value: object) -> str | None:
    """Why ``value`` does not fit ``f``, or None when it does."""
    if f.type == "any":
        return None
    if type(value) not in _ACCEPTED[f.type]:
        return f"b.{f.name}: expected {f.type}, got {_wire_type(value)}"
    if f.type in _SIZED_TYPES:
        size = len(value)  # type: ignore[arg-type]
        if f.min_len is not None and size < f.min_len:
            return f"b.{f.name}: shorter than {f.min_len}"
        if f.max_len is not None and size > f.max_len:
            return f"b.{f.name}: longer than {f.max_len}"
    return None


def _wire_type(value: object) -> str:
    """The protocol's name for a decoded value's type, for error messages."""
    return "nil" if value is None else _WIRE_NAMES.get(type(value), type(value).__name__)


def validate_body(spec: MessageSpec, request: Request) -> dict[str, Any]:
    """Check ``request.body`` against ``spec`` and return the body to hand to the handler.

    Unknown fields are refused rather than ignored so that a client typo surfaces at once
    instead of silently doing the default thing. Integers in float fields come back as floats.
    """
    body = request.body
    fields_by_name = spec._fields
    for name in body:
        if name not in fields_by_name:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"b.{name!s:.64}: unknown field", ref=request.id)
    checked: dict[str, Any] = {}
    for f in spec.body:
        if f.name not in body:
            if f.required:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"b.{f.name}: required", ref=request.id)
            continue
        value = body[f.name]
        problem = _type_error(f, value)
        if problem is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, problem, ref=request.id)
        checked[f.name] = float(value) if f.type == "float" else value
    return checked


# --- the catalogue ---------------------------------------------------------------------

_SIGNED_IN = (
    Field("user_id", "int", "The account's numeric id."),
    Field("username", "str", "The account's username."),
)
_EXPIRES_AT = Field("expires_at", "float", "Unix time at which the token stops working.")
_NEW_CREDENTIALS = (
    Field("username", "str", "Characters from `a-z`, `0-9` and `_`.", min_len=3, max_len=32),
    Field("password", "str", "The new account's password.", min_len=8, max_len=1024),
)
_CREDENTIALS = (  # no minimum lengths: a short attempt is simply a failed login
    Field("username", "str", "The account's username.", max_len=32),
    Field("password", "str", "The account's password.", max_len=1024),
)
_TOKEN_REPLY = (
    *_SIGNED_IN,
    Field("token", "str", "Session token for `auth.resume` on later connections; keep it secret."),
    _EXPIRES_AT,
)

register(
    MessageSpec(
        "auth.register",
        "client",
        "Create an account and sign this socket in.",
        auth=False,
        body=(
            *_NEW_CREDENTIALS,
            Field("display_name", "str", "Name shown to others.", required=False, max_len=64),
        ),
        reply=_TOKEN_REPLY,
    )
)
register(
    MessageSpec(
        "auth.login",
        "client",
        "Sign this socket in with a username and password.",
        auth=False,
        body=_CREDENTIALS,
        reply=_TOKEN_REPLY,
    )
)
register(
    MessageSpec(
        "auth.resume",
        "client",
        "Sign this socket in with a token from an earlier login.",
        auth=False,
        body=(Field("token", "str", "A token from `auth.register` or `auth.login`.", max_len=256),),
        reply=(*_SIGNED_IN, _EXPIRES_AT),
    )
)
register(
    MessageSpec(
        "auth.logout",
        "client",
        "Revoke this socket's token and sign it out.",
        body=(
            Field(
                "all", "bool", "Revoke every token of the user, closing all their sockets.", required=False
            ),
        ),
        reply=(Field("revoked", "int", "How many tokens were revoked."),),
    )
)
register(
    MessageSpec(
        "ping",
        "client",
        "Measure round-trip time and the server clock.",
        auth=False,
        reply=(Field("ts", "float", "The server's Unix time."),),
    )
)
register(
    MessageSpec(
        "pong",
        "client",
        "Answer a server heartbeat `ping`; send it without an id.",
        auth=False,
        replies=False,
    )
)
register(
    MessageSpec(
        "echo",
        "client",
        "Round trip through the user's session actor; used by benchmarks.",
        body=(Field("data", "any", "Any value; it comes back unchanged.", required=False),),
        reply=(Field("data", "any", "The value sent, or nil."),),
    )
)
register(
    MessageSpec(
        "session.info",
        "client",
        "Describe the session actor serving this user.",
        reply=(
            Field("user_id", "int", "The signed-in account's id."),
            Field("actor", "str", "Path of the user's SessionActor."),
            Field("incarnation", "int", "How many times that actor has been started."),
            Field("sockets", "int", "Open sockets sharing it."),
        ),
    )
)

register(
    MessageSpec(
        "ping",
        "server",
        "Heartbeat: the client must answer with `pong`, or be closed with 4000.",
        auth=False,
        replies=False,
    )
)
register(
    MessageSpec(
        "error",
        "server",
        "A request failed, or a frame could not be read.",
        auth=False,
        replies=False,
        body=(
            Field("code", "str", "A stable error code (see the table of error codes)."),
            Field("message", "str", "Human-readable detail; do not parse it."),
            Field("ref", "any", "The failed request's id, or nil when it could not be read."),
            Field(
                "retry_after",
                "float",
                "Seconds to wait before retrying; only with `rate_limited`.",
                required=False,
            ),
        ),
    )
)
register(
    MessageSpec(
        "session.signed_out",
        "server",
        "This socket was signed out elsewhere; it is closed with 4001 next.",
        auth=False,
        replies=False,
        stream="session",
        body=(Field("reason", "str", "Why the socket was signed out, for display."),),
    )
)

import protocol.intelligence_messages  # noqa: E402  (registers the intelligence catalogue)
import protocol.media_messages  # noqa: E402  (registers the media catalogue)
import protocol.messaging_messages  # noqa: E402  (registers the messaging catalogue)
import protocol.social_messages  # noqa: E402, F401  (registers the social catalogue)
