"""The protocol's error handling on a live socket: typed errors, limits, heartbeats, fuzzing."""

from __future__ import annotations

import uuid
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live import ServerProcess

from kernel.config import Settings
from protocol.codec import encode_request
from protocol.errors import ErrorCode
from protocol.messages import INT64_MAX, REGISTRY
from viora.client import Client, ServerError

KNOWN_CODES = {str(code) for code in ErrorCode}


async def test_malformed_frames_get_typed_errors_and_the_socket_survives(connect: Any) -> None:
    async with connect() as client:
        cases = [
            (b"\xc1", "bad_frame"),  # never valid msgpack
            ("a text frame", "bad_frame"),
            (msgpack.packb([1, 2, 3]), "bad_frame"),
            (msgpack.packb({"v": 2, "t": "ping", "id": 5}), "bad_version"),
            (msgpack.packb({"v": 1, "t": "no.such.type", "id": 6}), "unknown_type"),
            (msgpack.packb({"v": 1, "t": "echo", "id": 7, "b": "not a map"}), "bad_request"),
            (msgpack.packb({"v": 1, "t": "auth.login", "id": 8, "b": {"username": 3}}), "bad_request"),
        ]
        for frame, code in cases:
            await client.send_raw(frame)
            event = await client.next_event()
            assert (event.kind, event.body["code"]) == ("error", code), frame
        assert "ts" in await client.request("ping")


async def test_errors_reference_the_request_id(connect: Any) -> None:
    async with connect() as client:
        with pytest.raises(ServerError) as caught:
            await client.request("echo")
        assert caught.value.code == "unauthenticated"
        assert caught.value.frame.body["ref"] == caught.value.frame.id is not None


async def test_an_oversized_frame_is_refused_without_closing(connect: Any, server_settings: Settings) -> None:
    async with connect() as client:
        huge = encode_request("ping", {"pad": "x" * (server_settings.max_frame_bytes + 1)}, id=1)
        await client.send_raw(huge)
        assert (await client.next_event()).body["code"] == "frame_too_large"
        assert "ts" in await client.request("ping")


async def test_a_client_that_keeps_sending_garbage_is_closed_with_a_reason(
    connect: Any, server_settings: Settings
) -> None:
    async with connect() as client:
        for _ in range(server_settings.malformed_limit + 1):
            await client.send_raw(b"\xc1")
        assert await client.wait_closed() == (4002, "too many malformed frames")


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    return server_settings.with_(
        rate_per_s=5.0, rate_burst=5, heartbeat_interval_s=0.2, heartbeat_timeout_s=0.6
    )


async def test_rate_limit_answers_rate_limited_with_retry_after(connect: Any) -> None:
    async with connect() as client:
        for n in range(8):  # burst 5 at 5/s: the last ones arrive before tokens refill
            await client.send_raw(encode_request("ping", id=f"p{n}"))
        answers = [await client.next_event() for _ in range(8)]
        replies = [a for a in answers if a.kind == "reply"]
        limited = [a for a in answers if a.kind == "error"]
        assert len(replies) >= 5 and limited
        assert all(e.body["code"] == "rate_limited" and e.body["retry_after"] > 0 for e in limited)
        assert {a.id for a in answers} == {f"p{n}" for n in range(8)}


async def test_heartbeats_close_silent_peers_and_keep_answering_ones(connect: Any) -> None:
    async with connect(auto_pong=False) as silent, connect() as lively:
        ping = await silent.next_event()
        assert ping.kind == "ping"
        assert await silent.wait_closed() == (4000, "no frames from the client in time")
        assert lively.close_code is None
        assert "ts" in await lively.request("ping")


# --------------------------------------------------------------------------- fuzzing, live

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1), children, max_size=5)
    ),
    max_leaves=20,
)
envelope_like = st.fixed_dictionaries(
    {
        "v": st.sampled_from([1, 1, 2, "1", None]),
        "t": st.sampled_from(["ping", "echo", "auth.login", "x", ""]) | st.text(max_size=70),
    },
    optional={
        "id": st.integers(-5, 2**60) | st.text(max_size=70) | st.none(),
        "b": msgpack_values,
        "zz": msgpack_values,
    },
)
hostile_values = msgpack_values | st.sampled_from(
    [
        2**63,
        2**64 - 1,
        INT64_MAX,
        True,
        1.5,
        float("nan"),
        float("inf"),
        "a\x00b",
        "\x1b[2J",
        [{}],
        [None],
        ["x"],
    ]
)
registry_requests = st.sampled_from(sorted(REGISTRY)).flatmap(
    lambda type_: st.fixed_dictionaries(
        {
            "v": st.just(1),
            "t": st.just(type_),
            "b": st.dictionaries(
                st.sampled_from([f.name for f in REGISTRY[type_].body] or ["x"]), hostile_values, max_size=3
            ),
        }
    )
)
"""Client messages of the registry with their own field names holding hostile values."""
ECHO_HEAD = b"\x83\xa1v\x01\xa1t\xa4echo\xa1b\x81\xa4data"
raw_echo_data = st.one_of(
    st.tuples(st.sampled_from([b"\x91", b"\x81\xa1k"]), st.integers(0, 200)).map(
        lambda hd: hd[0] * hd[1] + b"\xc0"
    ),
    st.sampled_from(
        [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"]
    ),
)
"""Deep nesting and absurd declared lengths, as ``echo`` data: msgpack.packb writes neither."""
frames = (
    st.binary(max_size=512)
    | msgpack_values.map(lambda v: msgpack.packb(v, use_bin_type=True))
    | envelope_like.map(lambda v: msgpack.packb(v, use_bin_type=True))
    | registry_requests.map(lambda v: msgpack.packb(v, use_bin_type=True))
    | raw_echo_data.map(ECHO_HEAD.__add__)
    | st.text(max_size=64)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(frames, min_size=1, max_size=5))
async def test_fuzz_a_live_socket_always_gets_typed_answers(
    server_process: ServerProcess, payloads: list[Any]
) -> None:
    """Whatever arrives, every frame is answered with a reply or a typed error, and the server stays up."""
    marker = uuid.uuid4().hex  # a string id no fuzzed frame can be expected to reuse
    async with Client.connect(server_process.ws_url) as client:
        for payload in payloads:
            await client.send_raw(payload)
        await client.send_raw(encode_request("ping", id=marker))
        while True:  # replies come in request order: once the marker is answered, all frames were
            event = await client.next_event()
            if event.id == marker and event.kind == "reply":
                break
            assert event.kind in {"error", "reply"}, event
            if event.kind == "error":
                assert event.body["code"] in KNOWN_CODES - {"internal"}, event
        assert client.close_code is None
