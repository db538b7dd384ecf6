"""Safety tools over real websockets: reports, the moderators' queue, mutes, content warnings."""

from __future__ import annotations

from typing import Any

import pytest
from live import expect_error, next_push, subscribe

from kernel.config import Settings
from viora.runtime import Runtime

RUDE = "shut up you fucking idiot"
"""A text the real classifier flags (see test_intelligence_live)."""


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    # One FeedActor: fan-outs run in the order posts are made, so "the next push is the later
    # post" proves that the earlier one was not pushed, without waiting for anything not to come.
    return server_settings.with_(feed_actors=1, reports_open_limit=3)


async def post(client: Any, text: str, **extra: Any) -> dict[str, Any]:
    return (await client.request("post.create", {"text": text, **extra}))["post"]


# --------------------------------------------------------------------------- reports


async def test_reports_follow_visibility_and_reporting_again_updates_the_report(signup: Any) -> None:
    async with signup("ann_r") as (ann, a), signup("ben_r") as (ben, b), signup("cat_r") as (cat, c):
        shown = await post(ann, "buy followers here")
        first = await ben.request(
            "report.create", {"kind": "post", "target_id": shown["id"], "reason": "spam"}
        )
        assert first["created"] is True and first["report"]["reason"] == "spam"
        again = await ben.request(
            "report.create",
            {"kind": "post", "target_id": shown["id"], "reason": "harassment", "note": "  again  "},
        )
        assert again["created"] is False
        assert (again["report"]["id"], again["report"]["reason"], again["report"]["note"]) == (
            first["report"]["id"],
            "harassment",
            "again",
        )

        await expect_error(
            "bad_request",
            ann.request("report.create", {"kind": "post", "target_id": shown["id"], "reason": "spam"}),
        )
        await expect_error(
            "bad_request",
            ann.request("report.create", {"kind": "user", "target_id": a["user_id"], "reason": "spam"}),
        )
        for kind in ("post", "comment", "message", "user"):
            await expect_error(
                "not_found",
                ben.request("report.create", {"kind": kind, "target_id": 10**12, "reason": "spam"}),
            )

        gone = await post(ann, "soon gone")
        await ann.request("post.delete", {"post_id": gone["id"]})
        await expect_error(
            "not_found",
            ben.request("report.create", {"kind": "post", "target_id": gone["id"], "reason": "spam"}),
        )

        # A block hides the post, its comments and the account itself: all not_found, as missing.
        comment = (await ann.request("comment.create", {"post_id": shown["id"], "text": "mine"}))["comment"]
        await ann.request("block", {"user_id": c["user_id"]})
        for kind, target in (("post", shown["id"]), ("comment", comment["id"]), ("user", a["user_id"])):
            await expect_error(
                "not_found",
                cat.request("report.create", {"kind": kind, "target_id": target, "reason": "hate"}),
            )
        reported = await ben.request(
            "report.create", {"kind": "comment", "target_id": comment["id"], "reason": "hate"}
        )
        assert reported["report"]["kind"] == "comment"

        # A direct message only by a member of its conversation.
        conversation = (await ann.request("dm.open", {"user_id": b["user_id"]}))["conversation"]
        message = (await ann.request("dm.send", {"conversation_id": conversation["id"], "text": "hi"}))[
            "message"
        ]
        await expect_error(
            "not_found",
            cat.request("report.create", {"kind": "message", "target_id": message["id"], "reason": "spam"}),
        )
        by_member = await ben.request(
            "report.create", {"kind": "message", "target_id": message["id"], "reason": "spam"}
        )
        assert by_member["created"] is True


async def test_open_reports_are_capped_per_reporter(signup: Any) -> None:
    async with signup("dan_r") as (dan, _d), signup("eve_r") as (eve, _e):
        posts = [await post(dan, f"post {n}") for n in range(4)]
        for p in posts[:3]:
            await eve.request("report.create", {"kind": "post", "target_id": p["id"], "reason": "spam"})
        await expect_error(
            "limit_reached",
            eve.request("report.create", {"kind": "post", "target_id": posts[3]["id"], "reason": "spam"}),
        )
        updated = await eve.request(
            "report.create", {"kind": "post", "target_id": posts[0]["id"], "reason": "other"}
        )
        assert updated["created"] is False, "updating an open report is allowed at the cap"


# --------------------------------------------------------------------------- the moderators' queue


