"""PostgreSQL implementation of :class:`stores.users.UserStore`."""

from __future__ import annotations

from typing import TypeVar

from psycopg.rows import class_row

from stores.postgres.database import Conn, Database, fetch_all, fetch_one
from stores.users import TokenRecord, User, normalize_username

R = TypeVar("R")

_USER_COLUMNS = "id, username, display_name, password_hash, created_at"


class PostgresUserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_user(self, username: str, display_name: str, password_hash: str) -> User:
        name = normalize_username(username)

        async def insert(conn: Conn) -> User:
            cur = conn.cursor(row_factory=class_row(User))
            await cur.execute(
                f"INSERT INTO users (username, display_name, password_hash) VALUES (%s, %s, %s)"
                f" RETURNING {_USER_COLUMNS}",
                (name, display_name, password_hash),
            )
            return _one(await cur.fetchone())

        return await self._db.run(insert)

    async def get_user(self, user_id: int) -> User | None:
        return await self._fetch_user("id = %s", user_id)

    async def get_user_by_username(self, username: str) -> User | None:
        try:
            name = normalize_username(username)
        except ValueError:
            return None
        return await self._fetch_user("username = %s", name)

    async def _fetch_user(self, where: str, value: object) -> User | None:
        async def select(conn: Conn) -> User | None:
            cur = conn.cursor(row_factory=class_row(User))
            await cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE {where}", (value,))
            return await cur.fetchone()

        return await self._db.query(select)

    async def is_moderator(self, user_id: int) -> bool:
        row = await self._db.query(
            lambda conn: fetch_one(conn, "SELECT moderator FROM users WHERE id = %s", (user_id,))
        )
        return row is not None and bool(row[0])

    async def set_moderator(self, user_id: int, moderator: bool) -> bool:
        async def update(conn: Conn) -> bool:
            cur = await conn.execute(
                "UPDATE users SET moderator = %s WHERE id = %s AND moderator <> %s",
                (moderator, user_id, moderator),
            )
            return cur.rowcount > 0

        return await self._db.run(update)

    async def create_token(self, user_id: int, token_hash: bytes, expires_at: float) -> int:
        async def insert(conn: Conn) -> int:
            row = await fetch_one(
                conn,
                "INSERT INTO auth_tokens (user_id, token_hash, expires_at)"
                " VALUES (%s, %s, to_timestamp(%s)) RETURNING id",
                (user_id, token_hash, expires_at),
            )
            return _one(row)[0]

        return await self._db.run(insert)

    async def get_token(self, token_hash: bytes) -> TokenRecord | None:
        async def select(conn: Conn) -> TokenRecord | None:
            cur = conn.cursor(row_factory=class_row(TokenRecord))
            await cur.execute(
                "SELECT id, user_id, extract(epoch FROM expires_at)::float8 AS expires_at,"
                " revoked_at IS NOT NULL AS revoked FROM auth_tokens WHERE token_hash = %s",
                (token_hash,),
            )
            return await cur.fetchone()

        return await self._db.query(select)

    async def revoke_token(self, token_hash: bytes) -> int:
        async def update(conn: Conn) -> int:
            cur = await conn.execute(
                "UPDATE auth_tokens SET revoked_at = now() WHERE token_hash = %s AND revoked_at IS NULL",
                (token_hash,),
            )
            return cur.rowcount

        return await self._db.run(update)

    async def revoke_user_tokens(self, user_id: int) -> list[int]:
        async def update(conn: Conn) -> list[int]:
            rows = await fetch_all(
                conn,
                "UPDATE auth_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL"
                " RETURNING id",
                (user_id,),
            )
            return sorted(row[0] for row in rows)

        return await self._db.run(update)


def _one(row: R | None) -> R:
    """INSERT ... RETURNING always yields a row; this narrows the type for the checker."""
    assert row is not None
    return row
