"""The social platform over real websockets: follows, posts, live fan-out, blocks, resume."""

from __future__ import annotations

from typing import Any

from live import expect_error, next_push, subscribe

from viora.runtime import Runtime


async def test_a_post_reaches_online_followers_live_and_offline_followers_timelines(
    signup: Any, connect: Any
) -> None:
    async with signup("alice") as (alice, a), signup("bob") as (bob, _b):
        async with signup("carol") as (carol, c):
            await carol.request("follow", {"user_id": a["user_id"]})
        await bob.request("follow", {"user_id": a["user_id"]})
        await subscribe(bob)

        posted = (await alice.request("post.create", {"text": "hello from alice"}))["post"]
        push = await next_push(bob)
        assert (push.type, push.seq, push.body["post"]["id"]) == ("post.created", 1, posted["id"])
        assert push.body["post"]["text"] == "hello from alice"

        async with connect() as carol_again:  # carol was offline when alice posted
            await carol_again.request("auth.resume", {"token": c["token"]})
            home = await carol_again.request("timeline.home")
            assert [p["id"] for p in home["posts"]] == [posted["id"]]
            assert (await subscribe(carol_again))["last"] == 1
            replay = await next_push(carol_again)
            assert (replay.seq, replay.body["post"]["id"]) == (1, posted["id"])


async def test_resume_after_a_disconnect_misses_nothing_and_repeats_nothing(
    signup: Any, connect: Any
) -> None:
    async with signup("dora") as (dora, d), signup("eddie") as (ed, e):
        await ed.request("follow", {"user_id": d["user_id"]})
        await subscribe(ed)
        first = (await dora.request("post.create", {"text": "one"}))["post"]
        assert (await next_push(ed)).body["post"]["id"] == first["id"]
        last_seen = 1
    # ed is gone; dora posts while he is away (dora reconnects to post)
    async with connect() as dora2, connect() as ed2:
        await dora2.request("auth.resume", {"token": d["token"]})
        missed = [
            (await dora2.request("post.create", {"text": f"missed {n}"}))["post"]["id"] for n in range(3)
        ]
        await ed2.request("auth.resume", {"token": e["token"]})
        # The posts were acknowledged; their fan-outs may still be running, so each one reaches
        # ed either in the replay or live right after it — exactly once, in order, either way.
        reply = await subscribe(ed2, after=last_seen)
        assert reply["stream"] == "home" and last_seen <= reply["last"] <= 4
        received = [await next_push(ed2) for _ in range(3)]
        assert [(p.seq, p.body["post"]["id"]) for p in received] == list(zip([2, 3, 4], missed, strict=True))
        live = (await dora2.request("post.create", {"text": "live again"}))["post"]
        after = await next_push(ed2)
        assert (after.seq, after.body["post"]["id"]) == (5, live["id"]), "live continues at the next number"


async def test_only_the_author_edits_or_deletes_and_deletions_replay_as_removed(
    signup: Any, connect: Any
) -> None:
    async with signup("fay") as (fay, f), signup("gus") as (gus, g):
        await gus.request("follow", {"user_id": f["user_id"]})
        await subscribe(gus)
        post = (await fay.request("post.create", {"text": "original"}))["post"]
        assert (await next_push(gus)).body["post"]["id"] == post["id"]
        await expect_error("forbidden", gus.request("post.edit", {"post_id": post["id"], "text": "hijacked"}))
        await expect_error("forbidden", gus.request("post.delete", {"post_id": post["id"]}))
        edited = (await fay.request("post.edit", {"post_id": post["id"], "text": "edited"}))["post"]
        assert edited["text"] == "edited" and edited["edited_at"] is not None
        await fay.request("post.delete", {"post_id": post["id"]})
        await expect_error("not_found", gus.request("post.get", {"post_id": post["id"]}))
        async with connect() as gus_later:  # a socket replaying the stream sees the deletion
            await gus_later.request("auth.resume", {"token": g["token"]})
            await subscribe(gus_later)
            removed = await next_push(gus_later)
            assert (removed.seq, removed.type, removed.body) == (1, "post.removed", {"post_id": post["id"]})


async def test_a_blocked_user_neither_sees_nor_receives(signup: Any) -> None:
    async with signup("hal") as (hal, h), signup("ivy") as (ivy, i), signup("jon") as (jon, _j):
        await ivy.request("follow", {"user_id": h["user_id"]})
        await jon.request("follow", {"user_id": h["user_id"]})
        await subscribe(jon)
        await hal.request("block", {"user_id": i["user_id"]})
        post = (await hal.request("post.create", {"text": "not for ivy"}))["post"]
        assert (await next_push(jon)).body["post"]["id"] == post["id"]  # the fan-out has run
        assert (await subscribe(ivy))["last"] == 0, "nothing reached ivy's home stream"
        await expect_error("not_found", ivy.request("post.get", {"post_id": post["id"]}))
        await expect_error("not_found", ivy.request("timeline.user", {"user_id": h["user_id"]}))
        await expect_error("not_found", ivy.request("profile.get", {"user_id": h["user_id"]}))
        await expect_error("not_found", ivy.request("follow", {"user_id": h["user_id"]}))
        await expect_error("not_found", ivy.request("post.like", {"post_id": post["id"]}))


