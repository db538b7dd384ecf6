"""The frame codec: round trips, every refusal with its code and ref, and fuzzing of the
trust boundary (``decode_request`` must raise nothing but ProtocolError)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import (
    MAX_DEPTH,
    MAX_ID,
    PROTOCOL_VERSION,
    Request,
    ServerFrame,
    decode_request,
    decode_server_frame,
    encode_error,
    encode_ping,
    encode_push,
    encode_push_packed,
    encode_reply,
    encode_request,
    error_from,
    pack_body,
)
from protocol.errors import ErrorCode, ProtocolError, RequestId

MAX = 4096


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _echo_around(raw_data: bytes) -> bytes:
    """An ``echo`` frame (its own map, ``b`` and ``data`` make 2 levels) around raw msgpack ``raw_data``."""
    return b"\x83\xa1v\x01\xa1t\xa4echo\xa1b\x81\xa4data" + raw_data


def refusal(data: bytes | str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_request(data, max_bytes=MAX)
    return info.value


@pytest.mark.parametrize(
    ("req_id", "body"),
    [
        (7, {"a": 1}),
        ("req-1", {"nested": {"x": [1, 2.5, None, b"\x00"]}}),
        (None, None),
        (MAX_ID, {}),
        (0, {}),
    ],
)
def test_request_round_trip(req_id: RequestId, body: dict[str, Any] | None) -> None:
    data = encode_request("echo", body, id=req_id)
    assert decode_request(data, max_bytes=MAX) == Request(req_id, "echo", body or {})


def test_nil_id_and_body_count_as_absent() -> None:
    data = pack({"v": 1, "id": None, "t": "ping", "b": None})
    assert decode_request(data, max_bytes=MAX) == Request(None, "ping", {})


def test_longest_string_id_and_type_are_accepted() -> None:
    data = encode_request("t" * 64, id="i" * 64)
    assert decode_request(data, max_bytes=MAX) == Request("i" * 64, "t" * 64, {})


@pytest.mark.parametrize("header", [b"\x91", b"\x81\xa1k"], ids=["lists", "maps"])
def test_nesting_up_to_the_limit_is_accepted(header: bytes) -> None:
    data = _echo_around(header * (MAX_DEPTH - 2) + b"\xc0")
    assert decode_request(data, max_bytes=MAX).type == "echo"


def test_many_shallow_containers_and_non_ascii_text_are_not_taken_for_deep_nesting() -> None:
    """Both put many container-header-like bytes in a frame, which sends the check to its walk."""
    body = {"data": [[{}]] * 100, "text": "Привет, как дела? " * 20}
    assert decode_request(encode_request("echo", body), max_bytes=MAX).body == body


def test_timestamp_extension_is_read_as_float() -> None:
    stamp = msgpack.Timestamp(seconds=5, nanoseconds=500_000_000)
    data = pack({"v": 1, "t": "echo", "b": {"data": stamp}})
    assert decode_request(data, max_bytes=MAX).body == {"data": 5.5}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(b"x" * (MAX + 1), ErrorCode.FRAME_TOO_LARGE, id="too-large"),
        pytest.param("x" * (MAX + 1), ErrorCode.FRAME_TOO_LARGE, id="too-large-text"),
        pytest.param(encode_request("ping").decode("latin-1"), ErrorCode.BAD_FRAME, id="text-frame"),
        pytest.param(b"", ErrorCode.BAD_FRAME, id="empty"),
        pytest.param(b"\xc1", ErrorCode.BAD_FRAME, id="never-used-byte"),
        pytest.param(encode_request("ping") + b"\x00", ErrorCode.BAD_FRAME, id="trailing"),
        pytest.param(encode_request("ping")[:-1], ErrorCode.BAD_FRAME, id="truncated"),
        pytest.param(pack([1, 2]), ErrorCode.BAD_FRAME, id="not-a-map"),
        pytest.param(b"\xdd\xff\xff\xff\xff", ErrorCode.BAD_FRAME, id="huge-array-claim"),
        pytest.param(b"\xdf\xff\xff\xff\xff", ErrorCode.BAD_FRAME, id="huge-map-claim"),
        pytest.param(b"\xdb\xff\xff\xff\xff", ErrorCode.BAD_FRAME, id="huge-str-claim"),
        pytest.param(b"\xc6\xff\xff\xff\xff", ErrorCode.BAD_FRAME, id="huge-bin-claim"),
        pytest.param(b"\xdc\x00\x40" + b"\xc0" * 60, ErrorCode.BAD_FRAME, id="array-longer-than-frame"),
        pytest.param(b"\x91" * 3000 + b"\x01", ErrorCode.BAD_FRAME, id="deep-nesting"),
        pytest.param(b"\x81\xa1v\xa1\xff", ErrorCode.BAD_FRAME, id="bad-utf8"),
        pytest.param(b"\x81\xa1v\xa3\xed\xa0\x80", ErrorCode.BAD_FRAME, id="encoded-surrogate"),
        pytest.param(
            _echo_around(b"\x91" * (MAX_DEPTH - 1) + b"\xc0"), ErrorCode.BAD_FRAME, id="lists-too-deep"
        ),
        pytest.param(
            _echo_around(b"\x81\xa1k" * (MAX_DEPTH - 1) + b"\xc0"), ErrorCode.BAD_FRAME, id="maps-too-deep"
        ),
        pytest.param(pack({1: 1}), ErrorCode.BAD_FRAME, id="int-key"),
        pytest.param(pack({"v": 1, "t": msgpack.ExtType(5, b"x")}), ErrorCode.BAD_FRAME, id="ext-type"),
        pytest.param(pack({"t": "ping"}), ErrorCode.BAD_VERSION, id="no-version"),
    ],
)
def test_unreadable_frames(data: bytes | str, code: ErrorCode) -> None:
    error = refusal(data)
    assert (error.code, error.ref) == (code, None)


@pytest.mark.parametrize("bad_id", [-1, MAX_ID + 1, True, 1.5, "", "x" * 65, [1], {"a": 1}, b"id"])
def test_bad_ids_are_refused_without_ref(bad_id: object) -> None:
    error = refusal(pack({"v": 1, "id": bad_id, "t": "ping"}))
    assert (error.code, error.ref) == (ErrorCode.BAD_REQUEST, None)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param({"t": "ping"}, ErrorCode.BAD_VERSION, id="no-version"),
        pytest.param({"v": 2, "t": "ping"}, ErrorCode.BAD_VERSION, id="v2"),
        pytest.param({"v": True, "t": "ping"}, ErrorCode.BAD_VERSION, id="v-bool"),
        pytest.param({"v": 1.0, "t": "ping"}, ErrorCode.BAD_VERSION, id="v-float"),
        pytest.param({"v": 1, "t": "ping", "x": 1}, ErrorCode.BAD_REQUEST, id="unknown-key"),
        pytest.param({"v": 1, "t": "ping", b"b": {}}, ErrorCode.BAD_REQUEST, id="bytes-key"),
        pytest.param({"v": 1}, ErrorCode.BAD_REQUEST, id="no-type"),
        pytest.param({"v": 1, "t": 3}, ErrorCode.BAD_REQUEST, id="int-type"),
        pytest.param({"v": 1, "t": ""}, ErrorCode.BAD_REQUEST, id="empty-type"),
        pytest.param({"v": 1, "t": "x" * 65}, ErrorCode.BAD_REQUEST, id="long-type"),
        pytest.param({"v": 1, "t": "ping", "b": [1]}, ErrorCode.BAD_REQUEST, id="list-body"),
        pytest.param({"v": 1, "t": "ping", "b": "x"}, ErrorCode.BAD_REQUEST, id="str-body"),
    ],
)
@pytest.mark.parametrize("req_id", [42, "abc"])
def test_envelope_errors_reference_the_request(
    frame: dict[Any, Any], code: ErrorCode, req_id: RequestId
) -> None:
    error = refusal(pack({**frame, "id": req_id}))
    assert (error.code, error.ref) == (code, req_id)


def test_reply_frames() -> None:
    assert decode_server_frame(encode_reply(3, "echo", {"data": 1})) == ServerFrame(
        "reply", 3, "echo", None, None, {"data": 1}
    )
    assert msgpack.unpackb(encode_reply(None, "echo", {})) == {"v": 1, "t": "echo", "b": {}}


def test_a_ping_with_an_id_is_answered_as_a_reply() -> None:
    frame = decode_server_frame(encode_reply("p", "ping", {"ts": 1.5}))
    assert (frame.kind, frame.id, frame.body) == ("reply", "p", {"ts": 1.5})


def test_error_frames() -> None:
    data = encode_error(ErrorCode.RATE_LIMITED, "slow down", ref=9, retry_after=0.25)
    assert msgpack.unpackb(data) == {
        "v": PROTOCOL_VERSION,
        "id": 9,
        "t": "error",
        "b": {"code": "rate_limited", "message": "slow down", "ref": 9, "retry_after": 0.25},
    }
    frame = decode_server_frame(encode_error(ErrorCode.BAD_FRAME, "garbage"))
    assert frame == ServerFrame(
        "error", None, "error", None, None, {"code": "bad_frame", "message": "garbage", "ref": None}
    )


def test_error_from_a_caught_protocol_error() -> None:
    error = refusal(pack({"v": 2, "id": "r", "t": "ping"}))
    assert msgpack.unpackb(error_from(error))["b"] == {
        "code": "bad_version",
        "message": error.message,
        "ref": "r",
    }


def test_push_and_ping_frames() -> None:
    push = decode_server_frame(encode_push("session", 4, "session.signed_out", {"reason": "logout"}))
    assert push == ServerFrame("push", None, "session.signed_out", "session", 4, {"reason": "logout"})
    assert encode_ping() == pack({"v": 1, "t": "ping"})
    assert decode_server_frame(encode_ping()) == ServerFrame("ping", None, "ping", None, None, {})
    # The answer to a ping request sent without an id has a body: a reply, not a heartbeat.
    assert decode_server_frame(encode_reply(None, "ping", {"ts": 1.5})).kind == "reply"


@pytest.mark.parametrize("data", [b"\xc1", pack([1]), pack({"v": 2, "t": "x"}), pack({"v": 1, "t": 1})])
def test_bad_server_frames_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_server_frame(data)
    assert info.value.code == ErrorCode.BAD_FRAME


# --- fuzzing the trust boundary -------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)
_envelopes = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, True, 1.0, None, "1"]),
        "id": st.one_of(st.integers(min_value=-5, max_value=2**53 + 5), st.text(max_size=70), _values),
        "t": st.one_of(st.text(max_size=70), _values),
        "b": _values,
        "x": _values,
    },
)


def _check_decoder_total(data: bytes) -> None:
    """Either a well-formed Request or a ProtocolError with a well-formed ref."""
    try:
        request = decode_request(data, max_bytes=256)
    except ProtocolError as error:
        assert error.ref is None or type(error.ref) in (int, str)
        return
    assert type(request.type) is str and 0 < len(request.type) <= 64
    assert type(request.body) is dict
    assert request.id is None or type(request.id) in (int, str)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_exceptions(data: bytes) -> None:
    _check_decoder_total(data)


@settings(max_examples=500)
@given(_values)
def test_arbitrary_msgpack_values_never_escape_as_other_exceptions(value: object) -> None:
    _check_decoder_total(pack(value))


@settings(max_examples=500)
@given(_envelopes)
def test_envelope_shaped_maps_never_escape_as_other_exceptions(frame: dict[str, Any]) -> None:
    _check_decoder_total(pack(frame))


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0, max_value=40))
def test_corrupted_valid_frames_never_escape_as_other_exceptions(noise: bytes, at: int) -> None:
    frame = encode_request("echo", {"data": [1, "two", 3.0]}, id=5)
    _check_decoder_total(frame[:at] + noise + frame[at + len(noise) :])


@given(
    st.text(max_size=20),
    st.integers(0, 2**53),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8), max_size=5),
)
def test_a_push_around_a_prepacked_body_is_the_same_frame(
    stream: str, seq: int, type_: str, body: dict[str, Any]
) -> None:
    assert encode_push_packed(stream, seq, type_, pack_body(body)) == encode_push(stream, seq, type_, body)
