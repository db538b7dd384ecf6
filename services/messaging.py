"""Direct messages: conversations, delivery over durable streams, receipts, typing indicators.

A message is stored once (PostgreSQL), then appended to every member's ``dm`` stream — the sender's
too, so their other devices stay in step — and published on the bus. Receipts travel the same way
back to the other members, so a sender who was offline learns on resume that the message was
delivered and read. Typing indicators are ephemeral: published to the members online, never stored,
dropped rather than queued when a session is busy.

Blocks: a direct conversation across a block is closed (``dm.open`` and ``dm.send`` answer
``not_found``, as for a stranger), and nobody can start a group with someone across a block. A
group that already holds both goes on for everyone else, but the two never reach each other:
messages, receipts and typing are not delivered across the block, and history and previews leave
out what the other side wrote. Every refusal is a ``Blocked``, answered as ``not_found`` with the
words a missing object gets, so a block is never revealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kernel.errors import Blocked, NotFound
from protocol.views import CONVERSATION, MESSAGE
from stores.analysis import TextKind
from stores.bus import Delivery, EventBus
from stores.messaging import Conversation, ConversationSummary, Message, MessageStore, ReceiptKind
from stores.social import SocialStore
from stores.timeline import TimelineStore


class TextVerdicts(Protocol):
    """The text classifier's verdicts (``services.intelligence.IntelligenceService`` provides them)."""

    async def moderate_text(self, kind: TextKind, object_id: int, text: str) -> bool: ...

    async def flagged_texts(self, kind: TextKind, object_ids: list[int]) -> set[int]: ...


DM_STREAM = "dm"


