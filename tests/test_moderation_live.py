"""Moderation end to end: a flagged media item is blurred for others, absent from their search,
explained to its author, and reviewable by moderators over the protocol."""

from __future__ import annotations

from typing import Any

import pytest
from live import expect_error
from test_intelligence_live import post_with_photo

from kernel.config import Settings
from viora.runtime import Runtime


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    # Without NSFW photographs to ship, a threshold below every score makes the real classifier
    # flag this clean photo: the policy path runs for real from the verdict on.
    return server_settings.with_(moderation_image_threshold=-1.0)


async def test_flagged_media_is_blurred_for_others_and_absent_from_their_search(
    server: Runtime, signup: Any
) -> None:
    async with signup("eli_m") as (eli, e), signup("fin_m") as (fin, _f), signup("mod") as (mod, _m):
        await server.services.accounts.set_moderator("mod", True)  # what `viora moderators grant` does
        post = await post_with_photo(server, eli, e["token"], "beach day")
        (media_id,) = post["media_ids"]

        seen_by_other = (await fin.request("post.get", {"post_id": post["id"]}))["post"]
        (other_view,) = seen_by_other["media"]
        assert (other_view["id"], other_view["moderation"]) == (media_id, "flagged")
        assert "moderation_reason" not in other_view, "only the author sees why"
        seen_by_author = (await eli.request("post.get", {"post_id": post["id"]}))["post"]
        assert seen_by_author["media"][0]["moderation_reason"], "the author sees why"
        assert (await eli.request("moderation.get", {"media_id": media_id}))["state"] == "flagged"
        await expect_error("not_found", fin.request("moderation.get", {"media_id": media_id}))

        assert (await fin.request("search", {"query": "beach"}))["results"] == []
        await fin.request("preferences.update", {"show_sensitive": True})
        opted_in = (await fin.request("search", {"query": "beach"}))["results"]
        assert [r["media_id"] for r in opted_in] == [media_id]

        await expect_error("forbidden", fin.request("moderation.review"))
        review = await mod.request("moderation.review")
        assert [item["media_id"] for item in review["items"]] == [media_id]
        await mod.request("moderation.decide", {"media_id": media_id, "verdict": "ok"})
        await fin.request("preferences.update", {"show_sensitive": False})
        cleared = (await fin.request("search", {"query": "beach"}))["results"]
        assert [r["media_id"] for r in cleared] == [media_id], "an admin's verdict reaches search at once"
