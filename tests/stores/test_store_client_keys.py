"""Client keys (idempotency keys) in the social and message stores, on every PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
import trio

from kernel.errors import Conflict, Invalid, NotFound
from protocol.client_keys import CLIENT_KEY_TTL_S
from stores.postgres.client_keys import SWEEP_BATCH
from stores.postgres.database import Conn, Database, fetch_one
from stores.postgres.messaging import PostgresMessageStore
from stores.postgres.social import PostgresSocialStore

NewUsers = Callable[[int], Awaitable[list[int]]]
"""The ``new_users`` fixture (tests/stores/conftest.py): ``await new_users(n)`` makes n accounts."""


@pytest.fixture
def message_store(db: Database) -> PostgresMessageStore:
    return PostgresMessageStore(db)


def key() -> str:
    return str(uuid.uuid4())


async def _scalar(db: Database, sql: str, *params: object) -> int:
    row = await db.query(lambda conn: fetch_one(conn, sql, params))
    assert row is not None
    value: int = row[0]
    return value


async def _age_keys(db: Database, user_id: int, seconds: float) -> None:
    """Make ``user_id``'s keys look ``seconds`` old."""

    async def update(conn: Conn) -> None:
        await conn.execute(
            "UPDATE client_keys SET created_at = now() - make_interval(secs => %s) WHERE user_id = %s",
            (seconds, user_id),
        )

    await db.run(update)


async def test_a_retried_post_returns_the_first_post_and_creates_nothing(
    social_store: PostgresSocialStore, new_users: NewUsers, db: Database
) -> None:
    (alice,) = await new_users(1)
    k = key()
    first = await social_store.create_post(alice, "hello", (), None, client_key=k)
    again = await social_store.create_post(alice, "hello", (), None, client_key=k)
    assert not first.replayed and again.replayed
    assert again == first, "the same post: same id, text and time"
    assert [p.id for p in await social_store.posts_by([alice])] == [first.id]
    assert await _scalar(db, "SELECT post_count FROM users WHERE id = %s", alice) == 1
    other = await social_store.create_post(alice, "hello", (), None, client_key=key())
    plain = await social_store.create_post(alice, "hello", (), None)
    assert len({first.id, other.id, plain.id}) == 3, "a fresh key, or none, is a new post"


async def test_keys_are_per_user_and_per_kind(
    social_store: PostgresSocialStore, message_store: PostgresMessageStore, new_users: NewUsers
) -> None:
    alice, bob = await new_users(2)
    k = key()
    hers = await social_store.create_post(alice, "same words", (), None, client_key=k)
    his = await social_store.create_post(bob, "same words", (), None, client_key=k)
    assert hers.id != his.id and not his.replayed
    comment = await social_store.add_comment(hers.id, alice, "same words", None, client_key=k)
    conversation = await message_store.open_direct(alice, bob)
    message = await message_store.add_message(conversation.id, alice, "same words", client_key=k)
    assert not comment.replayed and not message.replayed


