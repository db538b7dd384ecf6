"""A pytest plugin that checks every frame a test's ``Client`` receives against the protocol registry.

The live tests talk to real servers through :class:`viora.client.Client`; this plugin swaps the
decoder the client reads with (``viora.client.decode_server_frame``) for one that also checks each
reply, push, error and heartbeat with :func:`protocol.messages.check_server_frame`. A frame the
registry does not declare fails the test that received it, naming the field, so PROTOCOL.md stays
the shape the server really sends. The check runs only here, in the tests: the server's hot path
never validates what it sends.

``tests/conftest.py`` loads it for every suite; ``test_frame_checks.py`` runs it on a bad frame.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest

import viora.client
from protocol.codec import ServerFrame, decode_server_frame
from protocol.messages import ShapeError, check_server_frame

SHOWN = 10
"""Mismatches listed in a failure; the rest are counted."""
FRAME_CHARS = 300
"""How much of a mismatching frame a failure shows."""


class FrameChecks:
    """A checking decoder, and the mismatches it has seen since they were last reported."""

    def __init__(self, decode: Callable[[bytes], ServerFrame]) -> None:
        self._decode = decode
        self.mismatches: list[str] = []

    def decode(self, data: bytes) -> ServerFrame:
        """Decode like the client does; record a frame the registry does not declare (raising here
        would only end the client's read loop, far from the test that should fail)."""
        frame = self._decode(data)
        try:
            check_server_frame(frame)
        except ShapeError as mismatch:
            self.mismatches.append(f"{mismatch}\n      in {frame!r:.{FRAME_CHARS}}")
        return frame

    def fail_if_any(self) -> None:
        """Fail the running test if mismatches were recorded (and forget them)."""
        mismatches, self.mismatches = self.mismatches, []
        if not mismatches:
            return
        listed = "\n".join(f"  - {m}" for m in mismatches[:SHOWN])
        more = f"\n  … and {len(mismatches) - SHOWN} more" if len(mismatches) > SHOWN else ""
        pytest.fail(
            f"the server sent {len(mismatches)} frame(s) that the protocol registry does not declare "
            f"(protocol/*_messages.py, protocol/views.py):\n{listed}{more}",
            pytrace=False,
        )


FRAME_CHECKS = pytest.StashKey[FrameChecks]()


@pytest.fixture(autouse=True)
def frame_checks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FrameChecks]:
    """Every ``Client`` of the test checks what it receives; :func:`pytest_runtest_call` reports."""
    checks = FrameChecks(decode_server_frame)
    monkeypatch.setattr(viora.client, "decode_server_frame", checks.decode)
    request.node.stash[FRAME_CHECKS] = checks
    yield checks


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a test that passed but received frames the registry does not declare."""
    result = yield
    checks = item.stash.get(FRAME_CHECKS, None)
    if checks is not None:
        checks.fail_if_any()
    return result