class MessagingService:
    def __init__(
        self,
        messages: MessageStore,
        social: SocialStore,
        timeline: TimelineStore,
        bus: EventBus,
        texts: TextVerdicts,
    ) -> None:
        self._messages = messages
        self._texts = texts
        self._social = social
        self._timeline = timeline
        self._bus = bus

    async def open_direct(self, user_id: int, other_id: int) -> dict[str, Any]:
        await self._refuse_hidden(user_id, [other_id])
        return CONVERSATION.build(await self._messages.open_direct(user_id, other_id))

    async def create_group(self, user_id: int, member_ids: list[int], title: str) -> dict[str, Any]:
        await self._refuse_hidden(user_id, member_ids)
        return CONVERSATION.build(await self._messages.create_group(user_id, member_ids, title))

    async def conversations(self, user_id: int, limit: int) -> list[dict[str, Any]]:
        """Most recently active first, each with its last message, unread count and receipts, so
        a client that just opened shows previews, badges and "seen" without more requests."""
        conversations = await self._messages.conversations(user_id, limit)
        summaries = await self._messages.summaries(user_id, [c.id for c in conversations])
        last_ids = [s.last_message.id for s in summaries.values() if s.last_message is not None]
        flagged = await self._texts.flagged_texts("message", last_ids)
        blocked = await self._social.blocked_set(user_id)
        return [CONVERSATION.build(c) | _summary(summaries[c.id], flagged, blocked) for c in conversations]

    async def send(
        self, user_id: int, conversation_id: int, text: str, client_key: str | None = None
    ) -> dict[str, Any]:
        """Store the message and put it on the members' ``dm`` streams; a retry under the same
        ``client_key`` gets the first message back, delivered once."""
        conversation = await self._messages.conversation(conversation_id, user_id)
        if conversation.kind == "direct":  # a block since the conversation began silences it
            await self._refuse_blocked(user_id, conversation)
        stored = await self._messages.add_message(conversation_id, user_id, text, client_key=client_key)
        if stored.replayed:
            return _message(stored, stored.id in await self._texts.flagged_texts("message", [stored.id]))
        flagged = await self._texts.moderate_text("message", stored.id, text)
        message = _message(stored, flagged)
        recipients = await self._reachable(user_id, conversation.member_ids)  # none across a block
        await self._publish(recipients, "dm.message", {"message": message})
        return message

    async def history(
        self, user_id: int, conversation_id: int, before: int | None, limit: int
    ) -> dict[str, Any]:
        messages = await self._messages.history(conversation_id, user_id, before_id=before, limit=limit)
        flagged = await self._texts.flagged_texts("message", [m.id for m in messages])
        blocked = await self._social.blocked_set(user_id)
        return {
            "messages": [_message(m, m.id in flagged) for m in messages if m.sender_id not in blocked],
            "cursor": messages[-1].id if len(messages) == limit else None,
        }

    async def receipt(self, user_id: int, conversation_id: int, kind: ReceiptKind, message_id: int) -> bool:
        """Record that the user's devices got (or the user read) everything up to ``message_id``;
        tell the other members when that moved the mark."""
        moved = await self._messages.mark(conversation_id, user_id, kind, message_id)
        if moved:
            conversation = await self._messages.conversation(conversation_id, user_id)
            others = [m for m in await self._reachable(user_id, conversation.member_ids) if m != user_id]
            body = {
                "conversation_id": conversation_id,
                "user_id": user_id,
                "kind": kind,
                "message_id": message_id,
            }
            await self._publish(others, "dm.receipt", body)
        return moved

    async def typing(self, user_id: int, conversation_id: int) -> None:
        conversation = await self._messages.conversation(conversation_id, user_id)
        reachable = await self._reachable(user_id, conversation.member_ids)
        others = tuple((m, None) for m in reachable if m != user_id)
        body = {"conversation_id": conversation_id, "user_id": user_id}
        await self._bus.publish(Delivery("typing", "typing", body, others))

    async def _publish(self, user_ids: tuple[int, ...] | list[int], type_: str, body: dict[str, Any]) -> None:
        appended = await self._timeline.append(list(user_ids), DM_STREAM, type_, body)
        await self._bus.publish(Delivery(DM_STREAM, type_, body, tuple(appended)))

    async def _refuse_hidden(self, user_id: int, others: list[int]) -> None:
        """Refuse a conversation with anyone who does not exist for ``user_id`` — an unknown account
        or one across a block — in the same words, so the answer does not tell which."""
        for other in others:
            if other == user_id:
                continue
            if await self._social.blocked_between(user_id, other):
                raise Blocked("no such user")
            if await self._social.get_profile(other) is None:
                raise NotFound("no such user")

    async def _refuse_blocked(self, user_id: int, conversation: Conversation) -> None:
        """A direct conversation across a block is closed: answered as if the caller were not in it."""
        for other in conversation.member_ids:
            if other != user_id and await self._social.blocked_between(user_id, other):
                raise Blocked(f"conversation {conversation.id}")

    async def _reachable(self, user_id: int, member_ids: Sequence[int]) -> list[int]:
        """The members what ``user_id`` does in a conversation reaches: all but those across a block."""
        blocked = await self._social.blocked_set(user_id)
        return [m for m in member_ids if m not in blocked]


def _message(message: Message, flagged: bool) -> dict[str, Any]:
    """The ``message`` view; ``flagged``: the text classifier flagged it (apps hide it behind a tap)."""
    view = MESSAGE.build(message)
    view["flagged"] = flagged
    return view


def _summary(summary: ConversationSummary, flagged: set[int], blocked: set[int]) -> dict[str, Any]:
    """What ``conversation_summary`` adds to a conversation; ``flagged``: ids of flagged messages;
    ``blocked``: accounts across a block, whose last message is no preview."""
    last = summary.last_message
    if last is not None and last.sender_id in blocked:
        last = None
    return {
        "last_message": None if last is None else _message(last, last.id in flagged),
        "unread": summary.unread,
        "receipts": [
            {"user_id": user_id, "delivered": delivered, "read": read}
            for user_id, (delivered, read) in sorted(summary.receipts.items())
        ],
    }
