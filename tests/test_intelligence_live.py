"""Content understanding end to end: real uploads, the tiny CLIP model, the embedded vector store.

The tiny random-init model has no semantic quality, so these tests check what does not depend on it
— identical pictures are each other's nearest neighbours, filters and blocks hold, moderation
verdicts change what others see, deleted posts leave the index. Ranking real photographs by a text
query needs a pretrained model, which cannot be downloaded here (see test_ml_real_model).
"""

from __future__ import annotations

from typing import Any

from media_client import bearer
from media_samples import photo_jpeg, video_mp4
from test_media_http import http, progress_until_done

from stores.vectors import VectorFilter, point_id
from viora.client import Client
from viora.runtime import Runtime


async def upload_photo(server: Runtime, client: Client, token: str, name: str = "astronaut") -> int:
    accepted = await http(server, "POST", "/media", photo_jpeg(name, size=(640, 480)), **bearer(token))
    assert accepted.status == 202
    media_id = accepted.json()["media_id"]
    assert (await progress_until_done(client, media_id))[-1]["state"] == "ready"
    return int(media_id)


async def post_with_photo(
    server: Runtime, client: Client, token: str, caption: str, name: str = "astronaut"
) -> dict[str, Any]:
    """Upload, post, and run the post's analysis and indexing to completion (the IndexActor does the
    same in the background; both are idempotent, so awaiting it here is a deterministic wait)."""
    media_id = await upload_photo(server, client, token, name)
    post = (await client.request("post.create", {"text": caption, "media_ids": [media_id]}))["post"]
    await server.services.intelligence.analyse_media(media_id)
    await server.services.intelligence.index_posts([post["id"]])
    return post


async def test_identical_pictures_find_each_other_and_filters_hold(server: Runtime, signup: Any) -> None:
    async with signup("ana_i") as (ana, a), signup("bob_i") as (bo, b), signup("cyd") as (cy, _c):
        first = await post_with_photo(server, ana, a["token"], "one")
        second = await post_with_photo(server, bo, b["token"], "two")
        (first_media,) = first["media_ids"]

        similar = (await cy.request("search.similar", {"media_id": first_media}))["results"]
        assert similar[0]["post"]["id"] == second["id"], "the same picture is the nearest neighbour"
        assert similar[0]["similarity"] > 0.99
        assert all(r["media_id"] != first_media for r in similar), "a media item is not similar to itself"

        by_author = await cy.request("search", {"query": "a person", "author_id": b["user_id"]})
        assert {r["post"]["author_id"] for r in by_author["results"]} == {b["user_id"]}
        videos_only = await cy.request("search", {"query": "a person", "kinds": ["video"]})
        assert videos_only["results"] == []

        await bo.request("block", {"user_id": _c["user_id"]})
        after_block = await cy.request("search", {"query": "a person"})
        assert b["user_id"] not in {r["post"]["author_id"] for r in after_block["results"]}
        assert a["user_id"] in {r["post"]["author_id"] for r in after_block["results"]}


async def test_alignment_is_stored_and_shown_and_deleted_posts_leave_the_index(
    server: Runtime, signup: Any
) -> None:
    async with signup("dot_i") as (dot, d):
        post = await post_with_photo(server, dot, d["token"], "an astronaut in a white suit")
        shown = (await dot.request("post.get", {"post_id": post["id"]}))["post"]
        assert 0 <= shown["alignment"] <= 100
        (media_id,) = post["media_ids"]
        ids = [point_id("image", media_id), point_id("text", post["id"])]
        assert len(await server.stores.vectors.get_vectors(ids)) == 2
        await dot.request("post.delete", {"post_id": post["id"]})
        assert await server.stores.vectors.get_vectors(ids) == {}


async def test_clean_media_is_not_flagged(server: Runtime, signup: Any) -> None:
    async with signup("gia_i") as (gia, g), signup("hal_i") as (hal, _h):
        post = await post_with_photo(server, gia, g["token"], "coffee", name="coffee")
        seen = (await hal.request("post.get", {"post_id": post["id"]}))["post"]
        assert seen["media"][0]["moderation"] == "ok"
        assert [r["post"]["id"] for r in (await hal.request("search", {"query": "cup"}))["results"]] == [
            post["id"]
        ]


async def test_for_you_recommends_near_likes_and_leaves_out_own_liked_and_blocked(
    server: Runtime, signup: Any
) -> None:
    async with signup("ivo_i") as (ivo, i), signup("jo_i") as (jo, j), signup("kit_i") as (kit, k):
        liked = await post_with_photo(server, ivo, i["token"], "liked one")
        twin = await post_with_photo(server, jo, j["token"], "looks the same")
        own = await post_with_photo(server, kit, k["token"], "kit's own")
        await kit.request("post.like", {"post_id": liked["id"]})

        page = (await kit.request("timeline.for_you", {"limit": 10}))["posts"]
        recommended = [p["id"] for p in page if p["recommended"]]
        assert recommended[0] == twin["id"], "the nearest neighbour of what kit liked comes first"
        assert liked["id"] not in recommended and own["id"] not in recommended

        await kit.request("block", {"user_id": j["user_id"]})
        page = (await kit.request("timeline.for_you", {"limit": 10}))["posts"]
        assert twin["id"] not in [p["id"] for p in page]


