"""The PresenceActor: mirrors who is online on this process into the presence store, and tells
each user's followers when they come and go.

The directory (the truth about this process's sockets) sends ``PresenceChanged`` when a user's
first socket opens or last one closes; the actor reads the truth again when it handles the message
and reports it — so a late, repeated or (under a burst, dropped-and-superseded) message still leaves
the store right. One actor keeps each user's transitions in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.actor import Actor
from stores.presence import PresenceStore
from stores.social import SocialStore
from viora.bus import Delivery, EventBus

PRESENCE_STREAM = "presence"


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    user_id: int


class PresenceActor(Actor):
    def __init__(
        self,
        store: PresenceStore,
        social: SocialStore,
        bus: EventBus,
        is_online_here: Callable[[int], bool],
        max_audience: int,
    ) -> None:
        self._store = store
        self._social = social
        self._bus = bus
        self._is_online_here = is_online_here
        self._max_audience = max_audience
        self.broadcasts = 0

    async def handle(self, message: Any) -> None:
        if not isinstance(message, PresenceChanged):
            raise TypeError(f"PresenceActor cannot handle {type(message).__name__}")
        user_id = message.user_id
        if self._is_online_here(user_id):
            await self._store.went_online(user_id)
        else:
            await self._store.went_offline(user_id)
        status = (await self._store.status([user_id]))[user_id]
        followers = await self._social.follower_ids(user_id)
        if not followers or len(followers) > self._max_audience:
            return  # big accounts' presence is asked for (presence.get), not broadcast
        body = {"user_id": user_id, "online": status.online, "last_seen": status.last_seen}
        await self._bus.publish(
            Delivery(PRESENCE_STREAM, "presence", body, tuple((f, None) for f in followers))
        )
        self.broadcasts += 1

    def inspect(self) -> dict[str, Any]:
        return {"broadcasts": self.broadcasts}
