"""The presence role: who is online (on any server process) and when others were last seen.

A user is online while at least one of their sockets is open on some process. Each process reports
its own users' transitions (first socket opened, last socket closed); the store answers for the
whole cluster. In-process by default; Redis when several processes serve one site.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PresenceStatus:
    online: bool
    last_seen: float | None
    """Unix time the user's last socket closed; None if never seen (or online now)."""


class PresenceStore(Protocol):
    async def went_online(self, user_id: int) -> None:
        """This process opened the user's first socket."""
        ...

    async def went_offline(self, user_id: int) -> None:
        """This process closed the user's last socket (they may still be online elsewhere)."""
        ...

    async def status(self, user_ids: list[int]) -> dict[int, PresenceStatus]: ...


class InProcessPresence:
    """Presence for a single server process."""

    def __init__(self) -> None:
        self._sockets: Counter[int] = Counter()
        self._last_seen: dict[int, float] = {}

    async def went_online(self, user_id: int) -> None:
        self._sockets[user_id] += 1

    async def went_offline(self, user_id: int) -> None:
        self._sockets[user_id] -= 1
        if self._sockets[user_id] <= 0:
            del self._sockets[user_id]
            self._last_seen[user_id] = time.time()

    async def status(self, user_ids: list[int]) -> dict[int, PresenceStatus]:
        return {
            uid: PresenceStatus(
                uid in self._sockets, None if uid in self._sockets else self._last_seen.get(uid)
            )
            for uid in user_ids
        }
