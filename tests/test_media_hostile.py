"""Hostile media: whatever a file does to the decoders, its job ends ``failed`` with a reason after
one attempt, the workers do not crash, and everyone else's media is processed.

The corpus is made here (Pillow, PyAV, raw bytes); none of it is a real-world exploit, but each file
stands for a class of fault: decoder exceptions of any type, headers that lie (sizes, rates,
durations, timestamps), containers that are only a magic number. The isolation itself (budget,
memory, a decoder that crashes or is killed) is tested with functions that misbehave on purpose.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import trio
from media_client import bearer
from media_samples import (
    absurd_rate_mkv,
    garbage_after,
    huge_frame_mp4,
    photo_jpeg,
    photo_png,
    png_bomb,
    png_with_junk_exif,
    untimed_mp4,
    video_mp4,
)
from pgtools import scratch_database
from test_media_http import http

from actors.media.blame import Faulted, Refused, judge
from actors.media.isolation import Isolation
from actors.media.service import MediaService
from kernel.config import Settings
from kernel.errors import Fault, MediaRejected, Rejection
from stores.media import MediaKind, MediaState
from stores.postgres.database import Database, fetch_one, open_database
from stores.postgres.media import PostgresMediaStore
from viora.client import Client
from viora.runtime import Runtime

SignUp = Callable[..., AbstractAsyncContextManager[tuple[Client, dict[str, Any]]]]
MiB = 1024 * 1024


def hostile_corpus(tmp: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (file, how its job must end: ``ready`` or the reason's prefix)."""
    jpeg, png = photo_jpeg("rocket"), photo_png()
    return {
        "truncated_jpeg": (jpeg[: len(jpeg) // 3], "corrupt:"),
        "truncated_png": (png[: len(png) // 3], "corrupt:"),
        "junk_exif_png": (png_with_junk_exif(), "corrupt:"),
        "png_bomb": (png_bomb(), "too_large:"),
        "png_magic_garbage": (garbage_after(b"\x89PNG\r\n\x1a\n"), "corrupt:"),
        "jpeg_magic_garbage": (garbage_after(b"\xff\xd8\xff\xe0"), "corrupt:"),
        "mp4_magic_garbage": (garbage_after(b"\0\0\0\x20ftypisom"), "corrupt:"),
        "mkv_magic_garbage": (garbage_after(b"\x1a\x45\xdf\xa3"), "corrupt:"),
        "huge_frame_mp4": (huge_frame_mp4(tmp / "huge.mp4").read_bytes(), "too_large:"),
        "absurd_rate_mkv": (absurd_rate_mkv(tmp / "rate.mkv").read_bytes(), "corrupt:"),
        "untimed_mp4": (untimed_mp4(tmp / "untimed.mp4").read_bytes(), "corrupt:"),
        "empty_video_track": (
            video_mp4(tmp / "empty.mp4", seconds=0.0, audio_seconds=1.0).read_bytes(),
            "unsupported:",  # a track without samples is no video stream
        ),
        # Not hostile, but it crashed a worker once: the picture ends long before the sound.
        "short_video_long_audio": (
            video_mp4(tmp / "short.mp4", seconds=0.4, audio_seconds=5.0).read_bytes(),
            "ready",
        ),
        "good_photo": (photo_jpeg("chelsea"), "ready"),
    }


async def test_hostile_files_fail_alone_with_reasons_and_no_worker_crashes(
    server: Runtime, signup: SignUp, tmp_path: Path
) -> None:
    corpus = hostile_corpus(tmp_path)
    async with signup("hostile") as (client, reply):
        auth = bearer(reply["token"])
        ids: dict[str, int] = {}

        async def upload(name: str) -> None:
            accepted = await http(server, "POST", "/media", corpus[name][0], **auth)
            assert accepted.status == 202, (name, accepted.body)
            ids[name] = accepted.json()["media_id"]

        async with trio.open_nursery() as nursery:
            for name in corpus:
                nursery.start_soon(upload, name)
        finals: set[int] = set()
        with trio.fail_after(120):
            while len(finals) < len(ids):
                event = await client.next_event()
                if event.type == "media.progress" and event.body["state"] in ("ready", "failed"):
                    finals.add(event.body["media_id"])
        for name, media_id in ids.items():
            view = (await http(server, "GET", f"/media/{media_id}", **auth)).json()
            expected = corpus[name][1]
            if expected == "ready":
                assert view["state"] == "ready", (name, view)
            else:
                assert view["state"] == "failed", (name, view)
                assert view["reason"].startswith(expected), (name, view["reason"])
            status = await server.media.store.job_status(media_id)
            assert status is not None and (status.attempts, status.completions) == (1, 1), (name, status)
    media = next(c for c in server.root.inspect()["children"] if c["name"] == "media")
    assert [c["restarts"] for c in media["children"]] == [0] * len(media["children"])
    assert all(c["state"] == "running" for c in media["children"])


# --- the service without HTTP: a processing exception is one attempt, not a crash ----------------


@pytest.fixture
async def db(embedded_pg_admin_dsn: str) -> AsyncIterator[Database]:
    with scratch_database(embedded_pg_admin_dsn) as dsn:
        async with open_database(dsn) as database:
            yield database


async def test_a_processing_exception_fails_its_job_once_without_crashing_the_actor(
    db: Database, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pushed_send, pushed = trio.open_memory_channel[dict[str, Any]](64)

    async def push(_owner: int, _stream: str, _event: str, body: dict[str, Any]) -> bool:
        await pushed_send.send(body)
        return True

    store = PostgresMediaStore(db)
    service = MediaService(Settings(data_dir=tmp_path, media_workers=1), store, push)
    await nursery.start(service.supervisor.run)
    (owner,) = await db.run(
        lambda conn: fetch_one(
            conn,
            "INSERT INTO users (username, display_name, password_hash) VALUES ('owner', 'o', 'x') RETURNING id",
        )
    )
    staged = tmp_path / "exif.png"
    staged.write_bytes(png_with_junk_exif())  # getexif() raises SyntaxError on it
    media = await store.create_media(owner, MediaKind.IMAGE, await service.blobs.private.put_file(staged))
    service.dispatcher.wake()
    with trio.fail_after(30):
        async for body in pushed:
            if body["state"] in ("ready", "failed"):
                break
    assert body["state"] == "failed" and body["reason"].startswith("corrupt: the EXIF metadata is malformed")
    status = await store.job_status(media.id)
    assert status is not None and (status.state, status.attempts) == (MediaState.FAILED, 1)
    worker = next(c for c in service.supervisor.inspect()["children"] if c["name"] == "worker:0")
    assert (worker["restarts"], worker["incarnation"], worker["state"]) == (0, 1, "running")
    assert service.dispatcher.counts["retried"] == 0
    await service.supervisor.shutdown()


# --- the isolation: budgets, memory, decoder crashes ---------------------------------------------


@pytest.fixture
def isolation() -> Isolation:
    return Isolation(trio.CapacityLimiter(2), memory_bytes=512 * MiB)


async def test_a_value_comes_back_from_the_child(isolation: Isolation) -> None:
    assert await isolation.run(os.getpid, timeout_s=30) != os.getpid()


async def test_a_child_past_its_budget_is_killed_and_the_input_blamed(isolation: Isolation) -> None:
    started = time.monotonic()
    with pytest.raises(MediaRejected) as refused:
        await isolation.run(time.sleep, 60, timeout_s=1)
    assert refused.value.code is Rejection.TOO_LONG
    assert time.monotonic() - started < 10


async def test_a_child_over_its_memory_limit_fails_the_input(isolation: Isolation) -> None:
    with pytest.raises(MediaRejected) as refused:
        await isolation.run(bytearray, 1024 * MiB, timeout_s=30)
    assert refused.value.code is Rejection.TOO_LARGE


async def test_a_decoder_crash_blames_the_input_and_an_outside_kill_is_retried(
    isolation: Isolation,
) -> None:
    with pytest.raises(MediaRejected) as refused:
        await isolation.run(os.abort, timeout_s=30)
    assert refused.value.code is Rejection.CORRUPT and "SIGABRT" in refused.value.message
    with pytest.raises(Fault, match="SIGKILL"):
        await isolation.run(signal.raise_signal, signal.SIGKILL, timeout_s=30)


async def test_any_exception_in_the_child_is_the_inputs_fault(isolation: Isolation) -> None:
    with pytest.raises(MediaRejected) as refused:
        await isolation.run(compile, "(", "<upload>", "exec", timeout_s=30)
    assert refused.value.code is Rejection.CORRUPT and "SyntaxError" in refused.value.message


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (SyntaxError("not a TIFF file"), Refused),
        (AssertionError(), Refused),
        (IndexError("list index out of range"), Refused),
        (OSError("image file is truncated"), Refused),
        (MemoryError(), Refused),
        (OSError(28, "No space left on device"), Faulted),
        (OSError(5, "Input/output error"), Faulted),
    ],
)
def test_judge_blames_the_input_unless_the_machine_failed(exc: BaseException, verdict: type) -> None:
    assert isinstance(judge(exc), verdict)


def test_reasons_do_not_show_server_paths() -> None:
    verdict = judge(ValueError("cannot read /srv/viora-data/media/private/ab/abcdef: bad"))
    assert isinstance(verdict, Refused) and "/srv" not in verdict.message and "<file>" in verdict.message
