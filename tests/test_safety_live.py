"""Safety rules over real websockets: nothing crosses a block (groups and typing included), a block
is never revealed, presence is for followers, an edited post is judged again, moderators are
accounts the operator chose."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio
from live import ADMIN_TOKEN, expect_error, next_push, subscribe
from test_intelligence_live import post_with_photo

from kernel.config import Settings
from stores.vectors import point_id
from viora import cli
from viora.client import Client, ServerError
from viora.runtime import Runtime
from viora.server import serve

RUDE = "shut up you fucking idiot"


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    # A name listed before anyone registered it: registering it later must not make a moderator.
    return server_settings.with_(admin_users="late_mod")


async def _refusal(awaitable: Any) -> tuple[str, str]:
    with pytest.raises(ServerError) as caught:
        await awaitable
    return caught.value.code, str(caught.value)


# --------------------------------------------------------------------------- blocks in groups


async def test_a_group_goes_on_but_nothing_crosses_a_block(signup: Any) -> None:
    async with signup("gfox") as (fox, f), signup("ggil") as (gil, g), signup("ghugo") as (hugo, h):
        group = (await fox.request("dm.group", {"user_ids": [g["user_id"], h["user_id"]], "title": "t"}))[
            "conversation"
        ]
        target = {"conversation_id": group["id"]}
        await gil.request("block", {"user_id": f["user_id"]})
        await subscribe(hugo, "dm")

        from_fox = (await fox.request("dm.send", {**target, "text": "from fox"}))["message"]
        assert (await next_push(hugo, "dm")).body["message"]["id"] == from_fox["id"]
        assert (await subscribe(gil, "dm"))["last"] == 0, "fox's message did not reach gil's stream"
        from_gil = (await gil.request("dm.send", {**target, "text": "from gil"}))["message"]
        assert (await next_push(hugo, "dm")).body["message"]["id"] == from_gil["id"]
        history = (await fox.request("dm.history", target))["messages"]
        assert [m["text"] for m in history] == ["from fox"], "fox neither got nor reads gil's message"
        assert [m["text"] for m in (await gil.request("dm.history", target))["messages"]] == ["from gil"]
        assert [m["text"] for m in (await hugo.request("dm.history", target))["messages"]] == [
            "from gil",
            "from fox",
        ]

        await gil.request("dm.read", {**target, "message_id": from_gil["id"]})
        assert (await next_push(hugo, "dm")).type == "dm.receipt"
        previews = (await fox.request("dm.list"))["conversations"]
        assert previews[0]["last_message"] is None, "no preview of what the other side wrote"

        await fox.send("typing", target)
        assert (await next_push(hugo, "typing")).body["user_id"] == f["user_id"]
        await hugo.send("typing", target)
        typing = await next_push(gil, "typing")
        assert typing.body["user_id"] == h["user_id"], "fox's typing never reached gil"

        await expect_error(  # no new group with someone across a block
            "not_found", fox.request("dm.group", {"user_ids": [g["user_id"], h["user_id"]], "title": "u"})
        )


async def test_typing_does_not_cross_a_block_in_a_direct_conversation(signup: Any) -> None:
    async with signup("tana") as (ana, a), signup("tbo") as (bo, b):
        conversation = (await ana.request("dm.open", {"user_id": b["user_id"]}))["conversation"]
        await bo.request("block", {"user_id": a["user_id"]})
        await ana.send("typing", {"conversation_id": conversation["id"]})
        assert (await ana.request("ping"))["ts"] > 0  # the typing frame was handled before the ping
        assert (await bo.request("ping"))["ts"] > 0
        assert bo.events.statistics().current_buffer_used == 0, "no typing push across the block"


# --------------------------------------------------------------------------- a block is not revealed


async def test_a_block_answers_as_if_the_account_did_not_exist(signup: Any) -> None:
    async with signup("hid_a") as (a, _a), signup("hid_b") as (b, bb):
        await b.request("block", {"user_id": _a["user_id"]})
        nobody = 999_999_999
        for request, body in (
            ("follow", {}),
            ("dm.open", {}),
            ("dm.group", {"title": "x"}),
        ):

            def ids(user_id: int, request: str = request) -> dict[str, Any]:
                return {"user_ids": [user_id]} if request == "dm.group" else {"user_id": user_id}

            blocked = await _refusal(a.request(request, {**body, **ids(bb["user_id"])}))
            missing = await _refusal(a.request(request, {**body, **ids(nobody)}))
            assert blocked[0] == "not_found", (request, blocked)
            assert blocked == missing, f"{request}: a block must read like a missing account"


# --------------------------------------------------------------------------- presence


async def test_presence_is_shown_to_followers_and_to_oneself_only(signup: Any) -> None:
    async with signup("pre_a") as (a, pa), signup("pre_b") as (_b, pb):
        ask = {"user_ids": [pa["user_id"], pb["user_id"]]}
        mine = {"user_id": pa["user_id"], "online": True, "last_seen": None}
        assert (await a.request("presence.get", ask))["presence"] == [mine], "not a follower of b"
        await a.request("follow", {"user_id": pb["user_id"]})
        shown = (await a.request("presence.get", ask))["presence"]
        assert shown == [mine, {"user_id": pb["user_id"], "online": True, "last_seen": None}]
        await a.request("unfollow", {"user_id": pb["user_id"]})
        assert (await a.request("presence.get", ask))["presence"] == [mine]


# --------------------------------------------------------------------------- post.edit


async def _vector(server: Runtime, post_id: int) -> list[float] | None:
    return (await server.stores.vectors.get_vectors([point_id("text", post_id)])).get(
        point_id("text", post_id)
    )


def _same(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(abs(x - y) < 1e-5 for x, y in zip(a, b, strict=True))


@contextmanager
def _indexed(server: Runtime, monkeypatch: pytest.MonkeyPatch, post_id: int) -> Iterator[trio.Event]:
    """An event set once the indexer (in the background) has indexed ``post_id`` again."""
    done = trio.Event()
    index_posts = server.services.intelligence.index_posts

    async def watched(post_ids: list[int]) -> None:
        await index_posts(post_ids)
        if post_id in post_ids:
            done.set()

    with monkeypatch.context() as patch:
        patch.setattr(server.services.intelligence, "index_posts", watched)
        yield done


async def test_an_edited_post_is_moderated_and_indexed_again(
    server: Runtime, signup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with signup("edi") as (edi, e), signup("edo") as (edo, _o):
        post = await post_with_photo(server, edi, e["token"], "lovely morning")
        twin = (await edi.request("post.create", {"text": RUDE}))["post"]  # the new text, indexed
        await server.services.intelligence.index_posts([post["id"], twin["id"]])
        assert (await edo.request("post.get", {"post_id": post["id"]}))["post"]["text_flagged"] is False

        with _indexed(server, monkeypatch, post["id"]) as reindexed:
            edited = (await edi.request("post.edit", {"post_id": post["id"], "text": RUDE}))["post"]
            assert (edited["text"], edited["text_flagged"]) == (RUDE, True)
            assert (await edo.request("post.get", {"post_id": post["id"]}))["post"]["text_flagged"] is True
            with trio.fail_after(20):
                await reindexed.wait()
        assert _same(await _vector(server, post["id"]), await _vector(server, twin["id"]))

        with _indexed(server, monkeypatch, post["id"]) as reindexed:
            cleaned = (await edi.request("post.edit", {"post_id": post["id"], "text": ""}))["post"]
            assert cleaned["text_flagged"] is False
            with trio.fail_after(20):
                await reindexed.wait()
        assert await _vector(server, post["id"]) is None, "no caption: no caption vector"
        (media_id,) = post["media_ids"]
        image = point_id("image", media_id)
        assert await server.stores.vectors.get_vectors([image]), "the photo is indexed again"


# --------------------------------------------------------------------------- moderators


async def test_a_listed_name_registered_after_start_up_is_no_moderator(signup: Any) -> None:
    async with signup("late_mod") as (late, _l):
        await expect_error("forbidden", late.request("moderation.review"))


async def test_operators_grant_and_revoke_moderators_with_the_cli(server: Runtime, signup: Any) -> None:
    def viora(*args: str) -> int:
        return cli.main(["moderators", *args, "--url", str(server.http_url), "--token", ADMIN_TOKEN])

    async with signup("cli_mod") as (mod, _m):
        await expect_error("forbidden", mod.request("moderation.review"))
        assert await trio.to_thread.run_sync(viora, "grant", "cli_mod") == 0
        assert (await mod.request("moderation.review"))["items"] == []
        assert await trio.to_thread.run_sync(viora, "revoke", "cli_mod") == 0
        await expect_error("forbidden", mod.request("moderation.review"))
        assert await trio.to_thread.run_sync(viora, "grant", "no_such_account") == 1


async def test_listed_accounts_that_exist_at_start_up_become_moderators(
    server: Runtime, server_settings: Settings, signup: Any, connect: Any, tmp_path: Any
) -> None:
    async with signup("early_mod") as (_early, e):
        await expect_error("forbidden", _early.request("moderation.review"))
    restarted = server_settings.with_(admin_users="early_mod, never_registered", data_dir=tmp_path)
    async with trio.open_nursery() as nursery:
        second: Runtime = await nursery.start(
            lambda task_status: serve(restarted, handle_signals=False, task_status=task_status)
        )
        assert second.http_url is not None
        url = second.http_url.replace("http://", "ws://", 1) + "/ws"
        async with Client.connect(url) as early:
            await early.request("auth.resume", {"token": e["token"]})
            assert (await early.request("moderation.review"))["items"] == []
        nursery.cancel_scope.cancel()
    async with signup("never_registered") as (late, _l):
        await expect_error("forbidden", late.request("moderation.review"))
