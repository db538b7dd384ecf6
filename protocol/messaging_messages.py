"""Client and server messages of direct messaging (conversations, receipts, typing).

Loaded by :mod:`protocol.messages`, so importing the registry from there yields these too.
"""

from __future__ import annotations

from protocol.client_keys import CLIENT_KEY
from protocol.registry import Field, MessageSpec, register, register_client
from protocol.views import CONVERSATION, CONVERSATION_SUMMARY, MESSAGE

_CONVERSATION_ID = Field("conversation_id", "int", "The conversation's id.")
_CONVERSATION = (Field("conversation", "view", "The conversation.", view=CONVERSATION),)
_MESSAGE = (Field("message", "view", "The message.", view=MESSAGE),)
_MESSAGE_ID = Field("message_id", "int", "Everything up to and including this message.")
_LIMIT = Field("limit", "int", "Page size: 1 to 100, fewer or more are clamped (default 50).", required=False)
_CHANGED = (Field("changed", "bool", "False when the mark was already there (receipts only move forward)."),)


register_client(
    "dm.open",
    "The one-to-one conversation with another account (created on first use; `not_found` across a block).",
    (Field("user_id", "int", "The other account."),),
    _CONVERSATION,
)
register_client(
    "dm.group",
    "Start a group conversation; its members are fixed at creation (nobody joins later).",
    (
        Field(
            "user_ids",
            "list",
            "The other members (2 to 32 members in all).",
            min_len=1,
            max_len=31,
            items="int",
        ),
        Field("title", "str", "Group title.", required=False, max_len=100),
    ),
    _CONVERSATION,
)
register_client(
    "dm.list",
    "Your conversations, most recently active first.",
    (_LIMIT,),
    (
        Field(
            "conversations",
            "list",
            "Conversations, most recently active first.",
            items="view",
            view=CONVERSATION_SUMMARY,
        ),
    ),
)
register_client(
    "dm.send",
    "Send a message; every member (you included, on your other devices) gets it on the `dm` stream.",
    (_CONVERSATION_ID, Field("text", "str", "The message.", min_len=1, max_len=5000), CLIENT_KEY),
    _MESSAGE,
)
register_client(
    "dm.history",
    "A conversation's messages, newest first (members only).",
    (
        _CONVERSATION_ID,
        Field("before", "int", "Page back from this message id (exclusive).", required=False),
        _LIMIT,
    ),
    (
        Field("messages", "list", "Messages, newest first.", items="view", view=MESSAGE),
        Field("cursor", "int", "`before` for the next page; nil at the start.", nullable=True),
    ),
)
register_client(
    "dm.delivered",
    "Delivery receipt: your device received messages up to `message_id`.",
    (_CONVERSATION_ID, _MESSAGE_ID),
    _CHANGED,
)
register_client(
    "dm.read",
    "Read receipt: you read messages up to `message_id`.",
    (_CONVERSATION_ID, _MESSAGE_ID),
    _CHANGED,
)
register_client(
    "typing",
    "You are typing in a conversation; members online see a `typing` push. Send it every few seconds while typing.",
    (_CONVERSATION_ID,),
    replies=False,
)

for _type, _stream, _summary, _fields in (
    (
        "dm.message",
        "dm",
        "A message in one of your conversations (yours too, for your other devices).",
        _MESSAGE,
    ),
    (
        "dm.receipt",
        "dm",
        "Another member's device received, or the member read, messages up to `message_id`.",
        (
            _CONVERSATION_ID,
            Field("user_id", "int", "The member."),
            Field("kind", "str", "Which mark moved.", choices=("delivered", "read")),
            _MESSAGE_ID,
        ),
    ),
    (
        "typing",
        "typing",
        "A member is typing (ephemeral: not replayed on resume).",
        (_CONVERSATION_ID, Field("user_id", "int", "Who is typing.")),
    ),
):
    register(MessageSpec(_type, "server", _summary, auth=False, replies=False, stream=_stream, body=_fields))