async def test_moderators_see_reports_and_flagged_texts_and_resolve_them(
    server: Runtime, signup: Any
) -> None:
    async with (
        signup("fox_q") as (fox, f),
        signup("gil_q") as (gil, _g),
        signup("hal_q") as (hal, _h),
        signup("mod_q") as (mod, m),
    ):
        await server.services.accounts.set_moderator("mod_q", True)  # what `viora moderators grant` does
        await expect_error("forbidden", gil.request("moderation.queue"))
        await expect_error(
            "forbidden",
            gil.request("moderation.resolve", {"kind": "post", "target_id": 1, "action": "dismiss"}),
        )

        spam = await post(fox, "cheap watches, click", content_warning="ad")
        flagged = (await gil.request("comment.create", {"post_id": spam["id"], "text": RUDE}))["comment"]
        assert flagged["flagged"] is True
        await gil.request(
            "report.create", {"kind": "post", "target_id": spam["id"], "reason": "spam", "note": "bot"}
        )
        await hal.request("report.create", {"kind": "post", "target_id": spam["id"], "reason": "harassment"})

        queue = await mod.request("moderation.queue")
        items = {(i["kind"], i["target_id"]): i for i in queue["items"]}
        assert [(i["kind"], i["target_id"]) for i in queue["items"]] == [
            ("post", spam["id"]),
            ("comment", flagged["id"]),
        ], "newest first: the latest report is newer than the comment"
        reported = items[("post", spam["id"])]
        assert (reported["text"], reported["content_warning"], reported["author_id"]) == (
            "cheap watches, click",
            "ad",
            f["user_id"],
        )
        assert (
            reported["author_username"],
            reported["reporters"],
            reported["reasons"],
            reported["notes"],
        ) == (
            "fox_q",
            2,
            ["harassment", "spam"],
            ["bot"],
        )
        by_classifier = items[("comment", flagged["id"])]
        assert (by_classifier["flagged"], by_classifier["reporters"], by_classifier["text"]) == (
            True,
            0,
            RUDE,
        )
        assert by_classifier["post_id"] == spam["id"] and by_classifier["score"] > 0.9

        paged = await mod.request("moderation.queue", {"limit": 1})
        assert paged["cursor"] is not None
        second = await mod.request("moderation.queue", {"limit": 1, "cursor": paged["cursor"]})
        assert [i["target_id"] for i in second["items"]] == [flagged["id"]] and second["cursor"] is None

        hidden = await mod.request(
            "moderation.resolve", {"kind": "comment", "target_id": flagged["id"], "action": "hide"}
        )
        assert (hidden["resolution"]["action"], hidden["resolution"]["reports_closed"]) == ("hide", 0)
        listed = (await hal.request("comment.list", {"post_id": spam["id"]}))["comments"]
        assert [(c["id"], c["flagged"]) for c in listed] == [(flagged["id"], True)], "kept, hidden as flagged"

        removed = await mod.request(
            "moderation.resolve",
            {"kind": "post", "target_id": spam["id"], "action": "remove", "note": "spam ring"},
        )
        resolution = removed["resolution"]
        assert (resolution["moderator_id"], resolution["action"], resolution["reports_closed"]) == (
            m["user_id"],
            "remove",
            2,
        )
        assert resolution["note"] == "spam ring" and resolution["created_at"] > 0
        await expect_error("not_found", hal.request("post.get", {"post_id": spam["id"]}))
        await expect_error("not_found", fox.request("post.get", {"post_id": spam["id"]}))
        assert (await mod.request("moderation.queue"))["items"] == []

        await expect_error(
            "bad_request",
            mod.request(
                "moderation.resolve", {"kind": "user", "target_id": f["user_id"], "action": "remove"}
            ),
        )
        await expect_error(
            "not_found",
            mod.request("moderation.resolve", {"kind": "post", "target_id": 10**12, "action": "dismiss"}),
        )


# --------------------------------------------------------------------------- mutes