async def test_likes_comments_follows_and_mentions_notify_live(signup: Any) -> None:
    async with signup("kay") as (kay, k), signup("lou") as (lou, u):
        await subscribe(kay, "notifications")
        post = (await kay.request("post.create", {"text": "notify me"}))["post"]
        await lou.request("follow", {"user_id": k["user_id"]})
        assert (await lou.request("post.like", {"post_id": post["id"]})) == {"changed": True}
        assert (await lou.request("post.like", {"post_id": post["id"]})) == {"changed": False}
        comment = (await lou.request("comment.create", {"post_id": post["id"], "text": "hi @kay"}))["comment"]
        kinds = [(await next_push(kay, "notifications")).body for _ in range(4)]
        assert [n["kind"] for n in kinds] == ["follow", "like", "comment", "mention"]
        assert all(n["actor_id"] == u["user_id"] for n in kinds)
        assert kinds[2]["comment_id"] == comment["id"]
        current = (await kay.request("post.get", {"post_id": post["id"]}))["post"]
        assert (current["likes"], current["comments"]) == (1, 1)
        listed = await kay.request("notifications.list")
        assert [n["kind"] for n in listed["notifications"]] == ["mention", "comment", "like", "follow"]


async def test_profiles_and_follow_lists(signup: Any) -> None:
    async with signup("max") as (mx, m), signup("ned") as (ned, n):
        await ned.request("follow", {"user_id": m["user_id"]})
        await mx.request("profile.update", {"display_name": "Max", "bio": "photos"})
        profile = await ned.request("profile.get", {"username": "max"})
        assert (profile["display_name"], profile["bio"], profile["followers"], profile["you_follow"]) == (
            "Max",
            "photos",
            1,
            True,
        )
        assert (await mx.request("followers.list", {"user_id": m["user_id"]}))["user_ids"] == [n["user_id"]]
        await expect_error("bad_request", ned.request("follow", {"user_id": n["user_id"]}))


async def test_the_tree_shows_the_feed_actors(signup: Any, server: Runtime) -> None:
    async with signup("ozzy") as (oz, _o):
        await subscribe(oz)
        for n in range(2):  # authors are in their own home: each push marks a fan-out in progress
            await oz.request("post.create", {"text": f"counted {n}"})
            await next_push(oz)
        # One FeedActor serves all of ozzy's posts, one at a time: the first is fully handled.
        feed = next(c for c in server.root.inspect()["children"] if c["name"] == "feed")
        actors = [c for c in feed["children"] if c["name"].startswith("feed-")]
        assert len(actors) == server.settings.feed_actors
        assert sum(c["posts_fanned_out"] for c in actors) >= 1
        assert all(c["mailbox"]["capacity"] == server.settings.feed_mailbox for c in actors)
        assert [c["name"] for c in feed["children"] if c not in actors] == ["recovery"]


async def test_presence_of_people_you_follow(signup: Any, connect: Any) -> None:
    async with signup("pia") as (pia, _p):
        async with signup("quin") as (_quin, q):
            await pia.request("follow", {"user_id": q["user_id"]})
            status = await pia.request("presence.get", {"user_ids": [q["user_id"]]})
            assert status == {"presence": [{"user_id": q["user_id"], "online": True, "last_seen": None}]}
        gone = await next_push(pia, "presence")  # quin's last socket closed
        if gone.body["online"]:  # quin's coming online, if the presence actor saw the follow first
            gone = await next_push(pia, "presence")
        assert (gone.body["user_id"], gone.body["online"]) == (q["user_id"], False)
        assert gone.body["last_seen"] > 0
        async with connect() as quin_again:
            await quin_again.request("auth.resume", {"token": q["token"]})
            back = await next_push(pia, "presence")
            assert (back.body["user_id"], back.body["online"], back.body["last_seen"]) == (
                q["user_id"],
                True,
                None,
            )


async def test_a_post_whose_fan_out_was_lost_is_fanned_out_by_the_recovery_sweep(
    server: Runtime, signup: Any
) -> None:
    async with signup("author") as (_author, a), signup("reader") as (reader, r):
        await reader.request("follow", {"user_id": a["user_id"]})
        await subscribe(reader)
        # Stored and acknowledged as post.create does, but the process "died" before its fan-out.
        lost = await server.stores.social.create_post(a["user_id"], "lost in a crash", (), None)
        assert await server.feed.recovery.sweep_once(older_than_s=0) >= 1
        push = await next_push(reader)
        assert (push.type, push.body["post"]["id"]) == ("post.created", lost.id)

        # At least once: a second append of the same post (a retry after a partial fan-out) is
        # shown once on the home timeline.
        await server.stores.timeline.append([r["user_id"]], "home", "post.created", {"post_id": lost.id})
        home = await reader.request("timeline.home")
        assert [p["id"] for p in home["posts"]] == [lost.id]


async def test_resuming_beyond_the_head_does_not_silence_the_users_sockets(signup: Any, connect: Any) -> None:
    async with signup("gil") as (gil, g), signup("hana") as (hana, h), connect() as hana_ahead:
        await hana.request("follow", {"user_id": g["user_id"]})
        await hana_ahead.request("auth.resume", {"token": h["token"]})
        assert (await subscribe(hana))["last"] == 0
        reply = await subscribe(hana_ahead, after=1000)  # numbers this stream never reached
        assert reply == {"stream": "home", "last": 0, "more": False}, "clamped to the head"

        first = (await gil.request("post.create", {"text": "first"}))["post"]
        for client in (hana, hana_ahead):
            push = await next_push(client)
            assert (push.seq, push.body["post"]["id"]) == (1, first["id"])

        async with connect() as hana_later:
            await hana_later.request("auth.resume", {"token": h["token"]})
            assert (await subscribe(hana_later, after=None))["last"] == 1
            second = (await gil.request("post.create", {"text": "second"}))["post"]
            for client in (hana, hana_ahead, hana_later):
                push = await next_push(client)
                assert (push.seq, push.body["post"]["id"]) == (2, second["id"])
