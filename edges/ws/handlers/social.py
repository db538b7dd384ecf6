"""Handlers of the social messages: thin translations from a request body to the SocialService.

Each handler only unpacks the body, already validated against the registry (item types, bounds and
choices included); rules live in :mod:`services.social`.
"""

from __future__ import annotations

from typing import Any

from edges.ws.context import RequestContext
from edges.ws.handlers.routing import via_session
from kernel.errors import Invalid
from protocol.client_keys import CLIENT_KEY_CHARS
from stores.social import UNCHANGED

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def page_limit(body: dict[str, Any]) -> int:
    return max(1, min(MAX_LIMIT, body.get("limit", DEFAULT_LIMIT)))


def signed_in_user(conn: RequestContext) -> int:
    assert conn.user_id is not None  # the dispatcher only routes signed-in sockets here
    return conn.user_id


def client_key(body: dict[str, Any]) -> str | None:
    """The request's idempotency key; its length is checked by the registry, its characters here
    (a schema has no character sets)."""
    key: str | None = body.get("client_key")
    if key is not None and not CLIENT_KEY_CHARS.fullmatch(key):
        raise Invalid("b.client_key: only letters, digits and - _ . :")
    return key


async def profile_get(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    if ("user_id" in body) == ("username" in body):
        raise Invalid("give exactly one of user_id and username")
    return await conn.services.social.profile(
        signed_in_user(conn), user_id=body.get("user_id"), username=body.get("username")
    )


async def profile_update(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"profile": await conn.services.social.update_profile(signed_in_user(conn), body)}


async def follow(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    if body["user_id"] == conn.user_id:
        raise Invalid("you cannot follow yourself")
    return {"changed": await conn.services.social.follow(signed_in_user(conn), body["user_id"])}


async def unfollow(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"changed": await conn.services.social.unfollow(signed_in_user(conn), body["user_id"])}


async def block(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    if body["user_id"] == conn.user_id:
        raise Invalid("you cannot block yourself")
    return {"changed": await conn.services.social.block(signed_in_user(conn), body["user_id"])}


async def unblock(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"changed": await conn.services.social.unblock(signed_in_user(conn), body["user_id"])}


async def relations(conn: RequestContext, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.social.relations(
        signed_in_user(conn),
        body["user_id"],
        followers=type_ == "followers.list",
        cursor=body.get("cursor"),
        limit=page_limit(body),
    )


async def post_create(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    media_ids = body.get("media_ids", [])
    if not body["text"].strip() and not media_ids:
        raise Invalid("a post needs text or media")
    post = await conn.services.social.create_post(
        signed_in_user(conn),
        body["text"],
        tuple(media_ids),
        body.get("reply_to"),
        client_key(body),
        body.get("content_warning"),
    )
    return {"post": post}


async def post_get(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"post": await conn.services.social.get_post(signed_in_user(conn), body["post_id"])}


async def post_edit(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    warning = body.get("content_warning", UNCHANGED)  # absent: as it is; nil: cleared
    post = await conn.services.social.edit_post(signed_in_user(conn), body["post_id"], body["text"], warning)
    return {"post": post}


async def post_delete(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    await conn.services.social.delete_post(signed_in_user(conn), body["post_id"])
    return {}


async def post_like(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"changed": await conn.services.social.like(signed_in_user(conn), body["post_id"])}


async def post_unlike(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"changed": await conn.services.social.unlike(signed_in_user(conn), body["post_id"])}


async def comment_create(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    comment = await conn.services.social.comment(
        signed_in_user(conn), body["post_id"], body["text"], body.get("reply_to"), client_key(body)
    )
    return {"comment": comment}


async def comment_list(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.social.comments(
        signed_in_user(conn), body["post_id"], body.get("after"), page_limit(body)
    )


async def timeline_home(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.social.home(signed_in_user(conn), body.get("before"), page_limit(body))


async def timeline_for_you(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.social.for_you(signed_in_user(conn), page_limit(body))


async def timeline_user(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.social.user_timeline(
        signed_in_user(conn), body["user_id"], body.get("before"), page_limit(body)
    )


async def notifications_list(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return await conn.services.social.notifications(
        signed_in_user(conn), body.get("before"), page_limit(body)
    )


async def presence_get(conn: RequestContext, _t: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"presence": await conn.services.social.presence(signed_in_user(conn), body["user_ids"])}


SOCIAL_HANDLERS = {
    "profile.get": profile_get,
    "profile.update": profile_update,
    "follow": follow,
    "unfollow": unfollow,
    "block": block,
    "unblock": unblock,
    "followers.list": relations,
    "following.list": relations,
    "post.create": post_create,
    "post.get": post_get,
    "post.edit": post_edit,
    "post.delete": post_delete,
    "post.like": post_like,
    "post.unlike": post_unlike,
    "comment.create": comment_create,
    "comment.list": comment_list,
    "timeline.home": timeline_home,
    "timeline.for_you": timeline_for_you,
    "timeline.user": timeline_user,
    "notifications.list": notifications_list,
    "presence.get": presence_get,
    "stream.resume": via_session,
}
