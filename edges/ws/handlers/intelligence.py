"""Handlers of search, "more like this" and moderation messages (rules live in services/intelligence.py)."""

from __future__ import annotations

from typing import Any

from edges.ws.context import RequestContext
from edges.ws.handlers.social import signed_in_user

DEFAULT_RESULTS = 20
MAX_RESULTS = 100


def _results_limit(body: dict[str, Any]) -> int:
    return max(1, min(MAX_RESULTS, body.get("limit", DEFAULT_RESULTS)))


async def _require_moderator(conn: RequestContext) -> None:
    await conn.services.accounts.require_moderator(signed_in_user(conn))


async def search(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    results = await conn.services.intelligence.search(
        signed_in_user(conn),
        body["query"],
        kinds=body.get("kinds"),
        author_id=body.get("author_id"),
        since=body.get("since"),
        until=body.get("until"),
        limit=_results_limit(body),
        offset=body.get("offset", 0),
    )
    return {"results": results}


async def similar(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    results = await conn.services.intelligence.similar(
        signed_in_user(conn), body["media_id"], limit=_results_limit(body)
    )
    return {"results": results}


async def moderation_get(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.intelligence.moderation_of(signed_in_user(conn), body["media_id"])


async def preferences_update(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    await conn.services.intelligence.set_show_sensitive(signed_in_user(conn), body["show_sensitive"])
    return {"show_sensitive": body["show_sensitive"]}


async def media_reveal(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    media = await conn.services.social.reveal_media(signed_in_user(conn), body["post_id"], body["media_id"])
    return {"media": media}


async def moderation_review(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    await _require_moderator(conn)
    return await conn.services.intelligence.review(body.get("before"), _results_limit(body))


async def moderation_decide(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    await _require_moderator(conn)
    await conn.services.intelligence.decide(body["media_id"], body["verdict"])
    return {"changed": True}


INTELLIGENCE_HANDLERS = {
    "search": search,
    "search.similar": similar,
    "moderation.get": moderation_get,
    "preferences.update": preferences_update,
    "media.reveal": media_reveal,
    "moderation.review": moderation_review,
    "moderation.decide": moderation_decide,
}
