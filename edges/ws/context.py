"""What a websocket request handler sees: the services, and a narrow view of its socket.

Handlers depend on this module only — never on the connection loop that calls them — and the
connection gets its table of handlers injected, so the two never import each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from actors.session.directory import SessionDirectory
from edges.ws.sockets import SocketRegistry
from kernel.config import Settings
from protocol.errors import CloseCode
from services.accounts import Accounts, SignedIn
from services.intelligence import IntelligenceService
from services.messaging import MessagingService
from services.safety import SafetyService
from services.social import SocialService
from stores.presence import PresenceStore


class Transport(Protocol):
    """A message-oriented socket (``edges.websocket.trio_io.TrioWebSocket`` is the one served)."""

    peer: str | None
    """The client's network address, when there is one (the per-address socket cap counts it)."""

    async def receive(self) -> bytes | str | None:
        """The next message, or ``None`` once the peer has gone."""
        ...

    async def send(self, data: bytes) -> None: ...

    async def send_many(self, messages: list[bytes]) -> None:
        """Send several messages, in order (one write where the transport can)."""
        ...

    def send_now(self, data: bytes) -> bool:
        """Send a message without waiting if it can be done right now (what could not be written
        stays :attr:`pending` for :meth:`flush`); False leaves it to :meth:`send`."""
        ...

    @property
    def pending(self) -> int:
        """Bytes :meth:`send_now` accepted and has not written yet."""
        ...

    async def flush(self) -> None:
        """Write what is :attr:`pending`."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass
class Services:
    """What request handlers may use; built once by the runtime."""

    settings: Settings
    accounts: Accounts
    sessions: SessionDirectory
    sockets: SocketRegistry
    social: SocialService
    messaging: MessagingService
    intelligence: IntelligenceService
    presence: PresenceStore
    safety: SafetyService


class RequestContext(Protocol):
    """The socket a request came in on, as its handler may use it (``Connection`` is one).

    It is also the ``actors.session.actor.Socket`` handed to the user's SessionActor by
    requests that the session answers.
    """

    id: int
    services: Services
    user_id: int | None
    username: str | None
    token_hash: bytes | None
    cursors: dict[str, int]

    def send_frame(self, frame: bytes) -> None: ...

    def close(self, code: CloseCode, reason: str) -> None: ...

    peer: str | None

    def admit(self, user_id: int) -> None:
        """Refuse when the account may open no more sockets (see ``Connection.admit``)."""
        ...

    async def sign_in(self, signed: SignedIn) -> None: ...

    async def sign_out(self) -> None: ...


Handler = Callable[[RequestContext, str, dict[str, Any]], Awaitable[dict[str, Any] | None]]
Handlers = Mapping[str, Handler]
"""Client message type → handler; one entry per client message of ``protocol.messages``."""
