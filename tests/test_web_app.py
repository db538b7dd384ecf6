"""The server serves the web app at ``/`` (index.html for client routes, immutable hashed assets),
says how to build it when it is missing, and keeps its own routes; post views carry what the app
shows (media variants for everyone, whether you liked the post)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from live import ADMIN_TOKEN
from media_client import Reply, bearer, call
from media_samples import photo_jpeg

from kernel.config import Settings
from viora.client import Client
from viora.runtime import Runtime
from viora.server import serve

SignUp = Callable[..., AbstractAsyncContextManager[tuple[Client, dict[str, Any]]]]
INDEX = "<!doctype html><title>Viora test build</title><div id=app></div>"


async def get(runtime: Runtime, path: str, **headers: str) -> Reply:
    assert runtime.http_url is not None
    return await trio.to_thread.run_sync(partial(call, runtime.http_url, "GET", path, None, **headers))


async def start(settings: Settings, nursery: trio.Nursery) -> Runtime:
    return await nursery.start(
        lambda task_status: serve(settings, handle_signals=False, task_status=task_status)
    )


@pytest.fixture
async def built(server_settings: Settings, nursery: trio.Nursery) -> AsyncIterator[Runtime]:
    """A server whose web dir holds a small build: index.html, a hashed asset, a favicon."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "secret.txt").write_text("not for the web")
        web = Path(folder) / "web"
        (web / "assets").mkdir(parents=True)
        (web / "index.html").write_text(INDEX)
        (web / "assets" / "index-Ab12Cd34.js").write_text("console.log('viora')")
        (web / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
        yield await start(server_settings.with_(web_dir=web), nursery)


async def test_index_is_served_for_the_root_and_client_routes(built: Runtime) -> None:
    for path in ("/", "/u/alice", "/messages/3", "/p/12", "/search?q=cat"):
        reply = await get(built, path)
        assert reply.status == 200, path
        assert reply.body.decode() == INDEX
        assert reply.headers["content-type"].startswith("text/html")
        assert reply.headers["cache-control"] == "no-cache" and "expires" not in reply.headers
        assert "default-src 'self'" in reply.headers["content-security-policy"]
        assert "connect-src 'self';" in reply.headers["content-security-policy"], "no other host"


async def test_hashed_assets_are_immutable_and_other_files_revalidated(built: Runtime) -> None:
    asset = await get(built, "/assets/index-Ab12Cd34.js")
    assert asset.status == 200
    assert asset.body == b"console.log('viora')"
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["x-content-type-options"] == "nosniff"

    again = await get(built, "/assets/index-Ab12Cd34.js", If_None_Match=asset.headers["etag"])
    assert again.status == 304

    icon = await get(built, "/favicon.svg")
    assert icon.status == 200 and icon.headers["cache-control"] == "no-cache"


async def test_missing_files_and_escapes_are_404(built: Runtime) -> None:
    assert (await get(built, "/assets/nope-123.js")).status == 404
    for escape in ("/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt", "/%2e%2e/secret.txt"):
        reply = await get(built, escape)
        assert reply.status == 404, escape
        assert b"not for the web" not in reply.body


async def test_server_routes_are_not_shadowed(built: Runtime) -> None:
    health = await get(built, "/healthz")
    assert health.status == 200 and health.json() == {"status": "ok"}
    assert (await get(built, "/readyz")).status == 200
    assert (await get(built, "/admin/tree")).status == 401
    assert (await get(built, "/admin/tree", **bearer(ADMIN_TOKEN))).status == 200
    assert (await get(built, "/metrics", **bearer(ADMIN_TOKEN))).status == 200
    for path in ("/media/files/unknown.webp", "/media/nothing", "/admin/nothing", "/ws/nothing"):
        reply = await get(built, path)
        assert reply.status == 404, path
        assert reply.body != INDEX.encode()
    websocket = await get(built, "/ws")  # the websocket transport's, told to upgrade
    assert websocket.status == 426 and websocket.body != INDEX.encode()


async def test_without_a_build_the_root_says_how_to_build_it(
    server_settings: Settings, nursery: trio.Nursery
) -> None:
    with tempfile.TemporaryDirectory() as empty:
        runtime = await start(server_settings.with_(web_dir=Path(empty)), nursery)
        for path in ("/", "/u/alice"):
            reply = await get(runtime, path)
            assert reply.status == 503
            assert "npm run build" in reply.body.decode() and "./scripts/serve" in reply.body.decode()
            assert "default-src 'self'" in reply.headers["content-security-policy"], "every HTML answer"
        assert (await get(runtime, "/healthz")).status == 200


async def test_post_views_carry_media_variants_and_your_like(server: Runtime, signup: SignUp) -> None:
    """What the web app draws: anyone's view of a post has the processed files; `liked` is yours."""
    async with signup("painter") as (author, painter), signup("viewer") as (viewer, _):
        accepted = await trio.to_thread.run_sync(
            partial(call, server.http_url, "POST", "/media", photo_jpeg("coffee"), **bearer(painter["token"]))
        )
        media_id = accepted.json()["media_id"]
        with trio.fail_after(60):
            while True:
                event = await author.next_event()
                if event.type == "media.progress" and event.body["state"] in ("ready", "failed"):
                    assert event.body["state"] == "ready"
                    break
        created = await author.request("post.create", {"text": "coffee", "media_ids": [media_id]})
        post_id = created["post"]["id"]

        seen = (await viewer.request("post.get", {"post_id": post_id}))["post"]
        assert seen["liked"] is False
        (media,) = seen["media"]
        assert media["id"] == media_id and media["kind"] == "image"
        assert set(media["variants"]) == {"placeholder", "thumbnails"}  # not the decoder's probe
        thumb = media["variants"]["thumbnails"][0]
        served = await trio.to_thread.run_sync(partial(call, server.http_url, "GET", thumb["url"]))
        assert served.status == 200

        await viewer.request("post.like", {"post_id": post_id})
        assert (await viewer.request("post.get", {"post_id": post_id}))["post"]["liked"] is True
        assert (await author.request("post.get", {"post_id": post_id}))["post"]["liked"] is False
        timeline = await viewer.request("timeline.user", {"user_id": painter["user_id"]})
        assert [(p["id"], p["liked"]) for p in timeline["posts"]] == [(post_id, True)]
