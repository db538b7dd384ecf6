"""Hostile inputs against a live server: every class of bad value, in every field the registry
declares, gets a typed error that is never ``internal``.

The cases are generated from :data:`protocol.messages.REGISTRY`, so a field added to a catalogue is
probed the day it is declared. Messages that need sign-in are sent on a signed-in socket (validation
runs first either way, but a value that passes it must really reach the handler); the others on an
anonymous one. Each case is followed by an ``echo`` on the same socket, which proves the socket still
answers; at the end no node of the supervision tree may have restarted. The server runs with rate
and malformed-frame limits out of the way: this suite probes values, ``test_protocol_live`` limits.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgpack
import pytest

from kernel.config import Settings
from protocol.codec import encode_request
from protocol.errors import ErrorCode
from protocol.messages import INT64_MAX, INT64_MIN, REGISTRY, Field, MessageSpec
from viora.client import Client
from viora.runtime import Runtime

KNOWN_CODES = {str(code) for code in ErrorCode}
BAD_REQUEST = frozenset({"bad_request"})
BAD_FRAME = frozenset({"bad_frame"})
ANY_BUT_INTERNAL = None
"""A case whose value is valid on the wire: any answer will do (even none), except ``internal``."""


@pytest.fixture
def server_settings(server_settings: Settings) -> Iterator[Settings]:
    yield server_settings.with_(rate_per_s=1e6, rate_burst=1_000_000, malformed_limit=1_000_000)


@dataclass(frozen=True)
class Case:
    """One frame to send; ``expect`` is the set of acceptable error codes (or ``ANY_BUT_INTERNAL``)."""

    label: str
    frame: bytes | str
    expect: frozenset[str] | None
    signed_in: bool = True


# ----------------------------------------------------------------------------- valid values


def valid_value(f: Field) -> Any:
    """A value that passes ``f``'s checks, so that a case changes exactly one field."""
    kind = f.value_type
    if kind == "int":
        one: Any = max(1, f.minimum or 1)
    elif kind == "str":
        one = f.choices[0] if f.choices else "a" * max(3, f.min_len or 0)
    else:
        one = {"float": 1.0, "bool": False, "map": {}, "any": None}[kind]
    if f.type == "list":
        return [one] * max(1, f.min_len or 0)
    return one


def valid_body(spec: MessageSpec) -> dict[str, Any]:
    return {f.name: valid_value(f) for f in spec.body if f.required}


def with_field(spec: MessageSpec, f: Field, value: Any) -> dict[str, Any]:
    """A valid body of ``spec`` but for ``f``, which holds ``value`` (as its only item, in a list)."""
    return {**valid_body(spec), f.name: [value] if f.type == "list" else value}


def request_case(label: str, spec: MessageSpec, body: dict[str, Any], expect: frozenset[str] | None) -> Case:
    frame = encode_request(spec.type, body, id=f"case-{uuid.uuid4().hex[:12]}")
    return Case(f"{spec.type} {label}", frame, expect, spec.auth)


def field_cases(make: Callable[[MessageSpec, Field], Iterator[Case]]) -> list[Case]:
    return [case for spec in REGISTRY.values() for f in spec.body for case in make(spec, f)]


# ----------------------------------------------------------------------------- the classes


def out_of_range_ints(spec: MessageSpec, f: Field) -> Iterator[Case]:
    """Above int64 only: msgpack has no integer below -2**63, so none can arrive."""
    if f.value_type == "int":
        for value in (2**63, 2**64 - 1):
            yield request_case(f"{f.name}={value}", spec, with_field(spec, f, value), BAD_REQUEST)


def extreme_ints(spec: MessageSpec, f: Field) -> Iterator[Case]:
    """The int64 bounds themselves pass validation: they must reach the services harmlessly."""
    if f.value_type == "int":
        for value in (INT64_MAX, INT64_MIN, 0, -1):
            yield request_case(f"{f.name}={value}", spec, with_field(spec, f, value), ANY_BUT_INTERNAL)


def non_ints_in_int_fields(spec: MessageSpec, f: Field) -> Iterator[Case]:
    if f.value_type == "int":
        for value in (True, False, 1.5, 1.0, math.nan):
            yield request_case(f"{f.name}={value!r}", spec, with_field(spec, f, value), BAD_REQUEST)


def control_characters(spec: MessageSpec, f: Field) -> Iterator[Case]:
    if f.value_type == "str":
        for value in ("a\x00b", "\x00", "abc\x01", "abc\x1b[2J", "abc\x7f"):
            yield request_case(f"{f.name}={value!r}", spec, with_field(spec, f, value), BAD_REQUEST)


def wrong_list_items(spec: MessageSpec, f: Field) -> Iterator[Case]:
    if f.type == "list":
        wrong = "x" if f.value_type != "str" else 1
        for items in ([{}], [None], [wrong], [[]], [valid_value(f)[0], {}]):
            yield request_case(f"{f.name}={items!r}", spec, {**valid_body(spec), f.name: items}, BAD_REQUEST)


