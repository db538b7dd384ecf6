"""The message registry: lookup, body validation (bounds, items, choices), views, reply and push
checks, and the invariants of specs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from protocol import registry
from protocol.codec import Request, ServerFrame
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    REGISTRY,
    SERVER_MESSAGES,
    VIEWS,
    Field,
    MessageSpec,
    ShapeError,
    View,
    check_reply,
    check_server_frame,
    check_server_message,
    client_message,
    register,
    register_view,
    validate_body,
)
from protocol.views import COMMENT, CONVERSATION, MESSAGE, POST, PROFILE, VIEWED_POST
from stores.messaging import Conversation, Message
from stores.social import Comment, Post, Profile

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


# --------------------------------------------------------------------------- bounds, items, choices


def test_ints_are_64_bit_unless_narrower_bounds_are_declared() -> None:
    assert check(TYPED, {"i": 2**63 - 1}) == {"i": 2**63 - 1}
    assert check(TYPED, {"i": -(2**63)}) == {"i": -(2**63)}
    assert "b.i: greater than 9223372036854775807" in bad(TYPED, {"i": 2**63})
    assert "b.i: less than -9223372036854775808" in bad(TYPED, {"i": -(2**63) - 1})
    assert "b.post_id: greater than" in bad(client_message("post.get"), {"post_id": 2**64 - 1})
    assert "expected int, got bool" in bad(client_message("post.get"), {"post_id": True})


def test_declared_minimums_refuse_negative_values() -> None:
    resume = client_message("stream.resume")
    assert check(resume, {"stream": "home", "after": 0}) == {"stream": "home", "after": 0}
    assert "b.after: less than 0" in bad(resume, {"stream": "home", "after": -1})
    assert "b.offset: less than 0" in bad(client_message("search"), {"query": "cats", "offset": -5})


def test_list_items_are_checked_by_type() -> None:
    create = client_message("post.create")
    assert check(create, {"text": "hi", "media_ids": [1, 2]}) == {"text": "hi", "media_ids": [1, 2]}
    assert "b.media_ids[1]: expected int, got str" in bad(create, {"text": "hi", "media_ids": [1, "2"]})
    assert "b.media_ids[0]: expected int, got bool" in bad(create, {"text": "hi", "media_ids": [True]})
    assert "b.media_ids[0]: greater than" in bad(create, {"text": "hi", "media_ids": [2**63]})
    assert "b.user_ids[0]: expected int, got nil" in bad(client_message("dm.group"), {"user_ids": [None]})
    assert "b.user_ids[1]: expected int" in bad(client_message("presence.get"), {"user_ids": [1, 1.5]})


def test_choices_are_enforced_for_strs_and_lists_of_strs() -> None:
    assert "b.stream: expected one of home, notifications, dm" in bad(
        client_message("stream.resume"), {"stream": "posts"}
    )
    search = client_message("search")
    assert check(search, {"query": "q", "kinds": ["video"]}) == {"query": "q", "kinds": ["video"]}
    assert "b.kinds[1]: expected one of image, video" in bad(
        search, {"query": "q", "kinds": ["image", "gif"]}
    )
    decide = client_message("moderation.decide")
    assert "b.verdict: expected one of ok, flagged" in bad(decide, {"media_id": 1, "verdict": "pending"})


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"])
def test_strs_refuse_control_characters(char: str) -> None:
    assert "b.s: control characters" in bad(TYPED, {"s": f"a{char}b"})
    assert "b.kinds[0]: control characters" in bad(client_message("search"), {"query": "q", "kinds": [char]})
    with pytest.raises(ShapeError, match="control characters"):
        check_server_message(SERVER_MESSAGES["error"], {"code": "internal", "message": char, "ref": None})


def test_strs_take_tabs_line_breaks_and_any_other_character() -> None:
    assert check(TYPED, {"s": "\t\n\r"}) == {"s": "\t\n\r"}
    text = "Zoë 🙂\u200b\u00a0ok"
    assert check(client_message("post.create"), {"text": text}) == {"text": text}


def test_unknown_field_names_are_quoted_without_control_characters() -> None:
    assert bad(TYPED, {"\x00\x1b[2J": 1}) == "b.\\x00\\x1b[2J: unknown field"


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_floats_are_finite(number: float) -> None:
    assert "b.f: expected a finite number" in bad(TYPED, {"f": number})


# --------------------------------------------------------------------------- views and replies


@dataclass(frozen=True)
class StoredPost:
    """Stands in for the store's dataclass: views read attributes by name, whatever the class."""

    id: int = 7
    author_id: int = 1
    text: str = "hello"
    media_ids: tuple[int, ...] = (3,)
    reply_to: int | None = None
    created_at: float = 1.5
    edited_at: float | None = None
    likes: int = 0
    comments: int = 2
    content_warning: str | None = None
    extra: str = "never sent"


def viewed_post(**changes: Any) -> dict[str, Any]:
    post = POST.build(StoredPost())
    media = {"id": 3, "moderation": "ok", "kind": "image", "variants": None}
    return {**post, "alignment": None, "text_flagged": False, "liked": True, "media": [media], **changes}


def test_a_view_is_built_from_the_stored_fields_by_name() -> None:
    built = POST.build(StoredPost())
    assert built == {
        "id": 7,
        "author_id": 1,
        "text": "hello",
        "media_ids": [3],  # a list on the wire, whatever the store keeps
        "reply_to": None,
        "created_at": 1.5,
        "edited_at": None,
        "likes": 0,
        "comments": 2,
        "content_warning": None,
    }
    assert VIEWED_POST.build(StoredPost()) == built  # what services add is not read from the store
    check_reply(client_message("post.create"), {"post": built})


