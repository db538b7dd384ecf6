"""Intake: turns a fully received upload into queued media, or refuses it with a reason.

Checks made here are the cheap ones that need no decoding: the type by the file's first bytes, and
for video the duration its container declares (a header read, in a decoder process of its own like
every read of an upload: see :mod:`actors.media.isolation`). Everything that
needs decoding — corrupt data, decompression bombs, undecodable codecs — is the job's to find.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from actors.media.isolation import Isolation
from actors.media.results import MediaLimits, check_duration
from actors.media.sniff import HEAD_BYTES, sniff
from actors.media.video import declared_duration
from kernel.config import Settings
from kernel.errors import LimitReached, MediaRejected, Rejection
from stores.blobs import MediaBlobs
from stores.media import MediaKind, MediaRecord, MediaStore


class KeyedLocks:
    """One lock per key, dropped when nobody holds or waits for it (uploads come and go)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[trio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (trio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Intake:
    def __init__(
        self,
        settings: Settings,
        store: MediaStore,
        blobs: MediaBlobs,
        isolation: Isolation,
        wake: Callable[[], None],
    ) -> None:
        self.max_bytes = settings.media_max_bytes
        self._limits = MediaLimits.from_settings(settings)
        self._probe_timeout_s = settings.media_probe_timeout_s
        self._staging = settings.media_root / "staging"
        self._pending_limit = settings.media_pending_per_user
        self._store = store
        self._blobs = blobs
        self._isolation = isolation
        self._wake = wake
        self.upload_locks = KeyedLocks()
        """Held while an upload's bytes are appended or its offset read: one writer, exact offsets."""

    async def staging_path(self, name: str | None = None) -> Path:
        """Where an upload's bytes are collected (``name``: a resumable upload's id)."""
        await trio.Path(self._staging).mkdir(parents=True, exist_ok=True)
        return self._staging / (name or f"direct-{uuid.uuid4().hex}")

    async def accept(self, owner_id: int, staged: Path, *, upload_id: str | None = None) -> MediaRecord:
        """Check the staged file, move it into the private store, create the media and its job.

        The staged file is consumed either way (stored, or deleted when refused).
        """
        try:
            if await self._store.pending_count(owner_id) >= self._pending_limit:
                raise LimitReached(
                    f"you have {self._pending_limit} uploads being processed; send more once they are done"
                )
            kind = await self._check(staged)
            original = await self._blobs.private.put_file(staged)
        finally:
            await trio.Path(staged).unlink(missing_ok=True)
        if upload_id is None:
            media = await self._store.create_media(owner_id, kind, original)
        else:
            media = await self._store.complete_upload(upload_id, kind, original)
        self._wake()
        return media

    @staticmethod
    def kind_of(head: bytes) -> MediaKind:
        """The kind a file's first bytes (:data:`HEAD_BYTES` of them) announce, or a refusal:
        called on the first bytes of a body as they arrive, so a PDF is refused before the rest
        of it is read, and again on the whole staged file."""
        kind = sniff(head)
        if kind is None:
            raise MediaRejected(
                Rejection.UNSUPPORTED,
                "not an image or video format we accept (JPEG, PNG, WebP, GIF, MP4/MOV, WebM/MKV)",
            )
        return kind

    async def _check(self, staged: Path) -> MediaKind:
        async with await trio.open_file(staged, "rb") as f:
            head = await f.read(HEAD_BYTES)
        kind = self.kind_of(head)
        if kind is MediaKind.VIDEO:
            duration = await self._isolation.run(
                declared_duration, staged, self._limits, timeout_s=self._probe_timeout_s
            )
            if duration is not None:
                check_duration(duration, self._limits)
        return kind