def non_finite_floats(spec: MessageSpec, f: Field) -> Iterator[Case]:
    if f.value_type == "float":
        for value in (math.nan, math.inf, -math.inf):
            yield request_case(f"{f.name}={value!r}", spec, with_field(spec, f, value), BAD_REQUEST)
        for value in (1e308, -1e308, 5e-324):
            yield request_case(f"{f.name}={value!r}", spec, with_field(spec, f, value), ANY_BUT_INTERNAL)


def wrong_types(spec: MessageSpec, f: Field) -> Iterator[Case]:
    if f.type != "any":
        wrong = [{"k": 1}, b"\x00bin"] if f.type != "map" else [[1], "x"]
        for value in wrong:
            yield request_case(f"{f.name}={value!r}", spec, {**valid_body(spec), f.name: value}, BAD_REQUEST)


def unknown_fields() -> list[Case]:
    return [
        request_case(f"unknown {name!r}", spec, {**valid_body(spec), name: 1}, BAD_REQUEST)
        for spec in REGISTRY.values()
        for name in ("zz", "\x00", "")
    ]


def nested(depth: int, leaf: Any = None) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _echo_frame_around(raw_data: bytes) -> bytes:
    """An ``echo`` request whose ``data`` is the raw msgpack ``raw_data`` (which packb may not write)."""
    head = msgpack.packb({"v": 1, "id": "raw", "t": "echo"})
    return bytes((head[0] + 1,)) + head[1:] + msgpack.packb("b") + b"\x81" + msgpack.packb("data") + raw_data


def deep_nesting() -> list[Case]:
    """Deeper than the codec allows anywhere in a frame: in ``any`` data, in a str field, as the body."""
    cases = [
        Case(f"echo data nested {depth} {kind}", _echo_frame_around(header * depth + b"\xc0"), BAD_FRAME)
        for depth in (40, 100, 600, 2000, 20_000)
        for kind, header in (("lists", b"\x91"), ("maps", b"\x81\xa1k"))
    ]
    post = REGISTRY["post.create"]
    cases.append(request_case("text nested 40", post, {"text": nested(40)}, BAD_FRAME))
    cases.append(request_case("media_ids nested 40", post, {"text": "a", "media_ids": nested(40)}, BAD_FRAME))
    return cases


def huge_lengths() -> list[Case]:
    """Containers and strings that declare far more elements than the frame holds."""
    headers = {
        "array32": b"\xdd\xff\xff\xff\xff",
        "map32": b"\xdf\xff\xff\xff\xff",
        "str32": b"\xdb\xff\xff\xff\xff",
        "bin32": b"\xc6\xff\xff\xff\xff",
        "ext32": b"\xc9\xff\xff\xff\xff\x01",
        "array16": b"\xdc\xff\xff",
        "map16": b"\xde\xff\xff",
        "array32 of nils": b"\xdd\x00\x01\x00\x00" + b"\xc0" * 100,
    }
    return [Case(f"echo data {name}", _echo_frame_around(raw), BAD_FRAME) for name, raw in headers.items()]


def bad_shapes() -> list[Case]:
    pack = msgpack.packb
    shapes: list[tuple[str, bytes | str, frozenset[str]]] = [
        ("empty frame", b"", BAD_FRAME),
        ("text frame", '{"v": 1, "t": "ping"}', BAD_FRAME),
        ("garbage", b"\xc1\xc1", BAD_FRAME),
        ("a list", pack([1, "ping"]), BAD_FRAME),
        ("an int", pack(1), BAD_FRAME),
        ("a str", pack("ping"), BAD_FRAME),
        ("nil", pack(None), BAD_FRAME),
        ("trailing bytes", pack({"v": 1, "t": "ping"}) + b"\x00", BAD_FRAME),
        ("int keys", pack({"v": 1, "t": "ping", 5: 1}), BAD_FRAME),
        ("bin key", pack({"v": 1, "t": "ping", b"b": {}}, use_bin_type=True), BAD_REQUEST),
        ("bin key in a body", pack({"v": 1, "t": "ping", "b": {b"x": 1}}, use_bin_type=True), BAD_REQUEST),
        ("ext value", pack({"v": 1, "t": "echo", "b": {"data": msgpack.ExtType(5, b"x")}}), BAD_FRAME),
        (
            "invalid utf-8",
            pack({"v": 1, "t": "echo", "b": {"data": "x"}}).replace(b"\xa1x", b"\xa1\xff"),
            BAD_FRAME,
        ),
        (
            "a surrogate",
            pack({"v": 1, "t": "echo", "b": {"data": "xyz"}}).replace(b"xyz", b"\xed\xa0\x80"),
            BAD_FRAME,
        ),
        ("no version", pack({"t": "ping", "id": 1}), frozenset({"bad_version"})),
        ("version true", pack({"v": True, "t": "ping", "id": 1}), frozenset({"bad_version"})),
        ("no type", pack({"v": 1, "id": 1}), BAD_REQUEST),
        ("int type", pack({"v": 1, "t": 5, "id": 1}), BAD_REQUEST),
        ("NUL type", pack({"v": 1, "t": "echo\x00", "id": 1}), frozenset({"unknown_type"})),
        ("list body", pack({"v": 1, "t": "echo", "id": 1, "b": [1]}), BAD_REQUEST),
        ("float id", pack({"v": 1, "t": "ping", "id": 1.5}), BAD_REQUEST),
        ("huge id", pack({"v": 1, "t": "ping", "id": 2**64 - 1}), BAD_REQUEST),
        ("negative id", pack({"v": 1, "t": "ping", "id": -1}), BAD_REQUEST),
        ("list id", pack({"v": 1, "t": "ping", "id": [1]}), BAD_REQUEST),
        ("extra key", pack({"v": 1, "t": "ping", "id": 1, "x": 1}), BAD_REQUEST),
    ]
    return [Case(label, frame, expect) for label, frame, expect in shapes]


