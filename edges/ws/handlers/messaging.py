"""Handlers of the direct-message messages: thin translations to the MessagingService."""

from __future__ import annotations

from typing import Any

from edges.ws.context import RequestContext
from edges.ws.handlers.social import client_key, page_limit, signed_in_user
from kernel.errors import Invalid
from stores.messaging import ReceiptKind


async def dm_open(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    if body["user_id"] == conn.user_id:
        raise Invalid("a conversation needs someone else")
    return {"conversation": await conn.services.messaging.open_direct(signed_in_user(conn), body["user_id"])}


async def dm_group(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    conversation = await conn.services.messaging.create_group(
        signed_in_user(conn), body["user_ids"], body.get("title", "")
    )
    return {"conversation": conversation}


async def dm_list(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversations": await conn.services.messaging.conversations(signed_in_user(conn), page_limit(body))
    }


async def dm_send(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    message = await conn.services.messaging.send(
        signed_in_user(conn), body["conversation_id"], body["text"], client_key(body)
    )
    return {"message": message}


async def dm_history(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.messaging.history(
        signed_in_user(conn), body["conversation_id"], body.get("before"), page_limit(body)
    )


async def dm_receipt(conn: RequestContext, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    kind: ReceiptKind = "delivered" if type_ == "dm.delivered" else "read"
    changed = await conn.services.messaging.receipt(
        signed_in_user(conn), body["conversation_id"], kind, body["message_id"]
    )
    return {"changed": changed}


async def typing(conn: RequestContext, _t: str, body: dict[str, Any]) -> None:
    await conn.services.messaging.typing(signed_in_user(conn), body["conversation_id"])


MESSAGING_HANDLERS = {
    "dm.open": dm_open,
    "dm.group": dm_group,
    "dm.list": dm_list,
    "dm.send": dm_send,
    "dm.history": dm_history,
    "dm.delivered": dm_receipt,
    "dm.read": dm_receipt,
    "typing": typing,
}
