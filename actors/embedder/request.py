"""One caller's request: what to embed, and where its answer lands."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import trio


class Kind(enum.StrEnum):
    IMAGE = "image"
    TEXT = "text"


class EmbedRequest:
    """A request and its one-shot answer (cheaper than a channel per request).

    ``abandoned`` is set by a caller that gave up (cancelled, timed out): the actor drops such a
    request instead of spending inference on a vector nobody will read.
    """

    __slots__ = ("abandoned", "done", "enqueued_at", "error", "interactive", "kind", "payload", "vector")

    def __init__(self, kind: Kind, payload: Any, *, interactive: bool = False) -> None:
        self.kind = kind
        self.payload = payload
        self.interactive = interactive
        """A user waits for it (a search query): served before background work (indexing)."""
        self.enqueued_at = trio.current_time()
        self.done = trio.Event()
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    def answer(self, vector: np.ndarray) -> None:
        if not self.done.is_set():
            self.vector = vector
            self.done.set()

    def result(self) -> np.ndarray:
        """The vector of a request that is done; its error, raised, if it failed."""
        if self.error is not None:
            raise self.error
        assert self.vector is not None, "result() of a request still waiting"
        return self.vector

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


def fail_unanswered(requests: Iterable[EmbedRequest], error: Callable[[], BaseException]) -> None:
    """Fail every request not answered yet, each with its own exception (they are raised in
    different tasks, and an exception object carries the traceback of where it was raised)."""
    for request in requests:
        if not request.done.is_set():
            request.fail(error())