def resume_beyond_the_head() -> list[Case]:
    spec = REGISTRY["stream.resume"]
    return [
        request_case(f"{stream} after={after}", spec, {"stream": stream, "after": after}, ANY_BUT_INTERNAL)
        for stream in spec._fields["stream"].choices or ()
        for after in (INT64_MAX, 10**12, 2**53 + 1)
    ]


CLASSES: dict[str, Callable[[], list[Case]]] = {
    "ints out of int64": lambda: field_cases(out_of_range_ints),
    "int64 extremes": lambda: field_cases(extreme_ints),
    "bools and floats in int fields": lambda: field_cases(non_ints_in_int_fields),
    "control characters in str fields": lambda: field_cases(control_characters),
    "wrong list items": lambda: field_cases(wrong_list_items),
    "non-finite floats": lambda: field_cases(non_finite_floats),
    "wrong field types": lambda: field_cases(wrong_types),
    "unknown fields": unknown_fields,
    "deep nesting": deep_nesting,
    "huge declared lengths": huge_lengths,
    "wrong top-level shapes": bad_shapes,
    "stream.resume beyond the head": resume_beyond_the_head,
}


# ----------------------------------------------------------------------------- sending them


async def answers_to(client: Client, frame: bytes | str) -> list[Any]:
    """The replies and errors ``frame`` draws, up to the answer of a ``ping`` sent right after it
    (replies come in request order): the ping also proves the socket still works."""
    marker = f"marker-{uuid.uuid4().hex}"
    await client.send_raw(frame)
    await client.send_raw(encode_request("ping", id=marker))
    answers = []
    while True:
        event = await client.next_event()
        if event.kind in {"push", "ping"}:
            continue
        if event.id == marker:
            assert event.kind == "reply", event
            return answers
        answers.append(event)


def problem_with(case: Case, answers: list[Any]) -> str | None:
    """What is wrong with the answers to ``case``, or None."""
    errors = [a.body["code"] for a in answers if a.kind == "error"]
    if any(code not in KNOWN_CODES or code == "internal" for code in errors):
        return f"{case.label}: {errors} {[a.body.get('message') for a in answers]}"
    if case.expect is ANY_BUT_INTERNAL:
        return None if len(answers) <= 1 else f"{case.label}: {len(answers)} answers"
    if len(errors) != 1 or len(answers) != 1 or errors[0] not in case.expect:
        got = [(a.kind, a.body.get("code"), a.body.get("message")) for a in answers]
        return f"{case.label}: expected {sorted(case.expect)}, got {got}"
    return None


def restarts(node: dict[str, Any]) -> int:
    """The restarts of every node of the tree below ``node``, summed."""
    return sum(child["restarts"] + restarts(child) for child in node.get("children", []))


@pytest.mark.parametrize("name", CLASSES)
async def test_every_hostile_input_gets_a_typed_error_and_nothing_restarts(
    name: str, connect: Any, signup: Any, server: Runtime
) -> None:
    cases = CLASSES[name]()
    assert cases
    problems = []
    async with signup("hostile") as (signed, _), connect() as anonymous:
        for case in cases:
            client = signed if case.signed_in else anonymous
            problem = problem_with(case, await answers_to(client, case.frame))
            if problem is not None:
                problems.append(problem)
            if client.close_code is not None:
                problems.append(f"{case.label}: closed the socket with {client.close_code}")
                break
        assert await signed.request("echo", {"data": name}) == {"data": name}
        assert "ts" in await anonymous.request("ping")
    assert not problems, "\n".join(problems)
    assert restarts(server.root.inspect()) == 0
