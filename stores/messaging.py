"""The messaging role: conversations (one-to-one and small groups), messages and receipts.

Every read and write names the acting user, and the store refuses (``NotFound``) anything in a
conversation that user is not a member of — so no code path can hand one user another's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

ReceiptKind = Literal["delivered", "read"]


@dataclass(frozen=True)
class Conversation:
    id: int
    kind: Literal["direct", "group"]
    title: str
    created_by: int
    created_at: float
    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    sender_id: int
    text: str
    created_at: float
    replayed: bool = field(default=False, compare=False)
    """True when :meth:`MessageStore.add_message` found this message under the request's client key."""


@dataclass(frozen=True)
class ConversationSummary:
    """What a conversation list shows for one member: the last message, how many messages from
    others that member has not read, and the other members' receipt marks."""

    last_message: Message | None
    unread: int
    receipts: dict[int, tuple[int, int]]
    """Other member id → (highest message id delivered to them, highest read)."""


class MessageStore(Protocol):
    async def open_direct(self, user_id: int, other_id: int) -> Conversation:
        """The one conversation between the two users, created on first use."""
        ...

    async def create_group(self, creator_id: int, member_ids: list[int], title: str) -> Conversation: ...

    async def conversation(self, conversation_id: int, user_id: int) -> Conversation:
        """Raises ``NotFound`` unless ``user_id`` is a member."""
        ...

    async def summaries(self, user_id: int, conversation_ids: list[int]) -> dict[int, ConversationSummary]:
        """For conversations of ``user_id`` (as :meth:`conversations` lists them)."""
        ...

    async def conversations(self, user_id: int, limit: int = 50) -> list[Conversation]:
        """The user's conversations, most recently active first."""
        ...

    async def add_message(
        self, conversation_id: int, sender_id: int, text: str, *, client_key: str | None = None
    ) -> Message:
        """Raises ``NotFound`` unless the sender is a member.

        With a ``client_key`` the sender used for a message in the last day, creates nothing and
        returns that message, ``replayed``; with the same key but other content (another text or
        conversation), raises ``Conflict``. Two calls with one key at once create one message.
        """
        ...

    async def history(
        self, conversation_id: int, user_id: int, *, before_id: int | None = None, limit: int = 50
    ) -> list[Message]:
        """Newest first. Raises ``NotFound`` unless ``user_id`` is a member."""
        ...

    async def mark(self, conversation_id: int, user_id: int, kind: ReceiptKind, message_id: int) -> bool:
        """Move the member's delivered/read mark forward to ``message_id`` (never back; reading
        implies delivery). True if it moved. Raises ``NotFound`` unless a member and the message
        is in the conversation."""
        ...
