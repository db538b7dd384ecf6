"""The registry of message types and views: the single source of truth for validation and docs.

A message is declared once, as a :class:`MessageSpec`; the objects its replies and pushes are made
of (a post, a comment…) are declared once too, as views (:class:`View`). The server validates request
bodies against the specs (types, lengths, int bounds, list items, choices) and builds the objects
it sends from the views (``View.build``); the tests check every reply and push against them
(:func:`check_server_frame`), and ``protocol.docs`` renders PROTOCOL.md from them, so none of
these can drift apart. Adding a message is one :func:`register` call in a catalogue module
(``protocol/*_messages.py``), adding a view one :func:`register_view` in :mod:`protocol.views`;
:mod:`protocol.messages` loads them all, so look messages up there. Handlers check only what a
schema cannot express (character sets, business rules such as "not yourself").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sized
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from protocol.codec import Request, ServerFrame
from protocol.errors import ErrorCode, ProtocolError, RequestId

FieldType = Literal["str", "int", "float", "bool", "map", "list", "view", "any"]
ItemType = Literal["str", "int", "float", "bool", "map", "view", "any"]
"""What a list's items may be (lists of lists are not part of the protocol)."""
Direction = Literal["client", "server"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The bounds of every int field unless it declares narrower ones: what PostgreSQL's bigint holds,
so an integer the database would refuse is a ``bad_request`` before it reaches the database."""

_TYPES = frozenset(get_args(FieldType))
_ITEM_TYPES = frozenset(get_args(ItemType))
_SIZED_TYPES = frozenset({"str", "list", "map"})
_ACCEPTED: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "map": (dict,),
    "list": (list,),
    "view": (dict,),
}
"""Exact decoded types each field type takes; exact, so that a bool never passes as an int."""
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""The control characters no str may hold: all but tab, line feed and carriage return. NUL first
of all, which PostgreSQL refuses in text (a request carrying one would fail as ``internal``); the
others have no place in names or posts and only serve to garble logs and terminals."""
_WIRE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", dict: "map", list: "list", bytes: "bin"}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message body or of a view.

    ``min_len``/``max_len`` bound the length of str, list and map values. ``minimum``/``maximum``
    bound an int (or a list's int items); unset, they are the signed 64-bit range. ``items`` is the
    type of a list's items, ``choices`` the values a str (or a list's str items) may take, ``view``
    the :class:`View` that a ``"view"`` field (or a list of ``"view"`` items) holds. ``nullable``
    lets the value be nil: the server sends nil for "nothing" (a post that answers no other, a
    message never edited) rather than leaving the field out. ``added_by`` names the service that
    adds the field to a view after :meth:`View.build` (which reads only the other fields).

    ``float`` fields also accept integers (many msgpack encoders write ``1.0`` as ``1``),
    while ``int`` fields never accept ``True``/``False`` even though Python's bool is an int.
    """

    name: str
    type: FieldType
    description: str
    required: bool = True
    max_len: int | None = None
    min_len: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    items: ItemType | None = None
    choices: tuple[str, ...] | None = None
    view: View | None = None
    nullable: bool = False
    added_by: str | None = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        if self.items is not None and (self.type != "list" or self.items not in _ITEM_TYPES):
            raise ValueError(f"field {self.name!r}: only a list has items, and they are not lists")
        sized = self.max_len is not None or self.min_len is not None
        if sized and self.type not in _SIZED_TYPES:
            raise ValueError(f"field {self.name!r}: only str, list and map fields have a length")
        values = self.value_type
        if (self.minimum is not None or self.maximum is not None) and values != "int":
            raise ValueError(f"field {self.name!r}: only int values have bounds")
        low = INT64_MIN if self.minimum is None else self.minimum
        high = INT64_MAX if self.maximum is None else self.maximum
        if not INT64_MIN <= low <= high <= INT64_MAX:
            raise ValueError(f"field {self.name!r}: bounds outside the signed 64-bit range, or crossed")
        if self.choices is not None and (values != "str" or not self.choices):
            raise ValueError(f"field {self.name!r}: only str values have choices, and at least one")
        if (self.view is None) == (values == "view"):
            raise ValueError(f"field {self.name!r}: a view field (and only one) names its view")

    @property
    def value_type(self) -> FieldType:
        """The type that bounds, choices and views apply to: a list's items', or the field's own."""
        return self.items if self.type == "list" and self.items is not None else self.type


def _index(owner: str, fields: tuple[Field, ...]) -> dict[str, Field]:
    """``fields`` by name; refuses two fields of one name."""
    by_name = {f.name: f for f in fields}
    if len(by_name) != len(fields):
        raise ValueError(f"{owner}: duplicate field names")
    return by_name


@dataclass(frozen=True)
class View:
    """A named object shape that replies and pushes are made of: a post, a comment, a profile…

    Declared once and used four ways: fields of type ``"view"`` hold it, the tests check every
    frame against it, PROTOCOL.md documents it, and :meth:`build` makes it. Building reads the
    stored fields (those no service adds) by attribute name from any object (a store's dataclass),
    so this layer needs no import of the stores; one tuple of names per view keeps it as cheap as a
    hand-written dict.
    """

    name: str
    summary: str
    fields: tuple[Field, ...]
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    _stored: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _lists: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", _index(f"view {self.name}", self.fields))
        stored = [f for f in self.fields if f.added_by is None]
        object.__setattr__(self, "_stored", tuple(f.name for f in stored))
        object.__setattr__(self, "_lists", tuple(f.name for f in stored if f.type == "list"))

    def build(self, source: object) -> dict[str, Any]:
        """The view of ``source`` without the fields services add; list fields become lists (the
        stores keep tuples), so the dict is the same whether it is sent, published or compared."""
        view = {name: getattr(source, name) for name in self._stored}
        for name in self._lists:
            view[name] = list(view[name])
        return view

    def extend(self, name: str, summary: str, fields: tuple[Field, ...]) -> View:
        """A view with this one's fields and then ``fields`` (a post, and what its viewer sees)."""
        return View(name, summary, (*self.fields, *fields))


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
    _reply_fields: dict[str, Field] = field(init=False, repr=False, compare=False)
    _floats: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.direction == "server" and (self.replies or self.auth):
            raise ValueError(f"{self.type}: server messages take neither replies nor auth")
        if not self.replies and self.reply:
            raise ValueError(f"{self.type}: a message without replies cannot declare reply fields")
        if self.stream is not None and self.direction != "server":
            raise ValueError(f"{self.type}: only server messages are pushed on a stream")
        object.__setattr__(self, "_fields", _index(f"{self.type} body", self.body))
        object.__setattr__(self, "_reply_fields", _index(f"{self.type} reply", self.reply))
        object.__setattr__(self, "_floats", tuple(f.name for f in self.body if f.type == "float"))


REGISTRY: dict[str, MessageSpec] = {}
"""Client messages by type: what the server accepts and dispatches on."""
SERVER_MESSAGES: dict[str, MessageSpec] = {}
"""Server messages by type (heartbeats, errors, pushes). Kept apart from REGISTRY because
a type may exist in both directions with different meanings (``ping``)."""
VIEWS: dict[str, View] = {}
"""Views by name, in the order they were declared (PROTOCOL.md documents them in that order)."""


def register(spec: MessageSpec) -> MessageSpec:
    """Add ``spec`` to the registry of its direction; a type can be declared only once."""
    table = REGISTRY if spec.direction == "client" else SERVER_MESSAGES
    if spec.type in table:
        raise ValueError(f"{spec.direction} message {spec.type!r} is already registered")
    _require_registered_views(spec.type, (*spec.body, *spec.reply))
    table[spec.type] = spec
    return spec


def register_client(
    type_: str,
    summary: str,
    body: tuple[Field, ...] = (),
    reply: tuple[Field, ...] = (),
    *,
    replies: bool = True,
) -> MessageSpec:
    """:func:`register` a signed-in client's request: what every catalogue declares most."""
    return register(MessageSpec(type_, "client", summary, body=body, reply=reply, replies=replies))


def register_view(view: View) -> View:
    """Add ``view`` to :data:`VIEWS`; a name can be declared only once."""
    if view.name in VIEWS:
        raise ValueError(f"view {view.name!r} is already registered")
    _require_registered_views(f"view {view.name}", view.fields)
    VIEWS[view.name] = view
    return view


def _require_registered_views(owner: str, fields: tuple[Field, ...]) -> None:
    """Refuse a field holding an unregistered view: PROTOCOL.md documents only registered ones."""
    for f in fields:
        if f.view is not None and VIEWS.get(f.view.name) is not f.view:
            raise ValueError(f"{owner}: field {f.name!r} holds view {f.view.name!r}, which is not registered")


def client_message(type: str, ref: RequestId = None) -> MessageSpec:
    """The spec of client message ``type``; ``ref`` is echoed in the error if there is none."""
    spec = REGISTRY.get(type)
    if spec is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {type!r}", ref=ref)
    return spec


# ----------------------------------------------------------------------------- checking values


def _object_problem(
    fields: tuple[Field, ...], by_name: Mapping[str, Field], body: Mapping[Any, object], where: str
) -> str | None:
    """Why ``body`` is not an object of exactly ``fields`` (the first problem found), or None.

    Undeclared fields are refused rather than ignored: in a request, so that a client typo
    surfaces at once instead of silently doing the default thing; in a reply, so that the
    declared shape stays the real one.
    """
    for name in body:
        if name not in by_name:
            return f"{where}{_printable(name):.64}: unknown field"
    for f in fields:
        if f.name in body:
            problem = _field_problem(f, body[f.name], where + f.name)
            if problem is not None:
                return problem
        elif f.required:
            return f"{where}{f.name}: required"
    return None


def _field_problem(f: Field, value: object, where: str) -> str | None:
    """Why ``value`` does not fit ``f`` (``where`` names it), or None when it does."""
    if value is None and f.nullable:
        return None
    problem = _value_problem(f, f.type, value, where)
    if problem is not None:
        return problem
    if f.type in _SIZED_TYPES:
        size = len(cast(Sized, value))
        if f.min_len is not None and size < f.min_len:
            return f"{where}: shorter than {f.min_len}"
        if f.max_len is not None and size > f.max_len:
            return f"{where}: longer than {f.max_len}"
    if f.items is not None:  # after the length: an overlong list is refused before it is walked
        for index, item in enumerate(cast(list[object], value)):
            problem = _value_problem(f, f.items, item, f"{where}[{index}]")
            if problem is not None:
                return problem
    return None


def _value_problem(f: Field, kind: FieldType, value: object, where: str) -> str | None:
    """Why one value of type ``kind`` (the field's own, or one of its list's items) breaks ``f``."""
    if kind == "any":
        return None
    if type(value) not in _ACCEPTED[kind]:
        expected = f"map ({f.view.name})" if kind == "view" and f.view is not None else kind
        return f"{where}: expected {expected}, got {_wire_type(value)}"
    if kind == "int":
        number = cast(int, value)
        if number < (INT64_MIN if f.minimum is None else f.minimum):
            return f"{where}: less than {INT64_MIN if f.minimum is None else f.minimum}"
        if number > (INT64_MAX if f.maximum is None else f.maximum):
            return f"{where}: greater than {INT64_MAX if f.maximum is None else f.maximum}"
    elif kind == "str":
        if _CONTROL.search(cast(str, value)) is not None:
            return f"{where}: control characters (other than tab and line breaks) are not allowed"
        if f.choices is not None and value not in f.choices:
            return f"{where}: expected one of {', '.join(f.choices)}"
    elif kind == "float":
        if not math.isfinite(cast(float, value)):
            return f"{where}: expected a finite number"
    elif kind == "view" and f.view is not None:
        view = f.view
        return _object_problem(view.fields, view._by_name, cast(dict[str, object], value), where + ".")
    return None


def _printable(name: object) -> str:
    """``name`` as an error message may quote it: a client's field name, control characters escaped."""
    text = str(name)
    return repr(text)[1:-1] if _CONTROL.search(text) is not None else text


def _wire_type(value: object) -> str:
    """The protocol's name for a decoded value's type, for error messages."""
    return "nil" if value is None else _WIRE_NAMES.get(type(value), type(value).__name__)


def validate_body(spec: MessageSpec, request: Request) -> dict[str, Any]:
    """Check ``request.body`` against ``spec`` and return the body to hand to the handler.

    A problem is a ``bad_request`` naming the field (``b.media_ids[2]: expected int, got str``).
    Integers in float fields come back as floats.
    """
    problem = _object_problem(spec.body, spec._fields, request.body, "b.")
    if problem is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, problem, ref=request.id)
    checked = dict(request.body)
    for name in spec._floats:
        if type(checked.get(name)) is int:
            checked[name] = float(checked[name])
    return checked


