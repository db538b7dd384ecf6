"""The embedder as the rest of the server sees it: a supervised child and a client.

Wiring it into the tree is one line, ``children.append(embedder.child_spec())``; callers hold
``embedder.client``. The queue, the counters and the model's limiter belong to the service, so
they outlive restarts of the actor: queued callers keep waiting, figures keep adding up, and a new
incarnation cannot start inferring while a thread of the crashed one still holds the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import trio

from actors.embedder.actor import EmbedderActor
from actors.embedder.batch import Encoder
from actors.embedder.metrics import EmbedderMetrics
from actors.embedder.queue import RequestQueue
from actors.embedder.request import EmbedRequest, Kind
from kernel.config import Settings
from kernel.errors import TimedOut, Unavailable
from ml.clip import ClipSource, ImageInput, load_clip
from supervisor import ChildContext, ChildSpec, RestartType


class EmbedderClient:
    """How callers get vectors. Every method answers L2-normalised float32 vectors of the model's
    dimension, or raises an :class:`~kernel.errors.DomainError` (``busy`` at once when
    the queue is full)."""

    def __init__(self, queue: RequestQueue, timeout_s: float) -> None:
        self._queue = queue
        self._timeout_s = timeout_s

    async def embed_image(self, image: ImageInput, *, timeout: float | None = None) -> np.ndarray:
        return (await self._embed(Kind.IMAGE, [image], timeout))[0]

    async def embed_text(
        self, text: str, *, timeout: float | None = None, interactive: bool = False
    ) -> np.ndarray:
        """One text; ``interactive`` (a user waits for it) jumps ahead of background requests."""
        return (await self._embed(Kind.TEXT, [text], timeout, interactive))[0]

    async def embed_images(self, images: Sequence[ImageInput], *, timeout: float | None = None) -> np.ndarray:
        """``(n, dim)`` for ``n`` images (video frames…), batched with everyone else's requests."""
        return await self._embed(Kind.IMAGE, images, timeout)

    async def embed_texts(self, texts: Sequence[str], *, timeout: float | None = None) -> np.ndarray:
        return await self._embed(Kind.TEXT, texts, timeout)

    async def _embed(
        self, kind: Kind, payloads: Sequence[Any], timeout: float | None, interactive: bool = False
    ) -> np.ndarray:
        """Queue one request per payload and wait for all; on any failure, cancellation or timeout
        the unanswered ones are marked abandoned, so the actor skips them."""
        requests: list[EmbedRequest] = []
        try:
            for payload in payloads:
                request = EmbedRequest(kind, payload, interactive=interactive)
                self._queue.submit(request)
                requests.append(request)
            with trio.fail_after(self._timeout_s if timeout is None else timeout):
                vectors = []
                for request in requests:
                    await request.done.wait()
                    vectors.append(request.result())
        except trio.TooSlowError:
            raise TimedOut(f"no embedding within {timeout or self._timeout_s:g}s") from None
        finally:
            for request in requests:
                request.abandoned = not request.done.is_set()
        return np.stack(vectors)


class EmbedderService:
    """One model, one bounded queue, one batching actor under supervision."""

    def __init__(
        self, settings: Settings, *, load: Callable[[], Encoder] | None = None, name: str = "embedder"
    ) -> None:
        self.name = name
        self._load = load or partial(load_clip, ClipSource.from_settings(settings))
        self._max_batch = settings.embedder_max_batch
        self._max_wait_s = settings.embedder_max_wait_ms / 1000
        self._shutdown_s = settings.shutdown_drain_s
        self.queue = RequestQueue(settings.embedder_queue)
        self.metrics = EmbedderMetrics()
        self.client = EmbedderClient(self.queue, settings.embedder_timeout_s)
        self.model: Encoder | None = None
        self._limiter = trio.CapacityLimiter(1)  # one inference (or model load) at a time

    def child_spec(self) -> ChildSpec:
        return ChildSpec(self.name, self.run, RestartType.PERMANENT, self._shutdown_s, kind="actor")

    async def run(self, ctx: ChildContext) -> None:
        """One incarnation: load a fresh model (in a thread), then serve batches until stopped.

        A model that raised may be left in a bad state, so a restart loads it again rather than
        reusing it. On a final stop, queued requests fail at once with ``unavailable``: draining
        them could take longer than the shutdown deadline, and a vector is cheap to ask again.
        """
        ctx.expose(self.figures)
        self.queue.open()
        self.model = await trio.to_thread.run_sync(self._load, limiter=self._limiter)
        actor = EmbedderActor(
            self.model,
            self.queue,
            self.metrics,
            self._limiter,
            max_batch=self._max_batch,
            max_wait_s=self._max_wait_s,
        )
        ctx.started()
        try:
            await ctx.run_until_stopped(actor.serve)
        finally:
            if ctx.final_stop:
                self.queue.close(lambda: Unavailable("the embedder is shut down"))

    def figures(self) -> dict[str, Any]:
        model = self.model
        return {
            "model": None
            if model is None
            else {
                "name": model.name,
                "quality": model.quality,
                "dim": model.dim,
                "device": str(model.device),
            },
            "queue": {"depth": self.queue.depth, "capacity": self.queue.capacity},
            "busy_rejections": self.queue.rejected,
            "max_batch": self._max_batch,
            "max_wait_ms": round(self._max_wait_s * 1000, 3),
            **self.metrics.figures(),
        }
