"""What the edges need of the running server, as a protocol the runtime (``viora.runtime``)
satisfies: the edges sit below the wiring that builds them, so they name what they use instead
of importing it."""

from __future__ import annotations

from typing import Protocol

from actors.media.service import MediaService
from edges.ws.context import Services
from kernel.config import Settings
from kernel.probe import LoopLagProbe
from stores.open import Stores
from supervisor import Supervisor


class EdgeRuntime(Protocol):
    settings: Settings
    stores: Stores
    root: Supervisor
    services: Services
    probe: LoopLagProbe
    admin_token: str
    media: MediaService
