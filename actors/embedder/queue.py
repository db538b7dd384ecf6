"""The embedder's bounded request queue, and how a batch is gathered from it.

The queue belongs to the service, not to one run of the actor: a restarted actor keeps serving
what was queued, like an ``ActorRef``'s mailbox. It is not an actor mailbox because a batching
actor must take *several* requests at once and answer them later, which ``Actor.handle`` (one
message in, its reply out) cannot express.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import trio

from actors.embedder.request import EmbedRequest, fail_unanswered
from kernel.errors import Busy, Unavailable


class RequestQueue:
    """Two lanes in one bound: *interactive* requests (a user waits: search queries) are always
    taken before *background* ones (indexing, moderation), so a search waits for at most the batch
    already in the model, not behind a backlog of posts to index."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the embedder queue is bounded: capacity must be >= 1")
        self.capacity = capacity
        self.rejected = 0
        """Requests refused with ``busy`` (kept here, like ``ActorRef.dropped``)."""
        self._interactive: deque[EmbedRequest] = deque()
        self._background: deque[EmbedRequest] = deque()
        self._arrived = trio.Event()
        self._closed = False

    def submit(self, request: EmbedRequest) -> None:
        """Queue ``request`` or refuse at once: a full queue raises :class:`Busy`."""
        if self._closed:
            raise Unavailable("the embedder is shut down")
        if self.depth >= self.capacity:
            self.rejected += 1
            raise Busy(f"embedder queue full ({self.capacity} waiting)")
        (self._interactive if request.interactive else self._background).append(request)
        self._arrived.set()

    @property
    def depth(self) -> int:
        return len(self._interactive) + len(self._background)

    async def gather(self, batch: list[EmbedRequest], max_batch: int, max_wait_s: float) -> None:
        """Fill ``batch`` (the caller's list, so nothing taken is lost if this is cancelled).

        Waits for a first request; takes everything already queued, up to ``max_batch``, without
        waiting; then waits for more until ``max_wait_s`` after the first request *was queued* —
        so requests that queued up during the previous inference go at once, and a lone request
        waits ``max_wait_s`` at most. A batch that starts with an interactive request takes only
        interactive ones: a search must not wait for 31 captions to be embedded with it.
        """
        await self._wait_for(interactive_only=False)
        batch.append(self._take())
        interactive_only = batch[0].interactive
        deadline = batch[0].enqueued_at + max_wait_s
        while True:
            self._drain(batch, max_batch, interactive_only)
            if len(batch) >= max_batch:
                return
            with trio.move_on_at(deadline) as waiting:
                await self._wait_for(interactive_only)
            if waiting.cancelled_caught:
                return

    async def _wait_for(self, interactive_only: bool) -> None:
        while not self._available(interactive_only):
            self._arrived = trio.Event()
            await self._arrived.wait()

    def _available(self, interactive_only: bool) -> int:
        return len(self._interactive) if interactive_only else self.depth

    def _take(self) -> EmbedRequest:
        return self._interactive.popleft() if self._interactive else self._background.popleft()

    def _drain(self, batch: list[EmbedRequest], max_batch: int, interactive_only: bool = False) -> None:
        while len(batch) < max_batch and self._available(interactive_only):
            batch.append(self._take())

    def open(self) -> None:
        """A run after a final stop (the parent subtree restarted) takes requests again."""
        self._closed = False

    def close(self, error: Callable[[], BaseException]) -> None:
        """Refuse new requests and fail the queued ones with ``error()`` (final stop)."""
        self._closed = True
        queued: list[EmbedRequest] = []
        self._drain(queued, self.depth)
        fail_unanswered(queued, error)
