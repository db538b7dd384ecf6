"""The embedder's bounded request queue, and how a batch is gathered from it.

The queue belongs to the service, not to one run of the actor: a restarted actor keeps serving
what was queued, like an ``ActorRef``'s mailbox. It is not an actor mailbox because a batching
actor must take *several* requests at once and answer them later, which ``Actor.handle`` (one
message in, its reply out) cannot express.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from actors.embedder.errors import EmbedderBusy, EmbedderStopped
from actors.embedder.request import EmbedRequest, fail_unanswered


class RequestQueue:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the embedder queue is bounded: capacity must be >= 1")
        self.capacity = capacity
        self.rejected = 0
        """Requests refused with ``busy`` (kept here, like ``ActorRef.dropped``)."""
        self._send, self._receive = trio.open_memory_channel[EmbedRequest](capacity)

    def submit(self, request: EmbedRequest) -> None:
        """Queue ``request`` or refuse at once: a full queue raises :class:`EmbedderBusy`."""
        try:
            self._send.send_nowait(request)
        except trio.WouldBlock:
            self.rejected += 1
            raise EmbedderBusy(f"embedder queue full ({self.capacity} waiting)") from None
        except trio.ClosedResourceError:
            raise EmbedderStopped("the embedder is shut down") from None

    @property
    def depth(self) -> int:
        return self._send.statistics().current_buffer_used

    async def gather(self, batch: list[EmbedRequest], max_batch: int, max_wait_s: float) -> None:
        """Fill ``batch`` (the caller's list, so nothing taken is lost if this is cancelled).

        Waits for a first request; takes everything already queued, up to ``max_batch``, without
        waiting; then waits for more until ``max_wait_s`` after the first request *was queued* —
        so requests that queued up during the previous inference go at once, and a lone request
        waits ``max_wait_s`` at most.
        """
        batch.append(await self._receive.receive())
        deadline = batch[0].enqueued_at + max_wait_s
        while True:
            self._drain(batch, max_batch)
            if len(batch) >= max_batch:
                return
            with trio.move_on_at(deadline) as waiting:
                batch.append(await self._receive.receive())
            if waiting.cancelled_caught:
                return

    def _drain(self, batch: list[EmbedRequest], max_batch: int) -> None:
        # receive_nowait, not receive: receive() checks for cancellation first, so past the
        # deadline it would leave requests that are already here for another round.
        while len(batch) < max_batch:
            try:
                batch.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return

    def open(self) -> None:
        """A run after a final stop (the parent subtree restarted) gets a fresh queue."""
        if self._receive.statistics().open_send_channels == 0:
            self._send, self._receive = trio.open_memory_channel[EmbedRequest](self.capacity)

    def close(self, error: Callable[[], BaseException]) -> None:
        """Refuse new requests and fail the queued ones with ``error()`` (final stop)."""
        self._send.close()
        queued: list[EmbedRequest] = []
        self._drain(queued, self.capacity)
        fail_unanswered(queued, error)
