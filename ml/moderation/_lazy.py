"""A value built on first use, once, even when several worker threads ask for it at the same time.

The moderation models take a noticeable moment to load (the profanity model's import alone is ~0.7 s)
and most processes (tests, tools, a server that never sees media) never need them, so they are not
loaded at import. ``functools.cache`` would not do: two threads that miss the cache together both
build the value. Here the second waits on a lock and gets the first one's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """Calls ``factory`` the first time :meth:`get` is called, and never again once it succeeded.

    A factory that raises caches nothing, so a later call tries again.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._built = False
        self._value: T | None = None

    @property
    def loaded(self) -> bool:
        return self._built

    def get(self) -> T:
        if not self._built:  # the lock is taken only until the value exists
            with self._lock:
                if not self._built:
                    self._value = self._factory()
                    self._built = True
        return self._value  # type: ignore[return-value]