# ----------------------------------------------------------------------------- checking what the server sends


class ShapeError(ValueError):
    """A reply or server message is not what the registry declares (found by the tests' checks)."""


def check_reply(spec: MessageSpec, body: Mapping[str, object]) -> None:
    """Raise :class:`ShapeError` unless ``body`` is exactly a reply to client message ``spec``:
    every required field present, none undeclared, each of its type, bounds and choices, views
    checked all the way down. For tests and clients, never the server's hot path."""
    if not spec.replies:
        raise ShapeError(f"{spec.type} is never answered, yet a reply came")
    problem = _object_problem(spec.reply, spec._reply_fields, body, "b.")
    if problem is not None:
        raise ShapeError(f"reply to {spec.type}: {problem}")


def check_server_message(spec: MessageSpec, body: Mapping[str, object]) -> None:
    """Raise :class:`ShapeError` unless ``body`` is exactly the body of server message ``spec``
    (checked like :func:`check_reply`)."""
    problem = _object_problem(spec.body, spec._fields, body, "b.")
    if problem is not None:
        raise ShapeError(f"{spec.type}: {problem}")


def check_server_frame(frame: ServerFrame) -> None:
    """Raise :class:`ShapeError` unless a decoded server frame is one the registry declares: a
    reply with its message's reply fields, an error, a heartbeat, or a push of a server message on
    the stream it is declared on, with a sequence number."""
    if frame.kind == "reply":
        answered = REGISTRY.get(frame.type)
        if answered is None:
            raise ShapeError(f"a reply of undeclared type {frame.type!r}")
        check_reply(answered, frame.body)
        return
    spec = SERVER_MESSAGES.get(frame.type)
    if spec is None:
        raise ShapeError(f"undeclared server message {frame.type!r}")
    pushed = frame.kind == "push"
    if frame.stream != spec.stream or pushed != (type(frame.seq) is int):
        raise ShapeError(
            f"{frame.type} sent on stream {frame.stream!r} with seq {frame.seq!r}; declared on {spec.stream!r}"
        )
    check_server_message(spec, frame.body)
