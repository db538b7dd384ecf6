"""What the server does for each client message type.

One async function per type in :data:`HANDLERS` (a test checks that every client message in
``protocol.messages`` has one). Handlers get the validated body and the socket, return the reply
body (or ``None`` for messages without a reply), and signal failure with the domain errors of
:mod:`kernel.errors` (the connection answers them through :mod:`edges.ws.errors`). The table is
handed to each ``Connection`` by whoever accepts sockets, so handlers and the connection loop never
import each other.
Messages served by the user's SessionActor go through :func:`~edges.ws.handlers.routing.via_session`.
"""

from __future__ import annotations

import time
from typing import Any

from edges.ws.context import Handlers, RequestContext
from edges.ws.handlers.intelligence import INTELLIGENCE_HANDLERS
from edges.ws.handlers.messaging import MESSAGING_HANDLERS
from edges.ws.handlers.routing import via_session
from edges.ws.handlers.safety import SAFETY_HANDLERS
from edges.ws.handlers.social import SOCIAL_HANDLERS
from edges.ws.sockets import throttled_address
from protocol.errors import ErrorCode, ProtocolError
from services.accounts import SignedIn


def _signed_in_reply(signed: SignedIn) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "user_id": signed.user.id,
        "username": signed.user.username,
        "expires_at": signed.expires_at,
    }
    if signed.token is not None:
        reply["token"] = signed.token
    return reply


def _require_anonymous(conn: RequestContext) -> None:
    if conn.user_id is not None:
        raise ProtocolError(ErrorCode.ALREADY_AUTHENTICATED, "this socket is already signed in")


async def register(conn: RequestContext, _type: str, body: dict[str, Any]) -> dict[str, Any]:
    _require_anonymous(conn)
    signed = await conn.services.accounts.register(
        body["username"], body["password"], body.get("display_name")
    )
    await conn.sign_in(signed)
    return _signed_in_reply(signed)


async def login(conn: RequestContext, _type: str, body: dict[str, Any]) -> dict[str, Any]:
    _require_anonymous(conn)
    accounts = conn.services.accounts
    user = await accounts.authenticate(body["username"], body["password"], address=throttled_address(conn.peer))
    conn.admit(user.id)
    signed = await accounts.issue_token(user)
    await conn.sign_in(signed)
    return _signed_in_reply(signed)


async def resume(conn: RequestContext, _type: str, body: dict[str, Any]) -> dict[str, Any]:
    _require_anonymous(conn)
    signed = await conn.services.accounts.resume(body["token"])
    await conn.sign_in(signed)
    return _signed_in_reply(signed)


async def logout(conn: RequestContext, _type: str, body: dict[str, Any]) -> dict[str, Any]:
    assert conn.user_id is not None and conn.token_hash is not None
    user_id, token_hash = conn.user_id, conn.token_hash
    everywhere = bool(body.get("all"))
    revoked = await conn.services.accounts.logout(user_id, token_hash, everywhere=everywhere)
    await conn.sign_out()  # before the announcement, which this socket is not to receive
    await conn.services.accounts.close_sockets(user_id, None if everywhere else token_hash)
    return {"revoked": revoked}


async def ping(conn: RequestContext, _type: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"ts": time.time()}


async def pong(conn: RequestContext, _type: str, body: dict[str, Any]) -> None:
    return None  # liveness is recorded for every inbound frame; nothing else to do


HANDLERS: Handlers = {
    "auth.register": register,
    "auth.login": login,
    "auth.resume": resume,
    "auth.logout": logout,
    "ping": ping,
    "pong": pong,
    "echo": via_session,
    "session.info": via_session,
    **SOCIAL_HANDLERS,
    **MESSAGING_HANDLERS,
    **INTELLIGENCE_HANDLERS,
    **SAFETY_HANDLERS,
}
