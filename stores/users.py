"""The accounts role: users and their bearer tokens, independent of any backend.

Tokens are handled by hash only: callers pass ``sha256(token)`` and the store never sees the
raw token, so nothing it keeps (or logs) can be replayed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

_USERNAME = re.compile(r"[a-z0-9_]{3,32}")


def normalize_username(username: str) -> str:
    """Lowercase ``username`` and check its charset; raises ValueError if it is not allowed.

    Usernames are stored lowercased, which is what makes their uniqueness case-insensitive.
    """
    name = username.lower()
    if _USERNAME.fullmatch(name) is None:
        raise ValueError("a username is 3 to 32 characters from a-z, 0-9 and _")
    return name


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    id: int
    user_id: int
    expires_at: float
    """Unix time, to compare with ``time.time()`` without time-zone handling."""
    revoked: bool


class UserStore(Protocol):
    async def create_user(self, username: str, display_name: str, password_hash: str) -> User:
        """Create a user. Raises Conflict if the username (case-insensitively) is taken, and
        ValueError if it is not a valid username."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def get_user_by_username(self, username: str) -> User | None:
        """Case-insensitive lookup; an invalid username simply finds nobody."""
        ...

    async def is_moderator(self, user_id: int) -> bool:
        """Whether the account holds moderation rights (False for an unknown account)."""
        ...

    async def set_moderator(self, user_id: int, moderator: bool) -> bool:
        """Grant or revoke moderation rights; True if that changed them."""
        ...

    async def create_token(self, user_id: int, token_hash: bytes, expires_at: float) -> int:
        """Record a token (by hash) valid until ``expires_at`` (unix time); returns its id."""
        ...

    async def get_token(self, token_hash: bytes) -> TokenRecord | None:
        """The token's record, expired or revoked ones included: the caller decides validity."""
        ...

    async def revoke_token(self, token_hash: bytes) -> int:
        """Revoke one token; returns how many rows were revoked (0 if unknown or already revoked)."""
        ...

    async def revoke_user_tokens(self, user_id: int) -> list[int]:
        """Revoke every live token of a user; returns their ids (e.g. to close their sockets)."""
        ...
