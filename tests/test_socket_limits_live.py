"""Deadlines on live sockets: one that never signs in is closed (4005)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio

from kernel.config import Settings


@pytest.fixture
def server_settings(server_settings: Settings) -> Iterator[Settings]:
    # A sweep every half heartbeat interval: 0.5 s here, so the deadline is seen within a second.
    yield server_settings.with_(sign_in_deadline_s=1.0, heartbeat_interval_s=1.0, heartbeat_timeout_s=30.0)


async def test_an_anonymous_socket_is_closed_after_the_sign_in_deadline(connect: Any, signup: Any) -> None:
    async with connect() as anonymous, signup("prompt") as (signed_in, _):
        with trio.fail_after(10):
            code, _reason = await anonymous.wait_closed()
        assert code == 4005
        assert await signed_in.request("echo", {"data": "still here"}) == {"data": "still here"}
