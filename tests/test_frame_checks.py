"""The frame checks of ``tests/frames.py`` catch what the registry does not declare: they cannot
pass silently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
from frames import FrameChecks

from protocol.codec import encode_error, encode_ping, encode_push, encode_reply
from protocol.errors import ErrorCode
from viora.client import Client

VALID = [
    encode_reply(1, "ping", {"ts": 1.5}),
    encode_error(ErrorCode.NOT_FOUND, "no such post", ref=2),
    encode_push("home", 3, "post.removed", {"post_id": 9}),
    encode_ping(),
]


class Replay:
    """A socket that delivers ``frames``, then stays silent."""

    def __init__(self, frames: list[bytes]) -> None:
        self._frames: Iterator[bytes] = iter(frames)

    async def send_message(self, message: bytes | str) -> None:
        pass

    async def get_message(self) -> bytes:
        for frame in self._frames:
            return frame
        await trio.sleep_forever()
        raise AssertionError("unreachable")


async def receive_all(frames: list[bytes]) -> None:
    async with Client.over(Replay(frames), auto_pong=False) as client:
        for _ in frames:
            await client.next_event()


async def test_declared_frames_pass(frame_checks: FrameChecks) -> None:
    await receive_all(VALID)
    assert frame_checks.mismatches == []


@pytest.mark.parametrize(
    ("frame", "mismatch"),
    [
        (encode_reply(1, "post.get", {"post": {"id": 7}}), "reply to post.get: b.post.author_id: required"),
        (encode_reply(1, "ping", {"ts": 1.5, "extra": 1}), "reply to ping: b.extra: unknown field"),
        (encode_reply(1, "pong", {}), "pong is never answered"),
        (encode_push("home", 1, "post.removed", {"post_id": "9"}), "post.removed: b.post_id: expected int"),
        (encode_push("dm", 1, "post.removed", {"post_id": 9}), "declared on 'home'"),
        (encode_push("home", 1, "post.gone", {}), "undeclared server message 'post.gone'"),
    ],
)
async def test_a_client_receiving_an_undeclared_frame_records_it(
    frame_checks: FrameChecks, frame: bytes, mismatch: str
) -> None:
    await receive_all([frame])
    recorded, frame_checks.mismatches = frame_checks.mismatches, []  # this test expects them
    assert len(recorded) == 1 and mismatch in recorded[0], recorded


def test_recorded_mismatches_fail_the_test(pytester: pytest.Pytester) -> None:
    """The whole plugin, in a pytest run of its own: a test whose client got a bad frame fails."""
    pytester.makepyfile(
        """
        import viora.client
        from protocol.codec import encode_push

        def test_receives_a_bad_push():
            viora.client.decode_server_frame(encode_push("home", 1, "post.removed", {"post_id": None}))

        def test_receives_nothing_wrong():
            viora.client.decode_server_frame(encode_push("home", 1, "post.removed", {"post_id": 1}))
        """
    )
    result = pytester.runpytest_inprocess("-p", "frames", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*the protocol registry does not declare*", "*b.post_id: expected int, got nil*"]
    )
