"""The safety rules: who may report what, what moderators decide, and mutes.

Reports follow visibility: a user reports only what they can see — a post or comment not across a
block, a direct message of a conversation they are in, an account not across a block — and
anything else is ``not_found`` in the words a missing object gets, so a report never tells what
exists. Nobody reports themselves or what they wrote. Moderators (the account's ``moderator``
right, checked at the edge like ``moderation.review``) read one queue of reported objects and
flagged texts and resolve each item once: the decision is recorded with who and when, and closes
the item's open reports. Removing a post goes through the social service's delete, as the author's
own would (its vectors go too).

Mutes hide an account from the muter's timelines, search, comments and notifications (applied
where those are read and fanned out: :mod:`services.social`, :mod:`services.intelligence`,
:mod:`actors.feed`); nothing changes for the muted account, which is why a mute, unlike a block,
leaves follows alone and refuses nothing.
"""

from __future__ import annotations

from typing import Any

from kernel.errors import Invalid, NotFound
from protocol.views import MUTE, REPORT, RESOLUTION
from services.social import SocialService
from stores.messaging import MessageStore
from stores.safety import Action, QueueItem, Reason, SafetyStore, Target, TargetKind
from stores.social import SocialStore


class SafetyService:
    def __init__(
        self,
        *,
        safety: SafetyStore,
        social: SocialStore,
        messages: MessageStore,
        posts: SocialService,
        open_reports_limit: int,
    ) -> None:
        """``posts`` deletes a removed post the way its author's delete does."""
        self._safety = safety
        self._social = social
        self._messages = messages
        self._posts = posts
        self._open_reports_limit = open_reports_limit

    # ------------------------------------------------------------------ reports

    async def report(
        self, reporter_id: int, kind: TargetKind, target_id: int, reason: Reason, note: str
    ) -> dict[str, Any]:
        target = await self._visible_target(reporter_id, kind, target_id)
        if target.author_id == reporter_id:
            raise Invalid("you cannot report yourself or what you wrote")
        report = await self._safety.report(
            reporter_id, kind, target_id, reason, note.strip(), max_open=self._open_reports_limit
        )
        return {"report": REPORT.build(report), "created": report.created}

    async def _visible_target(self, viewer_id: int, kind: TargetKind, target_id: int) -> Target:
        """The target as ``viewer_id`` may see it, or ``NotFound`` (missing, deleted, across a
        block, a message of a conversation they are not in: all in the same words)."""
        missing = NotFound(f"no such {kind}")
        target = await self._safety.target(kind, target_id)
        if target is None or target.removed:
            raise missing
        people = {target.author_id}
        if target.post_id is not None:  # a comment: its post must be visible too
            post = (await self._social.get_posts([target.post_id])).get(target.post_id)
            if post is None:
                raise missing
            people.add(post.author_id)
        if target.conversation_id is not None:
            try:
                await self._messages.conversation(target.conversation_id, viewer_id)
            except NotFound:
                raise missing from None
        for other in people - {viewer_id}:
            if await self._social.blocked_between(viewer_id, other):
                raise missing
        return target

    # ------------------------------------------------------------------ the moderators' queue

    async def queue(self, cursor: str | None, limit: int) -> dict[str, Any]:
        page = await self._safety.queue(cursor=cursor, limit=limit)
        return {"items": [_item(item) for item in page.items], "cursor": page.next_cursor}

    async def resolve(
        self, moderator_id: int, kind: TargetKind, target_id: int, action: Action, note: str
    ) -> dict[str, Any]:
        """Decide an item. ``remove`` deletes a post or comment (already deleted: nothing more to
        do); an account has no text to hide or remove here, so its reports are dismissed."""
        if action == "remove" and kind not in ("post", "comment"):
            raise Invalid("only posts and comments can be removed")
        if action == "hide" and kind == "user":
            raise Invalid("an account has no text to hide: act on what it wrote, then dismiss")
        target = await self._safety.target(kind, target_id)
        if target is None:
            raise NotFound(f"no such {kind}")
        if action == "remove" and kind == "post" and not target.removed:
            await self._posts.delete_post(target.author_id, target_id)
        resolution = await self._safety.resolve(moderator_id, kind, target_id, action, note.strip())
        return {"resolution": RESOLUTION.build(resolution)}

    # ------------------------------------------------------------------ mutes

    async def mute(self, user_id: int, other_id: int, duration_s: int | None) -> dict[str, Any]:
        if other_id == user_id:
            raise Invalid("you cannot mute yourself")
        missing = NotFound("no such user")  # the words a block gets too: it is never revealed
        if await self._social.blocked_between(user_id, other_id):
            raise missing
        try:
            mute, new = await self._safety.mute(user_id, other_id, duration_s=duration_s)
        except NotFound:
            raise missing from None
        return {"changed": new, "expires_at": mute.expires_at}

    async def unmute(self, user_id: int, other_id: int) -> bool:
        return await self._safety.unmute(user_id, other_id)

    async def mutes(self, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
        page = await self._safety.mutes(user_id, cursor=cursor, limit=limit)
        return {"mutes": [MUTE.build(m) for m in page.mutes], "cursor": page.next_cursor}


def _item(item: QueueItem) -> dict[str, Any]:
    """The ``moderation_item`` view of a queue item."""
    target = item.target
    return {
        "kind": target.kind,
        "target_id": target.id,
        "author_id": target.author_id,
        "author_username": target.author_username,
        "text": target.text,
        "content_warning": target.content_warning,
        "media_ids": list(target.media_ids),
        "post_id": target.post_id,
        "conversation_id": target.conversation_id,
        "removed": target.removed,
        "flagged": target.flagged,
        "score": target.score,
        "reasons": list(item.reasons),
        "reporters": item.reporters,
        "notes": list(item.notes),
        "updated_at": item.updated_at,
    }
