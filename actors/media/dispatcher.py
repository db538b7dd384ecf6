"""The dispatcher: claims durable jobs and feeds them to idle MediaActors.

One *feeder* task per actor: it claims a job (``FOR UPDATE SKIP LOCKED``, so feeders here and in other
processes never take the same one), hands it to its actor and waits for the outcome, while a companion
task renews the job's lease and another forwards progress to the uploader. An actor is therefore fed
exactly when it is idle, and a job is in exactly one actor's hands at a time.

What happens to a job:

* the input is at fault → ``failed`` with the reason (no retry can help). That is whatever its
  decoding raised, overran (``media_job_timeout_s``) or crashed of: one attempt, no crash;
* the machine failed (``Fault``: a disk, a decoder process killed from outside; the store) or the
  actor crashed (a bug) → back to ``queued``, due after an exponential backoff; after
  ``media_max_attempts`` claims it ends ``failed``;
* the process died → the lease expires and a feeder (here after a restart, or elsewhere) claims it
  again; that claim counts as an attempt, so a file that kills its worker every time ends ``failed``.

A stop request lets every feeder finish its current job (within the supervisor's drain deadline)
but claim no new one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from actors.actor import ActorRef
from actors.media.actor import MediaActor, Outcome, ProcessJob
from kernel.config import Settings
from kernel.errors import AskTimeout, BlobMissing, DomainError, Fault, StoreUnavailable
from stores.media import ClaimedJob, MediaState, MediaStore
from supervisor import Backoff, ChildContext

log = logging.getLogger("viora.media")

Push = Callable[[int, str, str, dict[str, Any]], Awaitable[bool]]
"""``SessionDirectory.push``: deliver an event to a user's open sockets (False when offline)."""
STREAM, EVENT = "media", "media.progress"

TRANSIENT = (Fault, AskTimeout, StoreUnavailable, BlobMissing, OSError)
"""What may pass: worth another attempt (``Fault`` covers ``ActorCrashed``)."""


class Dispatcher:
    def __init__(
        self,
        store: MediaStore,
        actors: Sequence[ActorRef[MediaActor]],
        settings: Settings,
        push: Push,
        on_ready: Callable[[int], object] = lambda media_id: None,
    ) -> None:
        self._store = store
        self._actors = list(actors)
        self._push = push
        self._on_ready = on_ready
        """Told each media id that becomes ready (content analysis starts there)."""
        self._lease_s = settings.media_lease_s
        self._poll_s = settings.media_poll_s
        self._max_attempts = settings.media_max_attempts
        self._backoff = Backoff(settings.media_retry_initial_s, settings.media_retry_max_s)
        self._wakeup = trio.Event()
        self._stopping = False
        self.counts = {"claimed": 0, "ready": 0, "failed": 0, "retried": 0, "lease_lost": 0}

    def wake(self) -> None:
        """A job was enqueued: idle feeders look at once instead of at their next poll."""
        self._wakeup.set()

    async def run(self, ctx: ChildContext) -> None:
        ctx.expose(lambda: {"jobs": dict(self.counts)})
        self._stopping = False
        ctx.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._relay_stop, ctx)
            async with trio.open_nursery() as feeders:
                for ref in self._actors:
                    feeders.start_soon(self._feed, ref)
            nursery.cancel_scope.cancel()

    async def _relay_stop(self, ctx: ChildContext) -> None:
        await ctx.stop_requested.wait()
        self._stopping = True
        self.wake()

    async def _feed(self, ref: ActorRef[MediaActor]) -> None:
        while not self._stopping:
            try:
                job = await self._store.claim_job(self._lease_s)
            except StoreUnavailable as exc:
                log.warning("media: cannot claim jobs: %s", exc)
                job = None
            if job is None:
                await self._idle()
                continue
            self.counts["claimed"] += 1
            try:
                await self._run(ref, job)
            except StoreUnavailable as exc:
                # The outcome could not be recorded: the lease expires and the job is claimed again.
                log.warning("media: job %s left to its lease: %s", job.id, exc)

    async def _idle(self) -> None:
        event = self._wakeup
        with trio.move_on_after(self._poll_s):
            await event.wait()
        if event is self._wakeup and event.is_set():
            self._wakeup = trio.Event()

    async def _run(self, ref: ActorRef[MediaActor], job: ClaimedJob) -> None:
        if job.attempts > self._max_attempts:
            await self._fail(job, f"gave up after {job.attempts - 1} attempts (last error: {job.last_error})")
            return
        await self._notify(job, MediaState.RUNNING, progress=0.0)
        send, receive = trio.open_memory_channel[float](16)
        async with trio.open_nursery() as helpers:
            helpers.start_soon(self._keep_lease, job)
            helpers.start_soon(self._forward_progress, job, receive)
            try:
                with send:
                    outcome: Outcome = await ref.ask(ProcessJob(job, send), timeout=math.inf)
            except TRANSIENT as exc:
                await self._retry_or_fail(job, f"{type(exc).__name__}: {exc}"[:500])
            else:
                if outcome.reason is not None:
                    await self._fail(job, outcome.reason)
                else:
                    await self._succeed(job, outcome)
            helpers.cancel_scope.cancel()

    async def _succeed(self, job: ClaimedJob, outcome: Outcome) -> None:
        assert outcome.variants is not None
        if not await self._store.finish_ready(job, outcome.variants, outcome.frames):
            self.counts["lease_lost"] += 1
            return
        self.counts["ready"] += 1
        self._on_ready(job.media_id)
        await self._notify(job, MediaState.READY, progress=1.0, variants=outcome.variants)

    async def _fail(self, job: ClaimedJob, reason: str) -> None:
        if not await self._store.finish_failed(job, reason):
            self.counts["lease_lost"] += 1
            return
        self.counts["failed"] += 1
        log.info("media %s failed: %s", job.media_id, reason)
        await self._notify(job, MediaState.FAILED, reason=reason)

    async def _retry_or_fail(self, job: ClaimedJob, error: str) -> None:
        if job.attempts >= self._max_attempts:
            await self._fail(job, f"gave up after {job.attempts} attempts (last error: {error})")
            return
        delay = self._backoff.delay(job.attempts)
        log.warning(
            "media job %s attempt %d failed (%s); retrying in %.1fs", job.id, job.attempts, error, delay
        )
        if await self._store.retry_later(job, error, delay):
            self.counts["retried"] += 1
            await self._notify(job, MediaState.QUEUED, progress=0.0, retry_in_s=delay)

    async def _keep_lease(self, job: ClaimedJob) -> None:
        while True:
            await trio.sleep(self._lease_s / 3)
            try:
                if not await self._store.renew_lease(job, self._lease_s):
                    log.warning("media job %s: lease lost; its outcome will be discarded", job.id)
                    return
            except StoreUnavailable as exc:
                log.warning("media job %s: cannot renew the lease: %s", job.id, exc)

    async def _forward_progress(self, job: ClaimedJob, receive: trio.MemoryReceiveChannel[float]) -> None:
        async with receive:
            async for fraction in receive:
                await self._store.report_progress(job, fraction)
                await self._notify(job, MediaState.RUNNING, progress=round(fraction, 3))

    async def _notify(self, job: ClaimedJob, state: MediaState, **extra: Any) -> None:
        """Live news for the uploader; best effort (offline users poll ``GET /media/{id}``)."""
        try:
            body = {"media_id": job.media_id, "state": str(state), **extra}
            await self._push(job.owner_id, STREAM, EVENT, body)
        except DomainError as exc:
            log.debug("media.progress for user %s not delivered: %s", job.owner_id, exc)
