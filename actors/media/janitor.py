"""The media janitor: bytes nobody can use any more do not stay on disk forever.

Two sweeps, every ``media_upload_sweep_s``:

* **Abandoned uploads.** A client that starts a resumable upload and never comes back leaves a
  staging file (up to the upload size limit) and a row. Once an upload is older than
  ``media_upload_ttl_s`` and still incomplete, the janitor deletes both, under the upload's lock so
  a chunk arriving at that moment either lands before (and the upload is deleted with it) or finds
  the upload gone (404).
* **Removed media.** A media item is removed when no live post and no avatar shows it any more:
  at once when it is detached (its post deleted, its avatar replaced: see
  ``stores/postgres/social.py``), or here, when a processed upload was never attached within
  ``media_unattached_ttl_s``. From that moment its files are no longer served; here its blobs —
  variants, original, sampled frames — are deleted, except those a live item holds too (keys are
  content hashes: the same picture uploaded twice is one blob), then its record. A blob written
  within ``media_blob_grace_s`` waits for a later sweep (see ``stores/blobs.py``), and so does its
  record, so nothing is left behind.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from actors.media.intake import Intake
from kernel.config import Settings
from kernel.errors import StoreUnavailable
from stores.blobs import BlobStore, MediaBlobs
from stores.media import MediaStore, RemovedMedia
from supervisor import ChildContext

log = logging.getLogger("viora.media.janitor")

SWEEP_BATCH = 500


class MediaJanitor:
    def __init__(self, settings: Settings, store: MediaStore, intake: Intake, blobs: MediaBlobs) -> None:
        self._upload_ttl_s = settings.media_upload_ttl_s
        self._unattached_ttl_s = settings.media_unattached_ttl_s
        self._grace_s = settings.media_blob_grace_s
        self._every_s = settings.media_upload_sweep_s
        self._store = store
        self._intake = intake
        self._blobs = blobs
        self.expired = 0
        self.collected = 0

    async def sweep(self) -> int:
        """Delete the abandoned uploads of one batch; return how many went."""
        gone = 0
        for upload_id in await self._store.abandoned_uploads(self._upload_ttl_s, SWEEP_BATCH):
            async with self._intake.upload_locks.hold(upload_id):
                if await self._store.forget_upload(upload_id):
                    await trio.Path(await self._intake.staging_path(upload_id)).unlink(missing_ok=True)
                    gone += 1
        self.expired += gone
        return gone

    async def collect(self) -> int:
        """Remove the long-unattached uploads of one batch, then delete the files and records of
        one batch of removed media; return how many media items went."""
        await self._store.remove_unattached(self._unattached_ttl_s, SWEEP_BATCH)
        gone = 0
        for removed in await self._store.removed_media(SWEEP_BATCH):
            if await self._delete_files(removed) and await self._store.forget_media(removed.id):
                gone += 1
        self.collected += gone
        return gone

    async def _delete_files(self, removed: RemovedMedia) -> bool:
        """Delete the item's unshared blobs; True when none is left (none was too fresh)."""
        kept = 0
        stores: tuple[tuple[BlobStore, tuple[str, ...]], ...] = (
            (self._blobs.public, removed.public_keys),
            (self._blobs.private, removed.private_keys),
        )
        for store, keys in stores:
            for key in keys:
                if not await store.delete_if_older(key, self._grace_s):
                    kept += 1
        return kept == 0

    async def run(self, ctx: ChildContext) -> None:
        """Supervised child body: sweep every ``media_upload_sweep_s`` until asked to stop."""
        ctx.expose(self._inspect)
        ctx.started()
        await ctx.run_until_stopped(self._sweep_forever)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
                while await self.collect() == SWEEP_BATCH:  # a backlog: go on at once
                    pass
            except StoreUnavailable as exc:  # an outage: the next sweep catches up
                log.warning("media janitor sweep skipped: %s", exc)
            await trio.sleep(self._every_s)

    def _inspect(self) -> dict[str, Any]:
        return {"uploads_expired": self.expired, "media_collected": self.collected}
