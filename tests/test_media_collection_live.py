"""Media collection against the live test server: a deleted post's files stop being served at once
and the janitor deletes their bytes, except what a live post, an avatar or another upload of the
same content still holds; an upload not posted yet is kept until it is long abandoned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from live import expect_error
from media_client import bearer
from test_intelligence_live import upload_photo
from test_media_http import SignUp, http

from kernel.config import Settings
from stores.blobs import LocalBlobStore
from viora.runtime import Runtime


@pytest.fixture
def server_settings(server_settings: Settings) -> Settings:
    # The blobs these tests write are seconds old: without a grace period the janitor may delete
    # them at once (the grace itself is tested on the blob store: test_media_collection_store).
    return server_settings.with_(media_blob_grace_s=0.0)


async def media_view(server: Runtime, token: str, media_id: int) -> dict[str, Any]:
    reply = await http(server, "GET", f"/media/{media_id}", **bearer(token))
    assert reply.status == 200
    return dict(reply.json())


def file_urls(view: dict[str, Any]) -> list[str]:
    return [thumb["url"] for thumb in view["variants"]["thumbnails"]]


def blob_paths(server: Runtime, view: dict[str, Any]) -> list[Path]:
    """Where the item's variants and original lie on disk."""
    public, private = server.media.blobs.public, server.media.blobs.private
    assert isinstance(public, LocalBlobStore) and isinstance(private, LocalBlobStore)
    paths = [public.path_of(thumb["key"]) for thumb in view["variants"]["thumbnails"]]
    return [*paths, private.path_of(view["original"]["sha256"])]


async def statuses(server: Runtime, urls: list[str]) -> set[int]:
    return {(await http(server, method, url)).status for url in urls for method in ("GET", "HEAD")}


async def post(client: Any, media_ids: list[int], text: str = "") -> dict[str, Any]:
    return dict((await client.request("post.create", {"text": text, "media_ids": media_ids}))["post"])


async def test_a_deleted_posts_files_stop_at_once_and_their_bytes_are_collected(
    server: Runtime, signup: SignUp
) -> None:
    async with signup("dora_c") as (dora, d):
        media_id = await upload_photo(server, dora, d["token"], "coffee")
        posted = await post(dora, [media_id], "my coffee")
        view = await media_view(server, d["token"], media_id)
        urls, paths = file_urls(view), blob_paths(server, view)
        assert await statuses(server, urls) == {200}

        await dora.request("post.delete", {"post_id": posted["id"]})
        assert await statuses(server, urls) == {404}, "not served from the moment the post is gone"
        removed = await media_view(server, d["token"], media_id)
        assert (removed["state"], removed["variants"]) == ("removed", None)
        await expect_error("not_found", post(dora, [media_id], "again"))
        assert all(path.exists() for path in paths), "the bytes wait for the janitor"

        assert await server.media.janitor.collect() == 1
        assert not any(path.exists() for path in paths)
        assert (await http(server, "GET", f"/media/{media_id}", **bearer(d["token"]))).status == 404
        assert await server.media.janitor.collect() == 0


async def test_what_a_live_post_an_avatar_or_another_upload_holds_survives(
    server: Runtime, signup: SignUp
) -> None:
    async with signup("eve_c") as (eve, e):
        token = e["token"]
        shared = await upload_photo(server, eve, token, "astronaut")  # on two posts
        first, second = await post(eve, [shared]), await post(eve, [shared])
        twin_a = await upload_photo(server, eve, token, "chelsea")  # the same picture, uploaded twice
        twin_b = await upload_photo(server, eve, token, "chelsea")
        post_a, _post_b = await post(eve, [twin_a]), await post(eve, [twin_b])
        avatar = await upload_photo(server, eve, token, "coffee")  # on a post and the avatar
        with_avatar = await post(eve, [avatar])
        await eve.request("profile.update", {"avatar_media_id": avatar})
        views = {m: await media_view(server, token, m) for m in (shared, twin_a, twin_b, avatar)}
        assert file_urls(views[twin_a]) == file_urls(views[twin_b]), "one blob for both uploads"

        for deleted in (first, post_a, with_avatar):
            await eve.request("post.delete", {"post_id": deleted["id"]})
        assert await server.media.janitor.collect() == 1, "twin_a's record; its blobs are twin_b's too"
        for media_id in (shared, twin_b, avatar):
            assert await statuses(server, file_urls(views[media_id])) == {200}
            assert all(path.exists() for path in blob_paths(server, views[media_id]))
        assert (await media_view(server, token, twin_b))["state"] == "ready"

        await eve.request("post.delete", {"post_id": second["id"]})
        replacement = await upload_photo(server, eve, token, "rocket")
        await eve.request("profile.update", {"avatar_media_id": replacement})  # the old one is detached
        assert await statuses(server, file_urls(views[shared]) + file_urls(views[avatar])) == {404}
        assert await server.media.janitor.collect() == 2
        assert not any(path.exists() for m in (shared, avatar) for path in blob_paths(server, views[m]))
        assert await statuses(server, file_urls(await media_view(server, token, replacement))) == {200}


async def test_an_upload_not_posted_yet_is_kept_until_long_abandoned(server: Runtime, signup: SignUp) -> None:
    async with signup("fay_c") as (fay, f):
        draft = await upload_photo(server, fay, f["token"], "coffee")
        view = await media_view(server, f["token"], draft)
        assert await server.media.janitor.collect() == 0
        assert await statuses(server, file_urls(view)) == {200}
        assert all(path.exists() for path in blob_paths(server, view))

        ttl_s = server.settings.media_unattached_ttl_s
        await server.stores.db.run(  # as if it had been waiting to be posted for longer than that
            lambda conn: conn.execute(
                "UPDATE media SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
                (ttl_s + 60, draft),
            )
        )
        assert await server.media.janitor.collect() == 1
        assert await statuses(server, file_urls(view)) == {404}
        assert not any(path.exists() for path in blob_paths(server, view))
        await expect_error("not_found", post(fay, [draft]))
