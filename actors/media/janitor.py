"""The upload janitor: resumable uploads nobody finished do not keep their bytes forever.

A client that starts a resumable upload and never comes back leaves a staging file (up to the
upload size limit) and a row. Once an upload is older than ``media_upload_ttl_s`` and still
incomplete, the janitor deletes both, under the upload's lock so a chunk arriving at that moment
either lands before (and the upload is deleted with it) or finds the upload gone (404).
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from actors.media.intake import Intake
from kernel.config import Settings
from kernel.errors import StoreUnavailable
from stores.media import MediaStore
from supervisor import ChildContext

log = logging.getLogger("viora.media.janitor")

SWEEP_BATCH = 500


class UploadJanitor:
    def __init__(self, settings: Settings, store: MediaStore, intake: Intake) -> None:
        self._ttl_s = settings.media_upload_ttl_s
        self._every_s = settings.media_upload_sweep_s
        self._store = store
        self._intake = intake
        self.expired = 0

    async def sweep(self) -> int:
        """Delete the abandoned uploads of one batch; return how many went."""
        gone = 0
        for upload_id in await self._store.abandoned_uploads(self._ttl_s, SWEEP_BATCH):
            async with self._intake.upload_locks.hold(upload_id):
                if await self._store.forget_upload(upload_id):
                    await trio.Path(await self._intake.staging_path(upload_id)).unlink(missing_ok=True)
                    gone += 1
        self.expired += gone
        return gone

    async def run(self, ctx: ChildContext) -> None:
        """Supervised child body: sweep every ``media_upload_sweep_s`` until asked to stop."""
        ctx.expose(self._inspect)
        ctx.started()
        await ctx.run_until_stopped(self._sweep_forever)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except StoreUnavailable as exc:  # an outage: the next sweep catches up
                log.warning("abandoned uploads not swept: %s", exc)
            await trio.sleep(self._every_s)

    def _inspect(self) -> dict[str, Any]:
        return {"uploads_expired": self.expired}
