"""The message registry: lookup, body validation, and the invariants of specs."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import registry
from protocol.codec import Request
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    REGISTRY,
    SERVER_MESSAGES,
    Field,
    MessageSpec,
    client_message,
    register,
    validate_body,
)

TYPED = MessageSpec(
    "test.typed",
    "client",
    "A message with one field of each type.",
    body=(
        Field("s", "str", "", required=False, min_len=2, max_len=4),
        Field("i", "int", "", required=False),
        Field("f", "float", "", required=False),
        Field("b", "bool", "", required=False),
        Field("m", "map", "", required=False, max_len=1),
        Field("l", "list", "", required=False, max_len=2),
        Field("a", "any", "", required=False),
    ),
)


def check(spec: MessageSpec, body: dict[Any, Any], req_id: int | str | None = 1) -> dict[str, Any]:
    return validate_body(spec, Request(req_id, spec.type, body))


def bad(spec: MessageSpec, body: dict[Any, Any]) -> str:
    with pytest.raises(ProtocolError) as info:
        check(spec, body, req_id="r")
    assert (info.value.code, info.value.ref) == (ErrorCode.BAD_REQUEST, "r")
    return info.value.message


def test_client_message_lookup() -> None:
    assert client_message("auth.login").type == "auth.login"
    with pytest.raises(ProtocolError) as info:
        client_message("no.such", ref=12)
    assert (info.value.code, info.value.ref) == (ErrorCode.UNKNOWN_TYPE, 12)


def test_server_only_types_are_not_client_messages() -> None:
    assert "error" in SERVER_MESSAGES
    with pytest.raises(ProtocolError):
        client_message("error")


def test_ping_exists_in_both_directions() -> None:
    assert REGISTRY["ping"].replies and not SERVER_MESSAGES["ping"].replies


def test_register_body_is_validated() -> None:
    spec = client_message("auth.register")
    body = {"username": "ada_l", "password": "correct horse", "display_name": "Ada"}
    assert check(spec, body) == body
    assert check(spec, {"username": "ada", "password": "12345678"}) == {
        "username": "ada",
        "password": "12345678",
    }
    assert "b.username" in bad(spec, {"password": "12345678"})
    assert "b.username" in bad(spec, {"username": "ab", "password": "12345678"})
    assert "b.password" in bad(spec, {"username": "ada", "password": "short"})
    assert "b.display_name" in bad(
        spec, {"username": "ada", "password": "12345678", "display_name": "x" * 65}
    )
    assert "b.email" in bad(spec, {"username": "ada", "password": "12345678", "email": "a@b"})


def test_fields_are_checked_by_type() -> None:
    assert "expected int, got bool" in bad(TYPED, {"i": True})
    assert "expected int, got float" in bad(TYPED, {"i": 1.0})
    assert "expected bool, got int" in bad(TYPED, {"b": 1})
    assert "expected float, got bool" in bad(TYPED, {"f": False})
    assert "expected str, got bin" in bad(TYPED, {"s": b"abc"})
    assert "expected map, got list" in bad(TYPED, {"m": []})
    assert "expected list, got nil" in bad(TYPED, {"l": None})


def test_lengths_of_str_list_and_map_are_bounded() -> None:
    assert "shorter than 2" in bad(TYPED, {"s": "a"})
    assert "longer than 4" in bad(TYPED, {"s": "abcde"})
    assert "longer than 2" in bad(TYPED, {"l": [1, 2, 3]})
    assert "longer than 1" in bad(TYPED, {"m": {"a": 1, "b": 2}})


def test_valid_values_pass_and_floats_are_normalised() -> None:
    body = {"s": "abcd", "i": -3, "f": 2, "b": False, "m": {"k": 1}, "l": [1], "a": None}
    checked = check(TYPED, body)
    assert checked == {**body, "f": 2.0}
    assert type(checked["f"]) is float
    assert check(TYPED, {}) == {}


def test_non_string_body_keys_are_unknown_fields() -> None:
    assert "unknown field" in bad(TYPED, {b"s": "abc"})


def test_register_refuses_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "REGISTRY", {})
    register(TYPED)
    assert registry.REGISTRY == {"test.typed": TYPED}
    with pytest.raises(ValueError, match="already registered"):
        register(TYPED)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Field("n", "int", "", max_len=3),
        lambda: Field("n", "date", ""),  # type: ignore[arg-type]
        lambda: MessageSpec("x", "server", "", auth=False),
        lambda: MessageSpec("x", "client", "", replies=False, reply=(Field("n", "int", ""),)),
        lambda: MessageSpec("x", "client", "", stream="s"),
        lambda: MessageSpec("x", "client", "", body=(Field("n", "int", ""), Field("n", "str", ""))),
    ],
)
def test_inconsistent_declarations_are_refused(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_every_declared_field_is_documented() -> None:
    for spec in [*REGISTRY.values(), *SERVER_MESSAGES.values()]:
        assert spec.summary
        for f in (*spec.body, *spec.reply):
            assert f.description, (spec.type, f.name)
