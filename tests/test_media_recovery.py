"""Durable media jobs: a job whose server process is killed mid-way is finished, exactly once, by the
next process on the same database and data directory."""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio
from live import PASSWORD, run_server_process
from media_client import bearer, call
from media_samples import video_mp4

from viora.client import Client

RECOVERY_ENV = {
    "VIORA_MEDIA_LEASE_S": "2",  # a killed worker's job is claimable again 2 s later
    "VIORA_MEDIA_WORKERS": "1",
    "VIORA_MEDIA_POLL_S": "0.2",
}


async def wait_for_state(
    client: Client, media_id: int, states: set[str], min_progress: float = 0.0
) -> dict[str, Any]:
    with trio.fail_after(60):
        while True:
            event = await client.next_event()
            ours = (
                event.kind == "push" and event.type == "media.progress" and event.body["media_id"] == media_id
            )
            if ours and event.body["state"] in states and event.body.get("progress", 1.0) >= min_progress:
                return event.body


@pytest.mark.slow
async def test_job_killed_mid_way_completes_exactly_once_after_restart(
    embedded_pg_admin_dsn: str, tmp_path: Path
) -> None:
    clip = video_mp4(tmp_path / "clip.mp4", seconds=8.0, size=(640, 360)).read_bytes()
    with run_server_process(embedded_pg_admin_dsn, **RECOVERY_ENV) as first:
        async with Client.connect(first.ws_url) as client:
            reply = await client.request("auth.register", {"username": "survivor", "password": PASSWORD})
            token = reply["token"]
            accepted = await trio.to_thread.run_sync(
                partial(call, first.http_url, "POST", "/media", clip, **bearer(token))
            )
            media_id = accepted.json()["media_id"]
            await wait_for_state(client, media_id, {"running"}, min_progress=0.1)
            os.kill(first.process.pid, signal.SIGKILL)  # mid-transcode: no chance to clean up
        await trio.to_thread.run_sync(first.process.wait)

        dsn, data_dir = first.env["VIORA_PG_DSN"], first.env["VIORA_DATA_DIR"]
        with psycopg.connect(dsn) as conn:
            state, attempts = conn.execute("SELECT state, attempts FROM media_jobs").fetchone()  # type: ignore[misc]
        assert (state, attempts) == (
            "running",
            1,
        )  # the dead process still "holds" it, until its lease expires

        with run_server_process(
            embedded_pg_admin_dsn, **RECOVERY_ENV, VIORA_PG_DSN=dsn, VIORA_DATA_DIR=data_dir
        ) as second:
            async with Client.connect(second.ws_url) as client:
                await client.request("auth.resume", {"token": token})  # listen before looking
                status = await trio.to_thread.run_sync(
                    partial(call, second.http_url, "GET", f"/media/{media_id}", **bearer(token))
                )
                if status.json()["state"] != "ready":
                    await wait_for_state(client, media_id, {"ready", "failed"})
            final = await trio.to_thread.run_sync(
                partial(call, second.http_url, "GET", f"/media/{media_id}", **bearer(token))
            )
        assert final.json()["state"] == "ready", final.json()
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT state, attempts, completions FROM media_jobs WHERE media_id = %s", (media_id,)
            ).fetchone()
        assert row == ("ready", 2, 1)
