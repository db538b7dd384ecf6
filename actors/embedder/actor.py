"""EmbedderActor: gathers requests into batches and runs one forward pass per kind per batch.

One incarnation owns one loaded model. Each round it gathers a batch (see
:meth:`RequestQueue.gather`), drops requests whose callers gave up, and embeds images and texts
in one worker-thread call each, under the model's limiter of 1: one inference at a time, and
the event loop keeps running meanwhile. A failing input fails alone; an exception from the
model fails every unanswered request of the batch and crashes the actor, so its supervisor
restarts it with a freshly loaded model ("let it crash").
"""

from __future__ import annotations

import time
from functools import partial
from typing import NoReturn

import trio

from actors.embedder.batch import Encoder, embed_batch
from actors.embedder.metrics import EmbedderMetrics
from actors.embedder.queue import RequestQueue
from actors.embedder.request import EmbedRequest, Kind, fail_unanswered
from kernel.errors import Fault, Invalid, Unavailable


class EmbedderActor:
    def __init__(
        self,
        model: Encoder,
        queue: RequestQueue,
        metrics: EmbedderMetrics,
        limiter: trio.CapacityLimiter,
        *,
        max_batch: int,
        max_wait_s: float,
    ) -> None:
        self._model = model
        self._queue = queue
        self._metrics = metrics
        self._limiter = limiter
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s

    async def serve(self) -> NoReturn:
        """Batch after batch until cancelled (a stop) or the model raises (a crash)."""
        while True:
            batch: list[EmbedRequest] = []
            try:
                await self._queue.gather(batch, self._max_batch, self._max_wait_s)
                await self._embed(batch)
            except Exception as exc:
                self._metrics.crashed_requests += sum(not r.done.is_set() for r in batch)
                fail_unanswered(batch, partial(Fault, f"the model failed: {exc!r}"))
                raise
            finally:  # cancelled (stop) mid-batch: nobody must wait for an answer that won't come
                fail_unanswered(batch, lambda: Unavailable("the embedder stopped"))

    async def _embed(self, batch: list[EmbedRequest]) -> None:
        # The last moment to skip work: a caller may have given up while its request was queued
        # or while the batch filled.
        live = [r for r in batch if not r.abandoned]
        self._metrics.dropped_cancelled += len(batch) - len(live)
        if not live:
            return
        now = trio.current_time()
        for request in live:
            self._metrics.queue_wait.add(now - request.enqueued_at)
        self._metrics.record_batch(len(live))
        for kind in Kind:
            group = [r for r in live if r.kind is kind]
            if group:
                await self._embed_group(kind, group)

    async def _embed_group(self, kind: Kind, group: list[EmbedRequest]) -> None:
        started = time.perf_counter()
        outcomes = await trio.to_thread.run_sync(
            embed_batch, self._model, kind, [r.payload for r in group], limiter=self._limiter
        )
        self._metrics.inference.add(time.perf_counter() - started)
        for request, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Invalid):
                self._metrics.failed_inputs += 1
                request.fail(outcome)
            else:
                self._metrics.items_embedded += 1
                request.answer(outcome)
