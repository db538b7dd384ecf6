"""Client keys over real websockets: a retried create returns the first object and tells nobody twice."""

from __future__ import annotations

import uuid
from typing import Any

import trio
from live import expect_error, next_push, subscribe


def key() -> str:
    return str(uuid.uuid4())


async def test_a_retried_post_is_one_post_one_push_one_stream_entry_one_notification(
    signup: Any, connect: Any
) -> None:
    async with signup("kate") as (kate, k), signup("liam") as (liam, li):
        await liam.request("follow", {"user_id": k["user_id"]})
        await subscribe(liam)
        body = {"text": "hello @liam", "client_key": key()}
        first = (await kate.request("post.create", body))["post"]
        async with connect() as kate_elsewhere:  # the retry comes from another socket of hers
            await kate_elsewhere.request("auth.resume", {"token": k["token"]})
            again = (await kate_elsewhere.request("post.create", body))["post"]
        assert again == first

        await kate.request("follow", {"user_id": li["user_id"]})  # markers: what comes next
        marker = (await kate.request("post.create", {"text": "marker"}))["post"]
        home = [await next_push(liam) for _ in range(2)]
        assert [p.body["post"]["id"] for p in home] == [first["id"], marker["id"]], "one post.created"
        notes = (await liam.request("notifications.list"))["notifications"]
        assert [n["kind"] for n in notes] == ["follow", "mention"], "one mention notification"
        own = await liam.request("timeline.user", {"user_id": k["user_id"]})
        assert [p["id"] for p in own["posts"]] == [marker["id"], first["id"]], "once on her posts stream"

        await expect_error("conflict", kate.request("post.create", {**body, "text": "edited draft"}))
        await expect_error("bad_request", kate.request("post.create", {"text": "x", "client_key": "a b"}))
        await expect_error("bad_request", kate.request("post.create", {"text": "x", "client_key": ""}))


async def test_a_post_sent_twice_at_once_with_one_key_is_created_once(signup: Any, connect: Any) -> None:
    async with signup("mona") as (mona, m), connect() as mona_phone:
        await mona_phone.request("auth.resume", {"token": m["token"]})
        body = {"text": "double tap", "client_key": key()}
        replies: list[dict[str, Any]] = []

        async def post(client: Any) -> None:
            replies.append((await client.request("post.create", body))["post"])

        async with trio.open_nursery() as nursery:
            for client in (mona, mona_phone):
                nursery.start_soon(post, client)
        assert replies[0] == replies[1]
        own = await mona.request("timeline.user", {"user_id": m["user_id"]})
        assert [p["id"] for p in own["posts"]] == [replies[0]["id"]]


async def test_a_retried_comment_is_one_comment_and_one_notification(signup: Any) -> None:
    async with signup("nia") as (nia, _n), signup("otto") as (otto, _o):
        await subscribe(nia, "notifications")
        post = (await nia.request("post.create", {"text": "thoughts?"}))["post"]
        body = {"post_id": post["id"], "text": "yes", "client_key": key()}
        first = (await otto.request("comment.create", body))["comment"]
        assert (await otto.request("comment.create", body))["comment"] == first
        await otto.request("post.like", {"post_id": post["id"]})  # a marker
        notes = [(await next_push(nia, "notifications")).body["kind"] for _ in range(2)]
        assert notes == ["comment", "like"]
        comments = (await nia.request("comment.list", {"post_id": post["id"]}))["comments"]
        assert [c["id"] for c in comments] == [first["id"]]


async def test_a_retried_dm_is_one_message_delivered_once(signup: Any) -> None:
    async with signup("pia") as (pia, _p), signup("quin") as (quin, q):
        await subscribe(quin, "dm")
        await subscribe(pia, "dm")
        conversation = (await pia.request("dm.open", {"user_id": q["user_id"]}))["conversation"]
        body = {"conversation_id": conversation["id"], "text": "are you there?", "client_key": key()}
        first = (await pia.request("dm.send", body))["message"]
        assert (await pia.request("dm.send", body))["message"] == first
        marker = (await pia.request("dm.send", {"conversation_id": conversation["id"], "text": "marker"}))[
            "message"
        ]
        for member in (quin, pia):  # the sender's own copy (for her other devices) is sent once too
            received = [(await next_push(member, "dm")).body["message"]["id"] for _ in range(2)]
            assert received == [first["id"], marker["id"]]
        history = await quin.request("dm.history", {"conversation_id": conversation["id"]})
        assert [m["id"] for m in history["messages"]] == [marker["id"], first["id"]]
        await expect_error("conflict", pia.request("dm.send", {**body, "text": "other words"}))
