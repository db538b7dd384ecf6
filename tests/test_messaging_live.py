"""Direct messages over real websockets: delivery, receipts, privacy, groups, typing, resume."""

from __future__ import annotations

from typing import Any

from live import expect_error, next_push, subscribe


async def test_a_dm_is_delivered_live_and_receipts_flow_back(signup: Any) -> None:
    async with signup("amy") as (amy, _a), signup("ben") as (ben, b):
        await subscribe(amy, "dm")
        await subscribe(ben, "dm")
        conversation = (await amy.request("dm.open", {"user_id": b["user_id"]}))["conversation"]
        again = (await ben.request("dm.open", {"user_id": _a["user_id"]}))["conversation"]
        assert again["id"] == conversation["id"], "one conversation per pair"
        sent = (await amy.request("dm.send", {"conversation_id": conversation["id"], "text": "hi ben"}))[
            "message"
        ]

        received = await next_push(ben, "dm")
        assert (received.type, received.body["message"]) == ("dm.message", sent)
        own_copy = await next_push(amy, "dm")  # for amy's other devices
        assert own_copy.body["message"]["id"] == sent["id"]

        ids = {"conversation_id": conversation["id"], "message_id": sent["id"]}
        assert await ben.request("dm.delivered", ids) == {"changed": True}
        delivered = await next_push(amy, "dm")
        assert (delivered.type, delivered.body) == (
            "dm.receipt",
            {**ids, "user_id": b["user_id"], "kind": "delivered"},
        )
        assert await ben.request("dm.read", ids) == {"changed": True}
        assert (await next_push(amy, "dm")).body["kind"] == "read"
        assert await ben.request("dm.read", ids) == {"changed": False}, "receipts only move forward"


async def test_the_conversation_list_shows_last_message_unread_count_and_receipts(signup: Any) -> None:
    async with signup("cleo") as (cleo, c), signup("dan") as (dan, d):
        conversation = (await cleo.request("dm.open", {"user_id": d["user_id"]}))["conversation"]
        empty = (await dan.request("dm.list"))["conversations"]
        assert [(x["id"], x["last_message"], x["unread"]) for x in empty] == [(conversation["id"], None, 0)]

        target = {"conversation_id": conversation["id"]}
        first = (await cleo.request("dm.send", {**target, "text": "one"}))["message"]
        second = (await cleo.request("dm.send", {**target, "text": "two"}))["message"]
        (listed,) = (await dan.request("dm.list"))["conversations"]
        assert (listed["last_message"], listed["unread"]) == (second, 2)
        assert listed["receipts"] == [{"user_id": c["user_id"], "delivered": 0, "read": 0}]

        await dan.request("dm.read", {**target, "message_id": first["id"]})
        assert (await dan.request("dm.list"))["conversations"][0]["unread"] == 1
        (seen_by_cleo,) = (await cleo.request("dm.list"))["conversations"]
        assert seen_by_cleo["unread"] == 0, "her own messages are not unread for her"
        assert seen_by_cleo["receipts"] == [{"user_id": d["user_id"], "delivered": first["id"], "read": first["id"]}]


async def test_a_third_user_can_neither_read_nor_join(signup: Any) -> None:
    async with signup("cal") as (cal, _c), signup("dee") as (_dee, d), signup("eve") as (eve, _e):
        conversation = (await cal.request("dm.open", {"user_id": d["user_id"]}))["conversation"]
        sent = (await cal.request("dm.send", {"conversation_id": conversation["id"], "text": "secret"}))[
            "message"
        ]
        target = {"conversation_id": conversation["id"]}
        await expect_error("not_found", eve.request("dm.history", target))
        await expect_error("not_found", eve.request("dm.send", {**target, "text": "let me in"}))
        await expect_error("not_found", eve.request("dm.read", {**target, "message_id": sent["id"]}))
        await expect_error("unknown_type", eve.request("dm.join", target))
        assert (await subscribe(eve, "dm"))["last"] == 0, "nothing of it reached eve's stream"
        assert (await eve.request("dm.list"))["conversations"] == []
        history = await cal.request("dm.history", target)
        assert [m["text"] for m in history["messages"]] == ["secret"]


async def test_offline_members_get_messages_on_resume_and_groups_reach_everyone(
    signup: Any, connect: Any
) -> None:
    async with signup("fox") as (fox, _f), signup("gil") as (gil, g):
        async with signup("hugo") as (_hugo, h):
            pass  # hugo goes offline
        group = (await fox.request("dm.group", {"user_ids": [g["user_id"], h["user_id"]], "title": "trip"}))[
            "conversation"
        ]
        assert sorted(group["member_ids"]) == sorted([_f["user_id"], g["user_id"], h["user_id"]])
        await subscribe(gil, "dm", after=None)
        sent = (await fox.request("dm.send", {"conversation_id": group["id"], "text": "train at 9"}))[
            "message"
        ]
        assert (await next_push(gil, "dm")).body["message"]["id"] == sent["id"]
        async with connect() as hugo_back:
            await hugo_back.request("auth.resume", {"token": h["token"]})
            await subscribe(hugo_back, "dm", after=0)
            replay = await next_push(hugo_back, "dm")
            assert (replay.seq, replay.body["message"]["text"]) == (1, "train at 9")


async def test_typing_reaches_the_other_members_only(signup: Any) -> None:
    async with signup("ida") as (ida, i), signup("jay") as (jay, j):
        conversation = (await ida.request("dm.open", {"user_id": j["user_id"]}))["conversation"]
        await ida.send("typing", {"conversation_id": conversation["id"]})
        typing = await next_push(jay, "typing")
        assert typing.body == {"conversation_id": conversation["id"], "user_id": i["user_id"]}
        assert (await ida.request("ping"))["ts"] > 0
        assert ida.events.statistics().current_buffer_used == 0, "the typist gets no echo"


async def test_a_block_silences_a_direct_conversation(signup: Any) -> None:
    async with signup("kim_b") as (kim, _k), signup("leo") as (leo, lo):
        conversation = (await kim.request("dm.open", {"user_id": lo["user_id"]}))["conversation"]
        await leo.request("block", {"user_id": _k["user_id"]})
        await expect_error(  # not_found, as for a stranger: the answer does not tell kim she is blocked
            "not_found", kim.request("dm.send", {"conversation_id": conversation["id"], "text": "hey"})
        )
        await expect_error("not_found", kim.request("dm.open", {"user_id": lo["user_id"]}))
