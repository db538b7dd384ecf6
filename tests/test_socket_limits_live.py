"""Limits on live sockets: one that never signs in is closed (4005); an account's sockets are capped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio
from live import PASSWORD, expect_error

from kernel.config import Settings


@pytest.fixture
def server_settings(server_settings: Settings) -> Iterator[Settings]:
    # A sweep every half heartbeat interval: 0.5 s here, so the deadline is seen within a second.
    yield server_settings.with_(
        sign_in_deadline_s=1.0, heartbeat_interval_s=1.0, heartbeat_timeout_s=30.0, max_sockets_per_user=2
    )


async def test_an_anonymous_socket_is_closed_after_the_sign_in_deadline(connect: Any, signup: Any) -> None:
    async with connect() as anonymous, signup("prompt") as (signed_in, _):
        with trio.fail_after(10):
            code, _reason = await anonymous.wait_closed()
        assert code == 4005
        assert await signed_in.request("echo", {"data": "still here"}) == {"data": "still here"}


async def test_an_account_may_open_only_so_many_sockets(connect: Any, signup: Any) -> None:
    async with signup("many") as (first, reply), connect() as second, connect() as third:
        await second.request("auth.resume", {"token": reply["token"]})
        await expect_error("limit_reached", third.request("auth.resume", {"token": reply["token"]}))
        assert (await first.request("session.info"))["sockets"] == 2


async def test_a_log_in_refused_by_the_socket_cap_issues_no_token(connect: Any, signup: Any) -> None:
    async with signup("capped") as (first, reply), connect() as second, connect() as third:
        await second.request("auth.resume", {"token": reply["token"]})
        await expect_error("limit_reached", third.request("auth.login", {"username": "capped", "password": PASSWORD}))
        assert await first.request("auth.logout", {"all": True}) == {"revoked": 1}  # only sign-up's token
