"""Hybrid fan-out: posts of accounts above the write limit are merged into home timelines at read
time and pushed only to followers online now."""

from __future__ import annotations

from typing import Any

import pytest
from live import next_push, subscribe

from kernel.config import Settings


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    return server_settings.with_(fanout_write_limit=1)  # two followers make a big account


async def test_big_accounts_are_merged_at_read_time_and_pushed_to_online_followers(
    signup: Any, connect: Any
) -> None:
    async with signup("star") as (star, s), signup("fan_on") as (fan_on, _o):
        async with signup("fan_off") as (fan_off, f):
            await fan_off.request("follow", {"user_id": s["user_id"]})
        await fan_on.request("follow", {"user_id": s["user_id"]})
        await subscribe(fan_on)
        post = (await star.request("post.create", {"text": "to my many fans"}))["post"]
        assert (await next_push(fan_on)).body["post"]["id"] == post["id"], "online followers get it live"
        async with connect() as back:
            await back.request("auth.resume", {"token": f["token"]})
            assert (await subscribe(back))["last"] == 0, "not written into the offline follower's stream"
            home = await back.request("timeline.home")
            assert [p["id"] for p in home["posts"]] == [post["id"]], "merged in when read"
