"""The PresenceActor: mirrors who is online on this process into the presence store, and tells
each user's followers when they come and go.

The directory (the truth about this process's sockets) sends ``PresenceChanged`` when a user's
first socket opens or last one closes; the actor reads the truth again when it handles the message
and reports it — so a late, repeated or (under a burst, dropped-and-superseded) message still leaves
the store right. One actor keeps each user's transitions in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.actor import Actor
from kernel.errors import StoreUnavailable
from stores.bus import Delivery, EventBus, publish_live
from stores.presence import PresenceStore
from stores.social import SocialStore

log = logging.getLogger("viora.presence")

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
        self.store_errors = 0
        self.undelivered = 0
        """Broadcasts the bus failed to deliver live (followers read presence again with presence.get)."""

    async def handle(self, message: Any) -> None:
        if not isinstance(message, PresenceChanged):
            raise TypeError(f"PresenceActor cannot handle {type(message).__name__}")
        try:
            await self._report(message.user_id)
        except StoreUnavailable as exc:
            # An outage is not a bug: crashing would only restart us into the same outage (and
            # spend the supervisor's restart budget). The next change for this user re-reports.
            self.store_errors += 1
            log.warning("presence of user %s not recorded: %s", message.user_id, exc)

    async def _report(self, user_id: int) -> None:
        if self._is_online_here(user_id):
            await self._store.went_online(user_id)
        else:
            await self._store.went_offline(user_id)
        status = (await self._store.status([user_id]))[user_id]
        followers = await self._social.follower_ids(user_id)
        if not followers or len(followers) > self._max_audience:
            return  # big accounts' presence is asked for (presence.get), not broadcast
        body = {"user_id": user_id, "online": status.online, "last_seen": status.last_seen}
        delivery = Delivery(PRESENCE_STREAM, "presence", body, tuple((f, None) for f in followers))
        if await publish_live(self._bus, delivery):
            self.broadcasts += 1
        else:
            self.undelivered += 1

    def inspect(self) -> dict[str, Any]:
        return {
            "broadcasts": self.broadcasts,
            "store_errors": self.store_errors,
            "undelivered": self.undelivered,
        }
