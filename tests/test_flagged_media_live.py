"""Flagged media's files follow the moderation policy: its variants go to its owner, moderators and
viewers who opted in to sensitive media; anyone else gets the verdict alone, and ``media.reveal``
on a deliberate click, for a post they can see."""

from __future__ import annotations

from typing import Any

import pytest
from live import expect_error
from test_intelligence_live import post_with_photo
from test_media_http import http

from kernel.config import Settings
from viora.client import Client
from viora.runtime import Runtime


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    # As in test_moderation_live: a threshold below every score makes the real classifier flag
    # this clean photo, so the policy runs from a real verdict on.
    return server_settings.with_(moderation_image_threshold=-1.0)


async def seen_by(client: Client, post_id: int) -> dict[str, Any]:
    (media,) = (await client.request("post.get", {"post_id": post_id}))["post"]["media"]
    return dict(media)


async def test_a_flagged_items_files_go_only_where_the_policy_says(server: Runtime, signup: Any) -> None:
    async with (
        signup("ida_f") as (ida, i),
        signup("jon_f") as (jon, _j),
        signup("kim_f") as (kim, _k),
        signup("lea_f") as (lea, lea_reply),
        signup("mod_f") as (mod, _m),
    ):
        await server.services.accounts.set_moderator("mod_f", True)
        post = await post_with_photo(server, ida, i["token"], "beach day")
        (media_id,) = post["media_ids"]

        stranger = await seen_by(jon, post["id"])
        assert (stranger["moderation"], stranger["variants"]) == ("flagged", None), "no URLs to a stranger"
        timeline = (await jon.request("timeline.user", {"user_id": i["user_id"]}))["posts"]
        assert [m["variants"] for p in timeline for m in p["media"]] == [None]

        revealed = (await jon.request("media.reveal", {"post_id": post["id"], "media_id": media_id}))["media"]
        assert (revealed["id"], revealed["moderation"]) == (media_id, "flagged")
        thumbnails = revealed["variants"]["thumbnails"]
        assert thumbnails and (await http(server, "GET", thumbnails[0]["url"])).status == 200
        assert "moderation_reason" not in revealed, "only the author sees why"

        for client in (ida, mod):  # the owner and a moderator see the files at once
            assert (await seen_by(client, post["id"]))["variants"] == revealed["variants"]
        assert (await seen_by(ida, post["id"]))["moderation_reason"]
        await kim.request("preferences.update", {"show_sensitive": True})
        assert (await seen_by(kim, post["id"]))["variants"] == revealed["variants"], "opted in"
        await kim.request("preferences.update", {"show_sensitive": False})
        assert (await seen_by(kim, post["id"]))["variants"] is None

        await ida.request("block", {"user_id": lea_reply["user_id"]})
        await expect_error("not_found", lea.request("media.reveal", {"post_id": post["id"], "media_id": media_id}))
        await expect_error("not_found", jon.request("media.reveal", {"post_id": post["id"], "media_id": media_id + 1}))
        await expect_error("not_found", jon.request("media.reveal", {"post_id": post["id"] + 99, "media_id": media_id}))

        await mod.request("moderation.decide", {"media_id": media_id, "verdict": "ok"})
        assert (await seen_by(jon, post["id"]))["variants"] == revealed["variants"], "cleared: for everyone"
