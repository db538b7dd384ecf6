"""The registry of message types: the single source of truth for validation and docs.

A message is declared once, as a :class:`MessageSpec`; the server validates request
bodies against it and ``protocol.docs`` renders PROTOCOL.md from it, so the two cannot
drift apart. Adding a message is one :func:`register` call in a catalogue module
(``protocol/*_messages.py``); :mod:`protocol.messages` loads them all, so look messages up
there. The handler still checks what a schema cannot express (character sets, business rules).
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
