"""Text moderation batched across requests: one classifier call for every text waiting.

Every caption, comment and message is classified before it is stored, one request at a time per
socket but many sockets at once. A call costs a thread hand-off and a vectorizer pass that takes
many texts for little more than one (``TextModerator.classify_many``), so requests that arrive
while a call runs are gathered and classified together by the next one — a group commit, as
databases batch their log flushes.

No task of its own: the caller that finds no batch under way *leads* — it runs calls until nothing
waits — and the others wait for their verdicts. A leader that is cancelled before its call ran
puts the batch back and hands over to a waiting caller, so nobody is left waiting for a leader
that is gone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import trio

V = TypeVar("V")

MAX_BATCH = 256
"""Texts in one classifier call at most (a vectorizer pass over 256 short texts is a few ms)."""


class _Waiting(Generic[V]):
    __slots__ = ("error", "results", "texts", "wake")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.results: list[V] | None = None
        self.error: Exception | None = None
        self.wake = trio.Event()


class TextBatcher(Generic[V]):
    def __init__(self, classify: Callable[[list[str]], Awaitable[list[V]]], *, max_batch: int = MAX_BATCH) -> None:
        """``classify`` answers one verdict per text, in order (it runs the model off the loop)."""
        self._classify = classify
        self._max_batch = max_batch
        self._queue: list[_Waiting[V]] = []
        self._leading = False
        self.calls = 0
        self.texts = 0

    async def classify(self, texts: Sequence[str]) -> list[V]:
        if not texts:
            return []
        waiting: _Waiting[V] = _Waiting(list(texts))
        self._queue.append(waiting)
        try:
            while waiting.results is None and waiting.error is None:
                if self._leading:
                    waiting.wake = trio.Event()
                    await waiting.wake.wait()
                    continue
                self._leading = True
                try:
                    await self._lead()
                finally:
                    self._leading = False
        finally:
            if waiting in self._queue:  # cancelled before its turn: its texts are not wanted
                self._queue.remove(waiting)
            if self._queue and not self._leading:  # nobody leads the rest: a waiting caller will
                self._queue[0].wake.set()
        if waiting.error is not None:
            raise waiting.error
        assert waiting.results is not None
        return waiting.results

    async def _lead(self) -> None:
        while self._queue:
            batch: list[_Waiting[V]] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self._max_batch):
                batch.append(self._queue.pop(0))
                size += len(batch[-1].texts)
            try:
                verdicts = await self._classify([text for waiting in batch for text in waiting.texts])
            except Exception as error:
                for waiting in batch:
                    waiting.error = error
            except BaseException:
                self._queue[:0] = batch  # cancelled before an answer: theirs to run again
                raise
            else:
                self.calls += 1
                self.texts += size
                start = 0
                for waiting in batch:
                    waiting.results = verdicts[start : start + len(waiting.texts)]
                    start += len(waiting.texts)
            for waiting in batch:
                waiting.wake.set()
