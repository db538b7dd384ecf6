"""MediaActor: decodes one job at a time in a child process and stores what it produced.

The actor owns no long-lived state; it exists so the pool's workers appear in the supervision tree
(mailbox, jobs handled, last error, restarts) and so a worker that raises is restarted by its
supervisor while the others carry on. What a file can do to the decoder never reaches the actor:
decoding runs in a killable child process (:mod:`actors.media.isolation`), and anything it raises,
overruns or crashes of comes back as a rejected :class:`Outcome` — no crash, no retry. The machine's
failures (a full disk, a killed child, the blob store unreachable) are answered as
:class:`~kernel.errors.Fault` or another domain error, which the dispatcher retries with backoff;
only a bug in this code crashes the actor.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from actors.actor import Actor
from actors.media.isolation import Isolation
from actors.media.results import MediaLimits, Processed, Rendition, Role
from actors.media.stills import process_image
from actors.media.video import process_video
from kernel.errors import Fault, MediaRejected
from stores.blobs import BlobStore, MediaBlobs
from stores.media import ClaimedJob, MediaKind, SampledFrame

PROCESSORS = {MediaKind.IMAGE: process_image, MediaKind.VIDEO: process_video}


@dataclass(frozen=True, slots=True)
class ProcessJob:
    job: ClaimedJob
    progress: trio.MemorySendChannel[float]
    """Where the decoder's progress goes (the dispatcher pushes it to the uploader)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    variants: dict[str, Any] | None = None
    frames: list[SampledFrame] = field(default_factory=list)
    reason: str | None = None
    """Set when the input was rejected; the job then ends ``failed`` with it."""


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
        self,
        blobs: MediaBlobs,
        limits: MediaLimits,
        isolation: Isolation,
        scratch: Path,
        timeout_s: float,
    ) -> None:
        self._blobs = blobs
        self._limits = limits
        self._isolation = isolation
        self._scratch = scratch
        self._timeout_s = timeout_s
        self._current: int | None = None

    async def handle(self, message: ProcessJob) -> Outcome:
        job = message.job
        self._current = job.media_id
        try:
            async with (
                self._blobs.private.local_copy(job.original_key) as source,
                scratch_directory(self._scratch) as out_dir,
            ):
                try:
                    processed = await self._isolation.run(
                        PROCESSORS[job.kind],
                        source,
                        out_dir,
                        self._limits,
                        timeout_s=self._timeout_s,
                        progress=message.progress,
                    )
                except MediaRejected as rejected:
                    return Outcome(reason=rejected.reason)
                return await self._store(processed, job.kind)
        except OSError as exc:
            # The disk or the blob store failed, not this actor: answered, so no restart is spent.
            raise Fault(f"storage failed: {type(exc).__name__}: {exc}") from exc
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
