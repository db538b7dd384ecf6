"""Media over HTTP against the live test server: uploads, progress pushes, status, serving."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

import trio
from media_client import Reply, bearer, call
from media_samples import photo_jpeg
from PIL import Image

from edges.asgi_types import from_framework
from edges.http.app import build_http_app
from viora.client import Client
from viora.runtime import Runtime

SignUp = Callable[..., AbstractAsyncContextManager[tuple[Client, dict[str, Any]]]]


async def http(server: Runtime, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
    assert server.http_url is not None
    return await trio.to_thread.run_sync(partial(call, server.http_url, method, path, body, **headers))


async def interrupted_patch(server: Runtime, path: str, data: bytes, declared: int, token: str) -> None:
    """A PATCH whose client vanishes after sending ``data`` of the ``declared`` bytes."""
    app = from_framework(build_http_app(server))
    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"upload-offset", b"0"),
        (b"content-length", str(declared).encode()),
    ]
    scope = {"type": "http", "method": "PATCH", "path": path, "headers": headers, "query_string": b""}
    messages = [{"type": "http.request", "body": data, "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent == []  # nobody to answer


async def progress_until_done(client: Client, media_id: int) -> list[dict[str, Any]]:
    """The media.progress pushes for ``media_id`` up to its final state."""
    events = []
    with trio.fail_after(60):
        while True:
            event = await client.next_event()
            if event.kind != "push" or event.type != "media.progress" or event.body["media_id"] != media_id:
                continue
            assert event.stream == "media"
            events.append(event.body)
            if event.body["state"] in ("ready", "failed"):
                return events


async def test_photo_upload_is_processed_and_served(server: Runtime, signup: SignUp) -> None:
    async with signup("photographer") as (client, reply):
        auth = bearer(reply["token"])
        original = photo_jpeg("astronaut", orientation=6, size=(1600, 1200))
        accepted = await http(server, "POST", "/media", original, **auth)
        assert accepted.status == 202
        assert accepted.json()["status"] == "queued"
        media_id = accepted.json()["media_id"]

        events = await progress_until_done(client, media_id)
        assert events[0]["state"] == "running"
        assert events[-1]["state"] == "ready"
        pushed_variants = events[-1]["variants"]

        status = await http(server, "GET", f"/media/{media_id}", **auth)
        assert status.status == 200
        view = status.json()
        assert view["state"] == "ready" and view["progress"] == 1
        assert view["variants"] == pushed_variants
        assert view["original"]["sha256"] == hashlib.sha256(original).hexdigest()

    # EXIF orientation 6 turns the 1600x1200 photo to portrait: 1200 wide, 1600 high.
    assert view["variants"]["probe"] == {"format": "jpeg", "width": 1200, "height": 1600}
    widths = []
    for thumb in view["variants"]["thumbnails"]:
        served = await http(server, "GET", thumb["url"])
        assert served.status == 200
        assert served.headers["content-type"] == "image/webp"
        assert "immutable" in served.headers["cache-control"]
        image = Image.open(io.BytesIO(served.body))
        assert image.format == "WEBP"
        assert image.size == (thumb["width"], thumb["height"])
        assert image.height > image.width  # orientation applied
        assert not image.getexif()  # metadata stripped (the original had GPS and a camera make)
        widths.append(image.width)
    assert widths == [160, 480, 1080]
    assert view["variants"]["placeholder"]["data_uri"].startswith("data:image/webp;base64,")


async def test_uploads_need_a_valid_session_token(server: Runtime) -> None:
    anonymous = await http(server, "POST", "/media", photo_jpeg())
    assert anonymous.status == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    forged = await http(server, "POST", "/media/uploads", Upload_Length="10", **bearer("not-a-token"))
    assert forged.status == 401
    assert forged.json()["error"]["code"] == "token_invalid"


async def test_type_is_judged_by_content_and_size_is_limited(server: Runtime, signup: SignUp) -> None:
    async with signup("sizer") as (_client, reply):
        auth = bearer(reply["token"])
        pdf = await http(
            server, "POST", "/media", b"%PDF-1.7 not an image", Content_Type="image/jpeg", **auth
        )
        assert pdf.status == 415
        assert pdf.json()["error"]["code"] == "unsupported_type"
        limit = server.settings.media_max_bytes
        huge = await http(server, "POST", "/media/uploads", Upload_Length=str(limit + 1), **auth)
        assert huge.status == 413


async def test_resumed_upload_is_byte_identical(server: Runtime, signup: SignUp) -> None:
    original = photo_jpeg("coffee", size=(1200, 800))
    async with signup("resumer") as (client, reply):
        auth = bearer(reply["token"])
        created = await http(server, "POST", "/media/uploads", Upload_Length=str(len(original)), **auth)
        assert created.status == 201
        location = created.headers["location"]

        # The connection drops after a third of the body. Driven through the server's own ASGI app
        # so the disconnect lands at a known byte: the server must keep exactly what it received.
        sent = len(original) // 3
        await interrupted_patch(server, location, original[:sent], len(original), reply["token"])
        head = await http(server, "HEAD", location, **auth)
        assert head.status == 200
        offset = int(head.headers["upload-offset"])
        assert offset == sent
        assert int(head.headers["upload-length"]) == len(original)

        stale = await http(server, "PATCH", location, original[offset:], Upload_Offset="0", **auth)
        assert stale.status == 409
        assert stale.headers["upload-offset"] == str(offset)

        middle = offset + (len(original) - offset) // 2
        part = await http(
            server, "PATCH", location, original[offset:middle], Upload_Offset=str(offset), **auth
        )
        assert part.status == 204 and part.headers["upload-offset"] == str(middle)
        done = await http(server, "PUT", location, original[middle:], Upload_Offset=str(middle), **auth)
        assert done.status == 202
        media_id = done.json()["media_id"]
        assert (await progress_until_done(client, media_id))[-1]["state"] == "ready"

        view = (await http(server, "GET", f"/media/{media_id}", **auth)).json()
    assert view["original"] == {"bytes": len(original), "sha256": hashlib.sha256(original).hexdigest()}
    stored = server.media.blobs.private.path_of(view["original"]["sha256"])  # type: ignore[attr-defined]
    assert stored.read_bytes() == original


async def test_other_users_cannot_see_or_continue_an_upload(server: Runtime, signup: SignUp) -> None:
    async with signup("owner") as (_a, owner), signup("intruder") as (_b, intruder):
        created = await http(server, "POST", "/media/uploads", Upload_Length="100", **bearer(owner["token"]))
        location = created.headers["location"]
        assert (await http(server, "HEAD", location, **bearer(intruder["token"]))).status == 404
        patch = await http(
            server, "PATCH", location, b"x" * 10, Upload_Offset="0", **bearer(intruder["token"])
        )
        assert patch.status == 404


async def test_video_is_transcoded_and_served_with_ranges(
    server: Runtime, signup: SignUp, tmp_path: Any
) -> None:
    import av
    from media_samples import video_mp4

    clip = video_mp4(tmp_path / "clip.mp4", seconds=2.0, size=(640, 360)).read_bytes()
    async with signup("filmmaker") as (client, reply):
        auth = bearer(reply["token"])
        media_id = (await http(server, "POST", "/media", clip, **auth)).json()["media_id"]
        final = (await progress_until_done(client, media_id))[-1]
    assert final["state"] == "ready", final
    variants = final["variants"]
    assert variants["probe"]["video"]["codec"] == "h264" and variants["probe"]["audio"]["codec"] == "aac"

    playback = await http(server, "GET", variants["video"]["url"])
    assert playback.status == 200 and playback.headers["content-type"] == "video/mp4"
    assert playback.headers["accept-ranges"] == "bytes"
    (tmp_path / "served.mp4").write_bytes(playback.body)
    with av.open(str(tmp_path / "served.mp4")) as served:
        video, audio = served.streams.video[0], served.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        assert abs(served.duration / 1e6 - 2.0) < 0.1
    assert playback.body.index(b"moov") < playback.body.index(b"mdat")  # +faststart

    url, size = variants["video"]["url"], len(playback.body)
    first = await http(server, "GET", url, Range="bytes=0-99")
    assert first.status == 206 and first.body == playback.body[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    middle = await http(server, "GET", url, Range=f"bytes={size // 2}-")
    assert middle.status == 206 and middle.body == playback.body[size // 2 :]
    tail = await http(server, "GET", url, Range="bytes=-10")
    assert tail.body == playback.body[-10:]
    beyond = await http(server, "GET", url, Range=f"bytes={size}-")
    assert beyond.status == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    etag = playback.headers["etag"]
    assert (await http(server, "GET", url, If_None_Match=etag)).status == 304
    head = await http(server, "HEAD", url)
    assert head.status == 200 and head.headers["content-length"] == str(size) and head.body == b""

    poster = Image.open(io.BytesIO((await http(server, "GET", variants["poster"]["url"])).body))
    assert poster.size == (640, 360)
    assert [t["width"] for t in variants["thumbnails"]] == [160, 480, 640]
    assert (await http(server, "GET", "/media/files/" + "0" * 64 + ".mp4")).status == 404


async def test_bad_inputs_fail_with_reasons_while_a_good_one_succeeds(
    server: Runtime, signup: SignUp, tmp_path: Any
) -> None:
    from media_samples import png_bomb, video_mp4

    jpeg = photo_jpeg("rocket")
    clip = video_mp4(tmp_path / "clip.mp4").read_bytes()
    inputs = {
        "good": photo_jpeg("chelsea"),
        "corrupt": jpeg[:200] + bytes(range(256)) * 40,
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "truncated_mp4": clip[: len(clip) // 2],
        "bomb": png_bomb(),
        "no_video_stream": video_mp4(tmp_path / "audio.mp4", video=False).read_bytes(),
    }
    expected = {
        "corrupt": "corrupt:",
        "truncated_jpeg": "corrupt:",
        "truncated_mp4": "corrupt:",
        "bomb": "too_large:",
        "no_video_stream": "unsupported:",
    }
    async with signup("tester") as (client, reply):
        auth = bearer(reply["token"])
        ids: dict[str, int] = {}

        async def upload(name: str) -> None:
            accepted = await http(server, "POST", "/media", inputs[name], **auth)
            assert accepted.status == 202, (name, accepted.body)
            ids[name] = accepted.json()["media_id"]

        async with trio.open_nursery() as nursery:
            for name in inputs:
                nursery.start_soon(upload, name)
        finals: dict[int, dict[str, Any]] = {}
        with trio.fail_after(60):
            while len(finals) < len(ids):
                event = await client.next_event()
                if (
                    event.kind == "push"
                    and event.type == "media.progress"
                    and event.body["state"] in ("ready", "failed")
                ):
                    finals[event.body["media_id"]] = event.body
        for name, media_id in ids.items():
            view = (await http(server, "GET", f"/media/{media_id}", **auth)).json()
            if name == "good":
                assert view["state"] == "ready", view
                continue
            assert view["state"] == "failed", (name, view)
            assert view["reason"].startswith(expected[name]), (name, view["reason"])
            assert finals[media_id]["reason"] == view["reason"]
    tree = server.root.inspect()
    media = next(c for c in tree["children"] if c["name"] == "media")
    assert all(c["state"] == "running" for c in media["children"])


async def test_over_long_video_is_refused_at_upload(
    server_settings: Any, nursery: trio.Nursery, tmp_path: Any
) -> None:
    from media_samples import video_mp4

    from viora.server import serve

    settings = server_settings.with_(media_max_duration_s=1.0)
    runtime = await nursery.start(
        lambda task_status: serve(settings, handle_signals=False, task_status=task_status)
    )
    token = (await runtime.services.accounts.register("longshot", "correct horse battery", None)).token
    clip = video_mp4(tmp_path / "clip.mp4", seconds=2.0).read_bytes()
    refused = await http(runtime, "POST", "/media", clip, **bearer(token))
    assert refused.status == 422
    assert refused.json()["error"]["code"] == "too_long"


async def test_a_body_of_the_wrong_type_is_refused_on_its_first_bytes(server: Runtime, signup: SignUp) -> None:
    """A 10 MB upload announced, 64 bytes of a PDF sent: the 415 comes now, not after 10 MB."""
    async with signup("pdf_sender") as (_client, reply):
        assert server.http_url is not None
        host, port = server.http_url.removeprefix("http://").split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(
                b"POST /media HTTP/1.1\r\nHost: viora\r\n"
                + f"Authorization: Bearer {reply['token']}\r\nContent-Length: 10000000\r\n\r\n".encode()
                + b"%PDF-1.7\n" + b"x" * 55
            )
            answer = b""
            with trio.fail_after(10):
                while b"\r\n\r\n" not in answer:
                    answer += await stream.receive_some(4096)
        assert answer.startswith(b"HTTP/1.1 415"), answer[:80]


async def test_resumable_uploads_left_unfinished_expire(server: Runtime, signup: SignUp) -> None:
    async with signup("quitter") as (_client, reply):
        auth = bearer(reply["token"])
        created = await http(server, "POST", "/media/uploads", Upload_Length="1000", **auth)
        location = created.headers["location"]
        begun = await http(server, "PATCH", location, photo_jpeg("coffee")[:300], Upload_Offset="0", **auth)
        assert begun.status == 204
        upload_id = location.rsplit("/", 1)[1]
        staged = await server.media.intake.staging_path(upload_id)
        assert staged.exists()
        assert await server.media.janitor.sweep() == 0, "a fresh upload is kept"
        await server.stores.db.query(
            lambda conn: conn.execute(
                "UPDATE media_uploads SET created_at = now() - interval '2 days' WHERE id = %s", (upload_id,)
            )
        )
        assert await server.media.janitor.sweep() == 1
        assert not staged.exists()
        assert (await http(server, "HEAD", location, **auth)).status == 404


async def test_a_user_may_have_only_so_many_uploads_processing(server: Runtime, signup: SignUp) -> None:
    async with signup("hoarder") as (_client, reply):
        limit = server.settings.media_pending_per_user
        await server.stores.db.run(  # as if that many were still waiting for a worker
            lambda conn: conn.execute(
                "INSERT INTO media (owner_id, kind, original_key, original_bytes)"
                " SELECT %s, 'image', md5(n::text), 1 FROM generate_series(1, %s) n",
                (reply["user_id"], limit),
            )
        )
        refused = await http(server, "POST", "/media", photo_jpeg("coffee"), **bearer(reply["token"]))
        assert refused.status == 429 and refused.json()["error"]["code"] == "limit_reached"
