"""PostgreSQL implementation of :class:`stores.messaging.MessageStore`.

Membership is checked inside the same statement as every read or write (a join on
``conversation_members``), so there is no window between "is a member" and "reads the messages".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kernel.errors import Invalid, NotFound
from stores.messaging import Conversation, ConversationSummary, Message, ReceiptKind
from stores.postgres.client_keys import once
from stores.postgres.database import Conn, Database, fetch_all, fetch_one

MAX_GROUP_MEMBERS = 32

_CONVERSATION = """
    SELECT c.id, c.kind, c.title, c.created_by, extract(epoch FROM c.created_at)::float8,
           array(SELECT m.user_id FROM conversation_members m WHERE m.conversation_id = c.id ORDER BY m.user_id)
    FROM conversations c
"""
_MESSAGE = "id, conversation_id, sender_id, text, extract(epoch FROM created_at)::float8"


class PostgresMessageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open_direct(self, user_id: int, other_id: int) -> Conversation:
        if user_id == other_id:
            raise Invalid("a direct conversation needs two different users")
        low, high = sorted((user_id, other_id))

        async def upsert(conn: Conn) -> Conversation:
            row = await fetch_one(
                conn,
                "INSERT INTO conversations (kind, created_by, direct_key) VALUES ('direct', %s, %s)"
                " ON CONFLICT (direct_key) DO UPDATE SET direct_key = excluded.direct_key RETURNING id",
                (user_id, f"{low}:{high}"),
            )
            assert row is not None
            await conn.execute(
                "INSERT INTO conversation_members (conversation_id, user_id) VALUES (%s, %s), (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (row[0], low, row[0], high),
            )
            return await _conversation(conn, row[0], user_id)

        return await self._db.run(upsert)

    async def create_group(self, creator_id: int, member_ids: list[int], title: str) -> Conversation:
        members = sorted({creator_id, *member_ids})
        if len(members) < 2 or len(members) > MAX_GROUP_MEMBERS:
            raise Invalid(f"a group has 2 to {MAX_GROUP_MEMBERS} members")

        async def insert(conn: Conn) -> Conversation:
            row = await fetch_one(
                conn,
                "INSERT INTO conversations (kind, title, created_by) VALUES ('group', %s, %s) RETURNING id",
                (title, creator_id),
            )
            assert row is not None
            await conn.execute(
                "INSERT INTO conversation_members (conversation_id, user_id) SELECT %s, unnest(%s::bigint[])",
                (row[0], members),
            )
            return await _conversation(conn, row[0], creator_id)

        return await self._db.run(insert)

    async def conversation(self, conversation_id: int, user_id: int) -> Conversation:
        return await self._db.query(lambda conn: _conversation(conn, conversation_id, user_id))

    async def conversations(self, user_id: int, limit: int = 50) -> list[Conversation]:
        async def select(conn: Conn) -> list[Conversation]:
            rows = await fetch_all(
                conn,
                f"{_CONVERSATION} JOIN conversation_members me ON me.conversation_id = c.id AND me.user_id = %s"
                " ORDER BY coalesce((SELECT max(id) FROM messages WHERE conversation_id = c.id), 0) DESC, c.id DESC"
                " LIMIT %s",
                (user_id, limit),
            )
            return [_to_conversation(r) for r in rows]

        return await self._db.query(select)

    async def summaries(self, user_id: int, conversation_ids: list[int]) -> dict[int, ConversationSummary]:
        async def select(conn: Conn) -> dict[int, ConversationSummary]:
            last = {
                row[1]: Message(*row)
                async for row in await conn.execute(
                    f"SELECT DISTINCT ON (conversation_id) {_MESSAGE} FROM messages"
                    " WHERE conversation_id = ANY(%s) ORDER BY conversation_id, id DESC",
                    (conversation_ids,),
                )
            }
            unread: dict[int, int] = dict(
                await fetch_all(
                    conn,
                    "SELECT m.conversation_id, count(*) FROM messages m JOIN conversation_members me"
                    " ON me.conversation_id = m.conversation_id AND me.user_id = %s"
                    " WHERE m.conversation_id = ANY(%s) AND m.sender_id <> %s AND m.id > me.last_read_id"
                    " GROUP BY m.conversation_id",
                    (user_id, conversation_ids, user_id),
                )
            )
            receipts: dict[int, dict[int, tuple[int, int]]] = {c: {} for c in conversation_ids}
            async for conversation_id, member_id, delivered, read in await conn.execute(
                "SELECT conversation_id, user_id, last_delivered_id, last_read_id FROM conversation_members"
                " WHERE conversation_id = ANY(%s) AND user_id <> %s",
                (conversation_ids, user_id),
            ):
                receipts[conversation_id][member_id] = (delivered, read)
            return {
                c: ConversationSummary(last.get(c), unread.get(c, 0), receipts[c]) for c in conversation_ids
            }

        return await self._db.query(select)

    async def add_message(
        self, conversation_id: int, sender_id: int, text: str, *, client_key: str | None = None
    ) -> Message:
        async def insert(conn: Conn) -> Message:
            row = await fetch_one(
                conn,
                f"INSERT INTO messages (conversation_id, sender_id, text) SELECT %s, %s, %s"
                f" WHERE EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = %s AND user_id = %s)"
                f" RETURNING {_MESSAGE}",
                (conversation_id, sender_id, text, conversation_id, sender_id),
            )
            if row is None:
                raise NotFound(f"conversation {conversation_id}")
            return Message(*row)

        async def find(conn: Conn, message_id: int) -> Message:
            row = await fetch_one(conn, f"SELECT {_MESSAGE} FROM messages WHERE id = %s", (message_id,))
            if row is None:
                raise NotFound(f"message {message_id}")
            return replace(Message(*row), replayed=True)

        request = ["message", conversation_id, text]
        return await self._db.run(
            lambda conn: once(conn, sender_id, "message", client_key, request, insert, find)
        )

    async def history(
        self, conversation_id: int, user_id: int, *, before_id: int | None = None, limit: int = 50
    ) -> list[Message]:
        async def select(conn: Conn) -> list[Message]:
            await _require_member(conn, conversation_id, user_id)
            rows = await fetch_all(
                conn,
                f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = %s AND (%s::bigint IS NULL OR id < %s)"
                " ORDER BY id DESC LIMIT %s",
                (conversation_id, before_id, before_id, limit),
            )
            return [Message(*r) for r in rows]

        return await self._db.query(select)

    async def mark(self, conversation_id: int, user_id: int, kind: ReceiptKind, message_id: int) -> bool:
        # Reading implies delivery: a read mark moves the delivered mark too.
        column = "last_delivered_id" if kind == "delivered" else "last_read_id"

        async def update(conn: Conn) -> bool:
            await _require_member(conn, conversation_id, user_id)
            exists = await fetch_one(
                conn,
                "SELECT 1 FROM messages WHERE id = %s AND conversation_id = %s",
                (message_id, conversation_id),
            )
            if exists is None:
                raise NotFound(f"message {message_id}")
            extra = ", last_delivered_id = greatest(last_delivered_id, %(m)s)" if kind == "read" else ""
            cur = await conn.execute(
                f"UPDATE conversation_members SET {column} = %(m)s{extra}"
                f" WHERE conversation_id = %(c)s AND user_id = %(u)s AND {column} < %(m)s",
                {"m": message_id, "c": conversation_id, "u": user_id},
            )
            return cur.rowcount > 0

        return await self._db.run(update)


async def _require_member(conn: Conn, conversation_id: int, user_id: int) -> None:
    row = await fetch_one(
        conn,
        "SELECT 1 FROM conversation_members WHERE conversation_id = %s AND user_id = %s",
        (conversation_id, user_id),
    )
    if row is None:
        raise NotFound(f"conversation {conversation_id}")  # not a member: as if it did not exist


async def _conversation(conn: Conn, conversation_id: int, user_id: int) -> Conversation:
    row = await fetch_one(
        conn,
        f"{_CONVERSATION} JOIN conversation_members me ON me.conversation_id = c.id AND me.user_id = %s"
        " WHERE c.id = %s",
        (user_id, conversation_id),
    )
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return _to_conversation(row)


def _to_conversation(row: tuple[Any, ...]) -> Conversation:
    conversation_id, kind, title, created_by, created_at, members = row
    return Conversation(conversation_id, kind, title, created_by, created_at, tuple(members))