async def test_a_mute_hides_posts_pushes_and_notifications_but_the_muted_notice_nothing(signup: Any) -> None:
    async with (
        signup("ivy_m") as (ivy, i),  # the muter
        signup("joe_m") as (joe, j),  # muted
        signup("kim_m") as (kim, k),  # followed, not muted: the sentinel
    ):
        await ivy.request("follow", {"user_id": j["user_id"]})
        await ivy.request("follow", {"user_id": k["user_id"]})
        before = await post(joe, "posted before the mute")
        own = await post(ivy, "ivy's own post")
        await subscribe(ivy)
        await subscribe(ivy, "notifications")
        for _ in range(2):
            await next_push(ivy)  # joe's post, ivy's own

        muted = await ivy.request("mute", {"user_id": j["user_id"]})
        assert muted == {"changed": True, "expires_at": None}
        assert (await ivy.request("mute", {"user_id": j["user_id"]}))["changed"] is False
        listed = (await ivy.request("mutes.list"))["mutes"]
        assert [m["user_id"] for m in listed] == [j["user_id"]]
        await expect_error("bad_request", ivy.request("mute", {"user_id": i["user_id"]}))
        await expect_error("not_found", ivy.request("mute", {"user_id": 10**12}))

        home = [p["id"] for p in (await ivy.request("timeline.home"))["posts"]]
        assert before["id"] not in home and own["id"] in home, "a muted account's posts leave home"
        for_you = [p["id"] for p in (await ivy.request("timeline.for_you"))["posts"]]
        assert before["id"] not in for_you

        hidden = await post(joe, "after the mute")
        shown = await post(kim, "sentinel")
        push = await next_push(ivy)
        assert push.body["post"]["id"] == shown["id"], "joe's post was not pushed (one FeedActor: in order)"
        assert hidden["id"] not in [p["id"] for p in (await ivy.request("timeline.home"))["posts"]]
        assert (await ivy.request("profile.get", {"user_id": j["user_id"]}))["you_follow"] is True, (
            "the follow stays"
        )
        assert (await ivy.request("post.get", {"post_id": hidden["id"]}))["post"]["id"] == hidden["id"]

        await joe.request("post.like", {"post_id": own["id"]})
        await joe.request("comment.create", {"post_id": own["id"], "text": "nice"})
        await kim.request("post.like", {"post_id": own["id"]})
        note = await next_push(ivy, "notifications")
        assert (note.body["kind"], note.body["actor_id"]) == ("like", k["user_id"]), (
            "joe's like and comment are not told"
        )
        listed_notes = (await ivy.request("notifications.list"))["notifications"]
        assert {n["actor_id"] for n in listed_notes} == {k["user_id"]}
        comments = (await ivy.request("comment.list", {"post_id": own["id"]}))["comments"]
        assert comments == [], "a muted account's comments are left out"

        # joe notices nothing: he still sees ivy, her post, his comment, and may follow her.
        assert (await joe.request("profile.get", {"user_id": i["user_id"]}))["user_id"] == i["user_id"]
        assert len((await joe.request("comment.list", {"post_id": own["id"]}))["comments"]) == 1
        assert (await joe.request("follow", {"user_id": i["user_id"]}))["changed"] is True
        await subscribe(joe)
        await next_push(joe)  # his own post
        await next_push(joe)  # his later one
        later = await post(ivy, "ivy again")
        assert (await next_push(joe)).body["post"]["id"] == later["id"], (
            "the muted still get the muter's posts"
        )

        assert (await ivy.request("unmute", {"user_id": j["user_id"]}))["changed"] is True
        await next_push(ivy)  # ivy's own "ivy again"
        back = await post(joe, "unmuted")
        assert (await next_push(ivy)).body["post"]["id"] == back["id"]
        assert (await ivy.request("mutes.list"))["mutes"] == []


async def test_a_mute_with_a_duration_says_when_it_ends(signup: Any) -> None:
    async with signup("lea_m") as (lea, _l), signup("max_m") as (_mx, m):
        muted = await lea.request("mute", {"user_id": m["user_id"], "duration_s": 3600})
        listed = (await lea.request("mutes.list"))["mutes"]
        assert muted["expires_at"] is not None and listed[0]["expires_at"] == pytest.approx(
            muted["expires_at"]
        )
        assert listed[0]["expires_at"] - listed[0]["created_at"] == pytest.approx(3600, abs=5)
        await expect_error("bad_request", lea.request("mute", {"user_id": m["user_id"], "duration_s": 1}))


# --------------------------------------------------------------------------- content warnings


async def test_content_warnings_round_trip_through_create_edit_get_and_home(signup: Any) -> None:
    async with signup("ned_w") as (ned, n), signup("ola_w") as (ola, _o):
        await ola.request("follow", {"user_id": n["user_id"]})
        await subscribe(ola)
        created = await post(ned, "Bruce Willis was dead all along", content_warning="Sixth Sense spoilers")
        assert created["content_warning"] == "Sixth Sense spoilers"
        pushed = await next_push(ola)
        assert pushed.body["post"]["content_warning"] == "Sixth Sense spoilers"
        home = (await ola.request("timeline.home"))["posts"]
        assert [(p["id"], p["content_warning"]) for p in home] == [(created["id"], "Sixth Sense spoilers")]

        kept = (await ned.request("post.edit", {"post_id": created["id"], "text": "he was dead"}))["post"]
        assert (kept["text"], kept["content_warning"]) == ("he was dead", "Sixth Sense spoilers")
        changed = (
            await ned.request(
                "post.edit", {"post_id": created["id"], "text": "x", "content_warning": " spoilers "}
            )
        )["post"]
        assert changed["content_warning"] == "spoilers"
        assert (await ola.request("post.get", {"post_id": created["id"]}))["post"][
            "content_warning"
        ] == "spoilers"
        cleared = (
            await ned.request("post.edit", {"post_id": created["id"], "text": "x", "content_warning": None})
        )["post"]
        assert cleared["content_warning"] is None
        plain = await post(ned, "no warning", content_warning="   ")
        assert plain["content_warning"] is None, "an empty warning is none"

        judged = (
            await ned.request(
                "post.edit", {"post_id": plain["id"], "text": "calm words", "content_warning": RUDE}
            )
        )["post"]
        assert judged["text_flagged"] is True, "the classifier reads the warning too"