async def test_a_key_reused_for_other_content_is_a_conflict(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    (alice,) = await new_users(1)
    k = key()
    first = await social_store.create_post(alice, "draft one", (), None, client_key=k)
    reply = await social_store.create_post(alice, "an answer", (), first.id, client_key=key())
    for text, reply_to in (("draft two", None), ("draft one", reply.id)):
        with pytest.raises(Conflict):
            await social_store.create_post(alice, text, (), reply_to, client_key=k)
    assert [p.id for p in await social_store.posts_by([alice])] == [reply.id, first.id]


async def test_same_key_at_the_same_instant_creates_one_post(
    social_store: PostgresSocialStore, new_users: NewUsers, db: Database
) -> None:
    (alice,) = await new_users(1)
    k = key()
    posts = []

    async def post() -> None:
        posts.append(await social_store.create_post(alice, "once", (), None, client_key=k))

    async with trio.open_nursery() as nursery:
        for _ in range(8):  # more than the pool's connections: some wait on the claim, some queue
            nursery.start_soon(post)
    assert len({p.id for p in posts}) == 1
    assert sum(not p.replayed for p in posts) == 1, "exactly one call created it"
    assert await _scalar(db, "SELECT count(*) FROM posts WHERE author_id = %s", alice) == 1


async def test_same_key_at_the_same_instant_creates_one_message_and_one_comment(
    social_store: PostgresSocialStore,
    message_store: PostgresMessageStore,
    new_users: NewUsers,
    db: Database,
) -> None:
    alice, bob = await new_users(2)
    conversation = await message_store.open_direct(alice, bob)
    post = await social_store.create_post(alice, "discuss", (), None)
    k = key()
    created: list[tuple[str, int, bool]] = []

    async def send() -> None:
        message = await message_store.add_message(conversation.id, bob, "hi", client_key=k)
        created.append(("message", message.id, message.replayed))

    async def comment() -> None:
        made = await social_store.add_comment(post.id, bob, "nice", None, client_key=k)
        created.append(("comment", made.id, made.replayed))

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(send)
            nursery.start_soon(comment)
    for kind in ("message", "comment"):
        mine = [(object_id, replayed) for made, object_id, replayed in created if made == kind]
        assert len({object_id for object_id, _ in mine}) == 1 and sum(not r for _, r in mine) == 1
    assert len(await message_store.history(conversation.id, alice)) == 1
    assert len(await social_store.comments(post.id)) == 1
    assert await _scalar(db, "SELECT comment_count FROM posts WHERE id = %s", post.id) == 1


async def test_a_retried_comment_and_message_return_the_first(
    social_store: PostgresSocialStore, message_store: PostgresMessageStore, new_users: NewUsers
) -> None:
    alice, bob = await new_users(2)
    post = await social_store.create_post(alice, "discuss", (), None)
    k = key()
    comment = await social_store.add_comment(post.id, bob, "first!", None, client_key=k)
    assert await social_store.add_comment(post.id, bob, "first!", None, client_key=k) == comment
    with pytest.raises(Conflict):
        await social_store.add_comment(post.id, bob, "second!", None, client_key=k)
    conversation = await message_store.open_direct(alice, bob)
    message = await message_store.add_message(conversation.id, alice, "hi", client_key=k)
    again = await message_store.add_message(conversation.id, alice, "hi", client_key=k)
    assert (again, again.replayed) == (message, True)
    with pytest.raises(Conflict):
        await message_store.add_message(conversation.id, alice, "hi, again", client_key=k)
    assert [m.id for m in await message_store.history(conversation.id, bob)] == [message.id]


async def test_a_failed_try_leaves_the_key_free(
    social_store: PostgresSocialStore, message_store: PostgresMessageStore, new_users: NewUsers
) -> None:
    alice, bob, carol = await new_users(3)
    k = key()
    with pytest.raises(NotFound):
        await social_store.create_post(alice, "answer", (), -1, client_key=k)
    assert not (await social_store.create_post(alice, "answer", (), None, client_key=k)).replayed
    conversation = await message_store.open_direct(alice, bob)
    with pytest.raises(NotFound):  # carol is no member: her claim rolls back with the refusal
        await message_store.add_message(conversation.id, carol, "let me in", client_key=k)
    assert await message_store.history(conversation.id, alice) == []


async def test_a_deleted_post_is_not_returned_to_a_retry(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    (alice,) = await new_users(1)
    k = key()
    post = await social_store.create_post(alice, "regret", (), None, client_key=k)
    await social_store.delete_post(post.id, alice)
    with pytest.raises(NotFound):
        await social_store.create_post(alice, "regret", (), None, client_key=k)
    assert await social_store.posts_by([alice]) == []


async def test_keys_expire_and_expired_keys_are_swept(
    social_store: PostgresSocialStore, new_users: NewUsers, db: Database
) -> None:
    alice, bob = await new_users(2)
    k = key()
    old = await social_store.create_post(alice, "yesterday", (), None, client_key=k)
    await _age_keys(db, alice, CLIENT_KEY_TTL_S - 60)
    assert (await social_store.create_post(alice, "yesterday", (), None, client_key=k)).replayed
    await _age_keys(db, alice, CLIENT_KEY_TTL_S + 60)
    new = await social_store.create_post(alice, "today, other words", (), None, client_key=k)
    assert new.id != old.id and not new.replayed, "an expired key is free again, whatever the content"
    assert (await social_store.create_post(alice, "today, other words", (), None, client_key=k)) == new

    for _ in range(SWEEP_BATCH + 2):
        await social_store.create_post(bob, "filler", (), None, client_key=key())
    await _age_keys(db, bob, CLIENT_KEY_TTL_S + 60)
    await social_store.create_post(alice, "one more", (), None, client_key=key())
    expired = "SELECT count(*) FROM client_keys WHERE user_id = %s"
    assert await _scalar(db, expired, bob) == 2, "each claim deletes a batch of expired keys"
    await social_store.create_post(alice, "and another", (), None, client_key=key())
    assert await _scalar(db, expired, bob) == 0


async def test_a_key_outside_the_charset_is_invalid(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    (alice,) = await new_users(1)
    for bad in ("", "x" * 65, "spaces are not keys", "é"):
        with pytest.raises(Invalid):
            await social_store.create_post(alice, "hello", (), None, client_key=bad)
    assert await social_store.posts_by([alice]) == []
