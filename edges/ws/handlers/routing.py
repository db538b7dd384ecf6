"""The path from a socket's request to the user's SessionActor, shared by all handler modules."""

from __future__ import annotations

from typing import Any

from actors.session.actor import SessionRequest
from edges.ws.context import RequestContext
from kernel.errors import ActorCrashed, ActorStopped, AskTimeout, Fault, TimedOut, Unavailable


async def via_session(conn: RequestContext, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    """Ask the user's SessionActor; its failures become typed errors, the socket stays open."""
    assert conn.user_id is not None
    try:
        ref = await conn.services.sessions.actor_for(conn.user_id)
        return await ref.ask(
            SessionRequest(type_, body, conn), timeout=conn.services.settings.request_timeout_s
        )
    except AskTimeout:
        raise TimedOut("the session did not answer in time") from None
    except ActorCrashed:
        raise Fault("the session failed and was restarted; retry") from None
    except ActorStopped:
        raise Unavailable("the session is restarting; retry") from None