async def test_text_moderation_flags_abuse_in_comments_and_messages(signup: Any) -> None:
    async with signup("lia_i") as (lia, _l), signup("max_i") as (mx, m):
        post = (await lia.request("post.create", {"text": "hello"}))["post"]
        rude = await mx.request(
            "comment.create", {"post_id": post["id"], "text": "shut up you fucking idiot"}
        )
        kind = await mx.request("comment.create", {"post_id": post["id"], "text": "lovely photo"})
        assert (rude["comment"]["flagged"], kind["comment"]["flagged"]) == (True, False)
        listed = (await lia.request("comment.list", {"post_id": post["id"]}))["comments"]
        assert {c["id"]: c["flagged"] for c in listed} == {
            rude["comment"]["id"]: True,
            kind["comment"]["id"]: False,
        }

        conversation = (await lia.request("dm.open", {"user_id": m["user_id"]}))["conversation"]
        sent = await mx.request(
            "dm.send", {"conversation_id": conversation["id"], "text": "fuck off you moron"}
        )
        assert sent["message"]["flagged"] is True
        history = (await lia.request("dm.history", {"conversation_id": conversation["id"]}))["messages"]
        assert [msg["flagged"] for msg in history] == [True]


async def test_videos_are_indexed_by_frames_and_found_across_kinds(
    server: Runtime, signup: Any, tmp_path: Any
) -> None:
    async with signup("nia_i") as (nia, n), signup("oli_i") as (oli, _o):
        clip = video_mp4(tmp_path / "pan.mp4", seconds=3.0, audio=False)
        accepted = await http(server, "POST", "/media", clip.read_bytes(), **bearer(n["token"]))
        video_id = accepted.json()["media_id"]
        assert (await progress_until_done(nia, video_id))[-1]["state"] == "ready"
        video_post = (await nia.request("post.create", {"text": "a slow pan", "media_ids": [video_id]}))[
            "post"
        ]
        await server.services.intelligence.analyse_media(video_id)
        await server.services.intelligence.index_posts([video_post["id"]])
        frames = [point_id("video_frame", video_id, i) for i in range(3)]
        assert len(await server.stores.vectors.get_vectors([point_id("video", video_id), *frames])) == 4

        photo_post = await post_with_photo(server, oli, _o["token"], "the original photo")
        (photo_id,) = photo_post["media_ids"]
        from_image = (await nia.request("search.similar", {"media_id": photo_id}))["results"]
        assert [(r["media_id"], r["kind"]) for r in from_image] == [(video_id, "video")], (
            "frames stand for their video"
        )
        from_video = (await oli.request("search.similar", {"media_id": video_id}))["results"]
        assert [(r["media_id"], r["kind"]) for r in from_video] == [(photo_id, "image")]


async def test_for_you_starts_from_what_you_opened_and_leaves_it_out(server: Runtime, signup: Any) -> None:
    async with signup("pam_i") as (pam, p), signup("quo_i") as (quo, q), signup("rex_i") as (rex, _r):
        opened = await post_with_photo(server, pam, p["token"], "opened")
        twin = await post_with_photo(server, quo, q["token"], "unseen twin")
        assert (await server.services.intelligence.unindexed_posts(within_s=3600, limit=10)) == []
        assert [p["id"] for p in (await rex.request("timeline.for_you"))["posts"]] == []
        await rex.request("post.get", {"post_id": opened["id"]})
        page = (await rex.request("timeline.for_you"))["posts"]
        assert [p["id"] for p in page if p["recommended"]] == [twin["id"]]


CAPTIONS = VectorFilter(kinds=["text"], moderation_ok_only=False)


async def test_posts_indexed_together_get_their_own_caption_vectors_and_verdicts(
    server: Runtime, signup: Any
) -> None:
    async with signup("batcher") as (client, _):
        texts = ["a quiet morning by the lake", "what the hell is this shit", "dinner with friends"]
        posts = [(await client.request("post.create", {"text": t}))["post"] for t in texts]
        ids = [p["id"] for p in posts]
        await server.services.intelligence.index_posts([*ids, 999_999_999])  # with one that is gone
        assert await server.stores.analysis.unindexed_posts(within_s=3600, limit=100) == []
        assert await server.stores.analysis.flagged_texts("post", ids) == {ids[1]}
        embedder = server.services.intelligence._embedder  # the same model, asked one at a time
        for post_id, text in zip(ids, texts, strict=True):
            vector = (await embedder.embed_text(text)).tolist()
            hits = await server.stores.vectors.search(vector, limit=1, filter=CAPTIONS)
            assert hits and hits[0].payload.post_id == post_id, "each caption's vector is its own"
