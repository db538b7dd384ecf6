"""The UserStore contract, run against every PostgreSQL implementation."""

from __future__ import annotations

import hashlib
import time
import uuid

import psycopg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kernel.errors import Conflict
from stores.postgres.users import PostgresUserStore
from stores.users import normalize_username


def _username() -> str:
    return f"u_{uuid.uuid4().hex[:16]}"


def _token_hash() -> bytes:
    return hashlib.sha256(uuid.uuid4().bytes).digest()


async def test_create_and_get_user(user_store: PostgresUserStore) -> None:
    name = _username()
    user = await user_store.create_user(name.upper(), "Alice A.", "argon2-hash")

    assert user.username == name
    assert (user.display_name, user.password_hash) == ("Alice A.", "argon2-hash")
    assert user.created_at.tzinfo is not None
    assert await user_store.get_user(user.id) == user
    assert await user_store.get_user_by_username(name.upper()) == user
    assert await user_store.get_user(-1) is None
    assert await user_store.get_user_by_username(_username()) is None
    assert await user_store.get_user_by_username("no spaces allowed") is None


async def test_usernames_are_unique_case_insensitively(user_store: PostgresUserStore) -> None:
    name = _username()
    await user_store.create_user(name, "first", "h")
    with pytest.raises(Conflict) as caught:
        await user_store.create_user(name.upper(), "second", "h")
    assert caught.value.constraint == "users_username_key"


async def test_invalid_usernames_are_rejected_before_the_database(user_store: PostgresUserStore) -> None:
    for bad in ["ab", "x" * 33, "has space", "dash-ed", "émile"]:
        with pytest.raises(ValueError):
            await user_store.create_user(bad, "d", "h")


@settings(max_examples=150, deadline=None)
@example("Valid_Name_42")
@example("\u212aelvin")  # KELVIN SIGN lowercases to ASCII "k"
@given(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40))
def test_python_and_sql_username_rules_agree(pg_dsn: str, candidate: str) -> None:
    """normalize_username accepts exactly what the table's check constraint accepts."""
    try:
        name = normalize_username(candidate)
    except ValueError:
        name = candidate.lower()
        python_accepts = False
    else:
        python_accepts = True
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT %s::text ~ '^[a-z0-9_]{3,32}$'", (name,)).fetchone()
    assert row == (python_accepts,)


async def test_token_lifecycle(user_store: PostgresUserStore) -> None:
    user = await user_store.create_user(_username(), "t", "h")
    token_hash = _token_hash()
    expires_at = time.time() + 3600

    token_id = await user_store.create_token(user.id, token_hash, expires_at)
    record = await user_store.get_token(token_hash)
    assert record is not None
    assert (record.id, record.user_id, record.revoked) == (token_id, user.id, False)
    assert record.expires_at == pytest.approx(expires_at, abs=1e-3)

    assert await user_store.revoke_token(token_hash) == 1
    assert await user_store.revoke_token(token_hash) == 0
    revoked = await user_store.get_token(token_hash)
    assert revoked is not None and revoked.revoked

    assert await user_store.get_token(_token_hash()) is None
    assert await user_store.revoke_token(_token_hash()) == 0


async def test_token_hashes_are_unique(user_store: PostgresUserStore) -> None:
    user = await user_store.create_user(_username(), "t", "h")
    token_hash = _token_hash()
    await user_store.create_token(user.id, token_hash, time.time() + 60)
    with pytest.raises(Conflict):
        await user_store.create_token(user.id, token_hash, time.time() + 60)


async def test_revoke_all_tokens_of_a_user(user_store: PostgresUserStore) -> None:
    user = await user_store.create_user(_username(), "t", "h")
    other = await user_store.create_user(_username(), "o", "h")
    hashes = [_token_hash() for _ in range(3)]
    ids = [await user_store.create_token(user.id, h, time.time() + 60) for h in hashes]
    kept = await user_store.create_token(other.id, _token_hash(), time.time() + 60)
    await user_store.revoke_token(hashes[0])

    assert await user_store.revoke_user_tokens(user.id) == ids[1:]
    assert await user_store.revoke_user_tokens(user.id) == []
    assert await user_store.revoke_user_tokens(other.id) == [kept]


async def test_deleting_a_user_deletes_their_tokens(user_store: PostgresUserStore, pg_dsn: str) -> None:
    user = await user_store.create_user(_username(), "t", "h")
    token_hash = _token_hash()
    await user_store.create_token(user.id, token_hash, time.time() + 60)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (user.id,))
    assert await user_store.get_token(token_hash) is None
