"""MediaActor: decodes one job at a time in a worker thread and stores what it produced.

The actor owns no long-lived state; it exists so the pool's workers appear in the supervision tree
(mailbox, jobs handled, last error, restarts) and so a worker that raises is restarted by its
supervisor while the others carry on. Inputs that are at fault (corrupt, too large...) are not
crashes: they come back as a rejected :class:`Outcome`. Anything else — a disk error, a decoder bug
— crashes the actor; the dispatcher sees ``ActorCrashed`` and retries the job with backoff.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from actors.actor import Actor
from actors.media.results import MediaLimits, Processed, Rendition, Role
from actors.media.stills import process_image
from actors.media.video import process_video
from kernel.errors import MediaRejected
from stores.blobs import BlobStore, MediaBlobs
from stores.media import ClaimedJob, MediaKind, SampledFrame

PROGRESS_STEP = 0.1
"""Progress is reported in steps of at least this much: ~10 pushes a job, not one per frame."""

PROCESSORS = {MediaKind.IMAGE: process_image, MediaKind.VIDEO: process_video}


@dataclass(frozen=True, slots=True)
class ProcessJob:
    job: ClaimedJob
    progress: trio.MemorySendChannel[float]
    """Where the worker thread's progress goes (the dispatcher pushes it to the uploader)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    variants: dict[str, Any] | None = None
    frames: list[SampledFrame] = field(default_factory=list)
    reason: str | None = None
    """Set when the input was rejected; the job then ends ``failed`` with it."""


class ThreadProgress:
    """Called from the worker thread: forwards progress to the event loop, throttled, never blocking
    (a full channel drops the update; the next one carries newer news anyway)."""

    def __init__(self, send: trio.MemorySendChannel[float]) -> None:
        self._send = send
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        if fraction - self._last < PROGRESS_STEP:
            return
        self._last = fraction
        trio.from_thread.run_sync(self._deliver, fraction)

    def _deliver(self, fraction: float) -> None:
        with suppress(trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            self._send.send_nowait(fraction)


@asynccontextmanager
async def scratch_directory(parent: Path) -> AsyncIterator[Path]:
    """A private directory for one job's outputs, removed afterwards (in a thread: it is disk I/O)."""
    await trio.Path(parent).mkdir(parents=True, exist_ok=True)
    path = Path(await trio.to_thread.run_sync(partial(tempfile.mkdtemp, prefix="job-", dir=parent)))
    try:
        yield path
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(partial(shutil.rmtree, path, ignore_errors=True))


class MediaActor(Actor):
    def __init__(
        self, blobs: MediaBlobs, limits: MediaLimits, cpu: trio.CapacityLimiter, scratch: Path
    ) -> None:
        self._blobs = blobs
        self._limits = limits
        self._cpu = cpu
        self._scratch = scratch
        self._current: int | None = None

    async def handle(self, message: ProcessJob) -> Outcome:
        job = message.job
        self._current = job.media_id
        try:
            async with (
                self._blobs.private.local_copy(job.original_key) as source,
                scratch_directory(self._scratch) as out_dir,
            ):
                process = partial(
                    PROCESSORS[job.kind], source, out_dir, self._limits, ThreadProgress(message.progress)
                )
                try:
                    processed = await trio.to_thread.run_sync(process, limiter=self._cpu)
                except MediaRejected as rejected:
                    return Outcome(reason=rejected.reason)
                return await self._store(processed, job.kind)
        finally:
            self._current = None

    def inspect(self) -> dict[str, Any]:
        return {"current_media": self._current}

    async def _store(self, processed: Processed, kind: MediaKind) -> Outcome:
        variants: dict[str, Any] = {
            "kind": str(kind),
            "probe": processed.probe,
            "placeholder": processed.placeholder,
            "thumbnails": [],
        }
        frames = []
        for rendition in processed.renditions:
            if rendition.role is Role.FRAME:
                blob = await self._blobs.private.put_file(rendition.path, rendition.suffix)
                assert rendition.t_s is not None
                frames.append(SampledFrame(rendition.t_s, blob.key, rendition.width, rendition.height))
                continue
            entry = await self._publish(self._blobs.public, rendition)
            if rendition.role is Role.THUMBNAIL:
                variants["thumbnails"].append(entry)
            else:
                variants[str(rendition.role)] = entry
        return Outcome(variants=variants, frames=frames)

    @staticmethod
    async def _publish(store: BlobStore, rendition: Rendition) -> dict[str, Any]:
        blob = await store.put_file(rendition.path, rendition.suffix)
        entry = {
            "key": blob.key,
            "url": store.url(blob.key),
            "content_type": rendition.content_type,
            "width": rendition.width,
            "height": rendition.height,
            "bytes": blob.size,
        }
        if rendition.duration_s is not None:
            entry["duration_s"] = round(rendition.duration_s, 3)
        return entry
