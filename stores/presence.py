"""The presence role: who is online (on any server process) and when others were last seen.

A user is online while at least one of their sockets is open on some process. Each process reports
its own users' state (``went_online``: has sockets here now; ``went_offline``: has none here now);
the store answers for the whole cluster. Both calls are idempotent — they set this process's state,
they do not count — so a report repeated after a restart cannot skew anything. In-process by
default; Redis when several processes serve one site.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PresenceStatus:
    online: bool
    last_seen: float | None
    """Unix time the user's last socket closed; None if never seen (or online now)."""


class PresenceStore(Protocol):
    async def went_online(self, user_id: int) -> None:
        """The user has sockets open on this process."""
        ...

    async def went_offline(self, user_id: int) -> None:
        """The user has no socket open on this process (they may still be online elsewhere)."""
        ...

    async def status(self, user_ids: list[int]) -> dict[int, PresenceStatus]: ...


class InProcessPresence:
    """Presence for a single server process."""

    def __init__(self) -> None:
        self._online: set[int] = set()
        self._last_seen: dict[int, float] = {}

    async def went_online(self, user_id: int) -> None:
        self._online.add(user_id)

    async def went_offline(self, user_id: int) -> None:
        if user_id in self._online:
            self._online.discard(user_id)
            self._last_seen[user_id] = time.time()

    async def status(self, user_ids: list[int]) -> dict[int, PresenceStatus]:
        return {
            uid: PresenceStatus(
                uid in self._online, None if uid in self._online else self._last_seen.get(uid)
            )
            for uid in user_ids
        }
