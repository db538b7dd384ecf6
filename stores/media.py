"""The media store: media records, their durable processing jobs, and resumable uploads.

Jobs are rows, not messages, so none is lost when a process dies: a worker *claims* a due job (it
gets a lease with an expiry and a fresh token), renews the lease while it works, and finishes the
job only while it still holds that token. A job whose worker died is claimed again once its lease
expires; a worker that lost its lease (it stalled, another worker took over) cannot finish it any
more. So a job is never run to completion twice and never dropped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from stores.blobs import Blob


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class MediaState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    REMOVED = "removed"
    """No live post and no avatar shows it any more: its files are not served, and the media
    janitor deletes them (and the record). Terminal."""


@dataclass(frozen=True, slots=True)
class MediaRecord:
    id: int
    owner_id: int
    kind: MediaKind
    state: MediaState
    progress: float
    reason: str | None
    variants: dict[str, Any] | None
    original_key: str
    original_bytes: int


@dataclass(frozen=True, slots=True)
class Upload:
    """A resumable upload: its declared length; the bytes received so far live in a staging file."""

    id: str
    owner_id: int
    length: int
    media_id: int | None


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    media_id: int
    owner_id: int
    kind: MediaKind
    original_key: str
    attempts: int
    """Claims so far, this one included."""
    lease_token: str
    last_error: str | None


@dataclass(frozen=True, slots=True)
class JobStatus:
    state: MediaState
    attempts: int
    completions: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class RemovedMedia:
    """A removed media item and the files it held that no live media item holds too."""

    id: int
    public_keys: tuple[str, ...]
    """Its variants' files (the public blob store)."""
    private_keys: tuple[str, ...]
    """Its original and sampled frames (the private blob store)."""


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """A video frame kept for the embedder (stored in the private blob store)."""

    t_s: float
    key: str
    width: int
    height: int


class MediaStore(Protocol):
    async def create_media(self, owner_id: int, kind: MediaKind, original: Blob) -> MediaRecord:
        """A queued media record and its job, in one transaction."""

    async def get_media(self, media_id: int) -> MediaRecord | None: ...

    async def create_upload(self, owner_id: int, length: int) -> Upload: ...

    async def get_upload(self, upload_id: str) -> Upload | None: ...

    async def complete_upload(self, upload_id: str, kind: MediaKind, original: Blob) -> MediaRecord:
        """Create the upload's media and job once; later calls return the same media."""

    async def pending_count(self, owner_id: int) -> int:
        """The user's media still queued or being processed."""

    async def abandoned_uploads(self, older_than_s: float, limit: int) -> list[str]:
        """Resumable uploads started more than ``older_than_s`` ago and never completed."""

    async def forget_upload(self, upload_id: str) -> bool:
        """Delete an upload that was never completed; False if it completed (or is gone)."""

    async def holds_file(self, key: str) -> bool:
        """Whether a media item that is not removed has the public file ``key`` among its variants."""

    async def remove_unattached(self, older_than_s: float, limit: int) -> int:
        """Remove processed (or failed) uploads created more than ``older_than_s`` ago and never
        attached to a post or as an avatar; return how many."""

    async def removed_media(self, limit: int) -> list[RemovedMedia]:
        """Removed media items, oldest first, each with its files no live item holds too."""

    async def forget_media(self, media_id: int) -> bool:
        """Delete a removed item's record (its files are gone); False if it is not removed."""

    async def claim_job(self, lease_s: float) -> ClaimedJob | None:
        """Lease the oldest due job (queued and due, or running with an expired lease), if any."""

    async def renew_lease(self, job: ClaimedJob, lease_s: float) -> bool:
        """Extend the lease; False if this claim no longer holds it."""

    async def report_progress(self, job: ClaimedJob, progress: float) -> None: ...

    async def finish_ready(
        self, job: ClaimedJob, variants: dict[str, Any], frames: list[SampledFrame]
    ) -> bool:
        """Mark the job and media ready; False (and no change) if this claim lost its lease."""

    async def finish_failed(self, job: ClaimedJob, reason: str) -> bool: ...

    async def retry_later(self, job: ClaimedJob, error: str, delay_s: float) -> bool:
        """Put the job back in the queue, due after ``delay_s``."""

    async def job_status(self, media_id: int) -> JobStatus | None: ...