@pytest.mark.parametrize(
    ("view", "stored"),
    [(POST, Post), (COMMENT, Comment), (PROFILE, Profile), (CONVERSATION, Conversation), (MESSAGE, Message)],
)
def test_views_read_only_attributes_the_stores_have(view: View, stored: type) -> None:
    built_from = {f.name for f in view.fields if f.added_by is None}
    assert built_from <= {f.name for f in dataclasses.fields(stored)}


def test_replies_are_checked_with_their_views_all_the_way_down() -> None:
    get = client_message("post.get")
    check_reply(get, {"post": viewed_post()})
    check_reply(get, {"post": viewed_post(reply_to=3, edited_at=2.0, alignment=55.5)})
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "reply to post.get: b.post: required"),
        ({"post": viewed_post(), "more": 1}, "b.more: unknown field"),
        ({"post": {**viewed_post(), "extra": "x"}}, "b.post.extra: unknown field"),
        ({"post": viewed_post(liked=None)}, "b.post.liked: expected bool, got nil"),
        ({"post": viewed_post(id=None)}, "b.post.id: expected int, got nil"),
        ({"post": viewed_post(likes=-1)}, "b.post.likes: less than 0"),
        ({"post": viewed_post(media=[{"id": 3}])}, "b.post.media[0].moderation: required"),
        (
            {"post": viewed_post(media=[{"id": 3, "moderation": "meh", "kind": None, "variants": None}])},
            "b.post.media[0].moderation: expected one of pending, ok, flagged",
        ),
        ({"post": viewed_post(media=["3"])}, "b.post.media[0]: expected map (post_media), got str"),
        ({"post": POST.build(StoredPost())}, "b.post.alignment: required"),
    ]
    for body, problem in cases:
        with pytest.raises(ShapeError) as info:
            check_reply(get, body)
        assert problem in str(info.value), body


def test_replies_of_messages_that_are_never_answered_are_refused() -> None:
    with pytest.raises(ShapeError, match="never answered"):
        check_reply(client_message("pong"), {})


def test_server_messages_and_frames_are_checked() -> None:
    removed = SERVER_MESSAGES["post.removed"]
    check_server_message(removed, {"post_id": 4})
    with pytest.raises(ShapeError, match=r"post.removed: b.post_id: expected int, got str"):
        check_server_message(removed, {"post_id": "4"})
    check_server_frame(ServerFrame("push", None, "post.removed", "home", 3, {"post_id": 4}))
    check_server_frame(
        ServerFrame("error", 1, "error", None, None, {"code": "not_found", "message": "", "ref": 1})
    )
    for wrong, problem in [
        (ServerFrame("push", None, "post.removed", "dm", 3, {"post_id": 4}), "declared on 'home'"),
        (ServerFrame("push", None, "post.removed", "home", None, {"post_id": 4}), "with seq None"),
        (ServerFrame("reply", 1, "no.such", None, None, {}), "undeclared type 'no.such'"),
        (ServerFrame("error", 1, "error", None, None, {"code": "oops", "message": "", "ref": 1}), "b.code"),
    ]:
        with pytest.raises(ShapeError, match=problem):
            check_server_frame(wrong)


def test_every_list_declares_its_items_and_every_view_is_registered() -> None:
    owners = [
        *((spec.type, (*spec.body, *spec.reply)) for spec in (*REGISTRY.values(), *SERVER_MESSAGES.values())),
        *((view.name, view.fields) for view in VIEWS.values()),
    ]
    for owner, fields in owners:
        for f in fields:
            assert f.type != "list" or f.items is not None, (owner, f.name)
            assert f.view is None or VIEWS[f.view.name] is f.view, (owner, f.name)
            assert f.description, (owner, f.name)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Field("n", "str", "", minimum=0),
        lambda: Field("n", "int", "", choices=("a",)),
        lambda: Field("n", "str", "", choices=()),
        lambda: Field("n", "int", "", items="int"),
        lambda: Field("n", "list", "", items="list"),  # type: ignore[arg-type]  # the point of the case
        lambda: Field("n", "view", ""),
        lambda: Field("n", "str", "", view=POST),
        lambda: Field("n", "list", "", items="int", view=POST),
        lambda: Field("n", "int", "", maximum=2**63),
        lambda: Field("n", "int", "", minimum=2, maximum=1),
        lambda: View("v", "", (Field("n", "int", ""), Field("n", "str", ""))),
        lambda: MessageSpec("x", "client", "", reply=(Field("n", "int", ""), Field("n", "str", ""))),
    ],
)
def test_inconsistent_field_and_view_declarations_are_refused(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_views_are_registered_once_and_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "VIEWS", {})
    monkeypatch.setattr(registry, "REGISTRY", {})
    inner = View("inner", "", (Field("n", "int", ""),))
    outer = View("outer", "", (Field("i", "view", "", view=inner),))
    with pytest.raises(ValueError, match="not registered"):
        register_view(outer)
    with pytest.raises(ValueError, match="not registered"):
        register(MessageSpec("x", "client", "", reply=(Field("i", "view", "", view=inner),)))
    register_view(inner)
    register_view(outer)
    with pytest.raises(ValueError, match="already registered"):
        register_view(inner)
