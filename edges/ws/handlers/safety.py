"""Handlers of reports, the moderators' queue and mutes (rules live in services/safety.py)."""

from __future__ import annotations

from typing import Any

from edges.ws.context import RequestContext
from edges.ws.handlers.social import page_limit, signed_in_user


async def _moderator(conn: RequestContext) -> int:
    """The signed-in moderator's id; ``forbidden`` for anyone else (read on every request, so a
    revoked right counts at once)."""
    user_id = signed_in_user(conn)
    await conn.services.accounts.require_moderator(user_id)
    return user_id


async def report_create(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.safety.report(
        signed_in_user(conn), body["kind"], body["target_id"], body["reason"], body.get("note", "")
    )


async def moderation_queue(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    await _moderator(conn)
    return await conn.services.safety.queue(body.get("cursor"), page_limit(body))


async def moderation_resolve(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.safety.resolve(
        await _moderator(conn), body["kind"], body["target_id"], body["action"], body.get("note", "")
    )


async def mute(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.safety.mute(signed_in_user(conn), body["user_id"], body.get("duration_s"))


async def unmute(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"changed": await conn.services.safety.unmute(signed_in_user(conn), body["user_id"])}


async def mutes_list(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.safety.mutes(signed_in_user(conn), body.get("cursor"), page_limit(body))


SAFETY_HANDLERS = {
    "report.create": report_create,
    "moderation.queue": moderation_queue,
    "moderation.resolve": moderation_resolve,
    "mute": mute,
    "unmute": unmute,
    "mutes.list": mutes_list,
}
