"""The SocialStore contract, run against every PostgreSQL implementation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
import trio

from kernel.errors import Blocked, Forbidden, Invalid, NotFound
from stores.postgres.database import Conn, Database, fetch_one
from stores.postgres.social import PostgresSocialStore
from stores.social import Profile

NewUsers = Callable[[int], Awaitable[list[int]]]
"""The ``new_users`` fixture (tests/stores/conftest.py): ``await new_users(n)`` makes n accounts."""


async def media_of(
    db: Database, owner_id: int, n: int = 1, *, state: str = "ready", kind: str = "image"
) -> list[int]:
    """Media rows as the media pipeline leaves them (the pipeline itself is tested elsewhere)."""

    async def insert(conn: Conn) -> list[int]:
        return [
            (
                await fetch_one(
                    conn,
                    "INSERT INTO media (owner_id, kind, original_key, original_bytes, state)"
                    " VALUES (%s, %s, %s, 1, %s) RETURNING id",
                    (owner_id, kind, uuid.uuid4().hex, state),
                )
            )[0]
            for _ in range(n)
        ]

    return await db.run(insert)


async def _profile(store: PostgresSocialStore, user_id: int) -> Profile:
    profile = await store.get_profile(user_id)
    assert profile is not None
    return profile


async def test_profile_update_changes_only_given_fields(
    social_store: PostgresSocialStore, new_users: NewUsers, db: Database
) -> None:
    (alice,) = await new_users(1)
    (avatar,) = await media_of(db, alice)
    fresh = await _profile(social_store, alice)
    assert (fresh.bio, fresh.avatar_media_id, fresh.followers, fresh.following, fresh.posts) == (
        "",
        None,
        0,
        0,
        0,
    )

    updated = await social_store.update_profile(alice, bio="hello", avatar_media_id=avatar)
    assert (updated.display_name, updated.bio, updated.avatar_media_id) == ("Someone", "hello", avatar)
    updated = await social_store.update_profile(alice, display_name="Alice")
    assert (updated.display_name, updated.bio, updated.avatar_media_id) == ("Alice", "hello", avatar)
    assert await social_store.get_profile(alice) == updated

    with pytest.raises(ValueError):
        await social_store.update_profile(alice, bio="x" * 501)
    with pytest.raises(NotFound):
        await social_store.update_profile(-1, bio="ghost")
    assert await social_store.get_profile(-1) is None


async def test_follow_unfollow_and_counters(social_store: PostgresSocialStore, new_users: NewUsers) -> None:
    alice, bob = await new_users(2)
    assert await social_store.follow(alice, bob) is True
    assert await social_store.follow(alice, bob) is False
    assert (
        (await _profile(social_store, alice)).following,
        (await _profile(social_store, bob)).followers,
    ) == (1, 1)
    assert await social_store.follower_ids(bob) == [alice]
    assert await social_store.followed_among(alice, [bob, alice, -5]) == [bob]

    assert await social_store.unfollow(alice, bob) is True
    assert await social_store.unfollow(alice, bob) is False
    assert (
        (await _profile(social_store, alice)).following,
        (await _profile(social_store, bob)).followers,
    ) == (0, 0)
    assert await social_store.follower_ids(bob) == []

    with pytest.raises(ValueError):
        await social_store.follow(alice, alice)
    with pytest.raises(NotFound):
        await social_store.follow(alice, -1)


async def test_block_removes_follows_both_ways_and_forbids_following(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    alice, bob, carol = await new_users(3)
    await social_store.follow(alice, bob)
    await social_store.follow(bob, alice)
    await social_store.follow(carol, bob)

    assert await social_store.block(bob, alice) is True
    assert await social_store.block(bob, alice) is False
    assert await social_store.follower_ids(bob) == [carol]
    assert await social_store.follower_ids(alice) == []
    assert (await _profile(social_store, bob)).followers == 1
    assert (
        (await _profile(social_store, alice)).followers,
        (await _profile(social_store, alice)).following,
    ) == (0, 0)
    assert await social_store.blocked_between(alice, bob) and await social_store.blocked_between(bob, alice)
    assert await social_store.blocked_set(alice) == {bob}
    assert await social_store.blocked_set(bob) == {alice}

    for follower, followee in [(alice, bob), (bob, alice)]:
        with pytest.raises(Blocked):
            await social_store.follow(follower, followee)

    assert await social_store.unblock(bob, alice) is True
    assert await social_store.unblock(bob, alice) is False
    assert not await social_store.blocked_between(alice, bob)
    assert await social_store.follow(alice, bob) is True


async def test_concurrent_follows_and_block_never_leave_a_follow_across_the_block(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    alice, bob = await new_users(2)
    outcomes: list[str] = []

    async def follow() -> None:
        try:
            await social_store.follow(alice, bob)
            outcomes.append("followed")
        except Blocked:
            outcomes.append("blocked")

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(follow)
        nursery.start_soon(social_store.block, bob, alice)
        for _ in range(3):
            nursery.start_soon(follow)

    assert len(outcomes) == 6
    assert await social_store.follower_ids(bob) == []
    assert (await _profile(social_store, bob)).followers == 0


async def test_follower_pages_have_no_duplicates_or_gaps(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    (star,) = await new_users(1)
    fans = await new_users(7)
    for fan in fans:
        await social_store.follow(fan, star)
        await social_store.follow(star, fan)

    for listing in (social_store.followers, social_store.following):
        seen: list[int] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await listing(star, cursor=cursor, limit=3)
            seen.extend(page.user_ids)
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == 3
        assert seen == list(reversed(fans))  # newest relationship first

    with pytest.raises(ValueError):
        await social_store.followers(star, cursor="not a cursor")


async def test_big_accounts_followed(social_store: PostgresSocialStore, new_users: NewUsers) -> None:
    reader, big, small, *fans = await new_users(5)
    for fan in [reader, *fans]:
        await social_store.follow(fan, big)
    await social_store.follow(reader, small)

    assert await social_store.big_accounts_followed(reader, min_followers=3) == [big]
    assert await social_store.big_accounts_followed(reader, min_followers=1) == sorted([big, small])
    assert await social_store.big_accounts_followed(fans[0], min_followers=4) == []


async def test_posts_create_edit_delete(
    social_store: PostgresSocialStore, new_users: NewUsers, db: Database
) -> None:
    alice, bob = await new_users(2)
    photos = tuple(await media_of(db, alice, 2))
    post = await social_store.create_post(alice, "hello", photos, None)
    assert (post.author_id, post.text, post.media_ids, post.reply_to, post.edited_at) == (
        alice,
        "hello",
        photos,
        None,
        None,
    )
    reply = await social_store.create_post(bob, "hi back", (), post.id)
    assert reply.reply_to == post.id
    assert await social_store.get_posts([post.id, reply.id, -1]) == {post.id: post, reply.id: reply}
    assert (await _profile(social_store, alice)).posts == 1

    with pytest.raises(Forbidden):
        await social_store.edit_post(post.id, bob, "hijacked")
    edited = await social_store.edit_post(post.id, alice, "hello, world")
    assert edited.text == "hello, world" and edited.edited_at is not None
    with pytest.raises(ValueError):
        await social_store.edit_post(reply.id, bob, "")  # no media: a post must say something

    with pytest.raises(Forbidden):
        await social_store.delete_post(post.id, bob)
    await social_store.delete_post(post.id, alice)
    assert await social_store.get_posts([post.id]) == {}
    assert (await _profile(social_store, alice)).posts == 0
    with pytest.raises(NotFound):
        await social_store.delete_post(post.id, alice)
    with pytest.raises(NotFound):
        await social_store.edit_post(post.id, alice, "back?")
    with pytest.raises(NotFound):
        await social_store.create_post(bob, "reply to nothing", (), post.id)
    with pytest.raises(NotFound):
        await social_store.create_post(-1, "no such author", (), None)


async def test_posts_by_pages_newest_first_without_deleted(
    social_store: PostgresSocialStore, new_users: NewUsers
) -> None:
    alice, bob, carol = await new_users(3)
    ids = [
        (await social_store.create_post(author, f"p{i}", (), None)).id
        for i, author in enumerate([alice, bob] * 4)
    ]
    await social_store.create_post(carol, "not asked for", (), None)
    await social_store.delete_post(ids[2], alice)
    expected = [i for i in reversed(ids) if i != ids[2]]

    first = await social_store.posts_by([alice, bob], limit=4)
    second = await social_store.posts_by([alice, bob], before_id=first[-1].id, limit=4)
    assert [p.id for p in first + second] == expected


async def test_likes_count_once(social_store: PostgresSocialStore, new_users: NewUsers) -> None:
    alice, bob, carol = await new_users(3)
    post = await social_store.create_post(alice, "like me", (), None)

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(social_store.like, bob, post.id)
    assert await social_store.like(carol, post.id) is True
    assert await social_store.like(carol, post.id) is False
    assert (await social_store.get_posts([post.id]))[post.id].likes == 2

    assert await social_store.unlike(bob, post.id) is True
    assert await social_store.unlike(bob, post.id) is False
    assert (await social_store.get_posts([post.id]))[post.id].likes == 1

    await social_store.delete_post(post.id, alice)
    with pytest.raises(NotFound):
        await social_store.like(bob, post.id)


async def test_comments_thread_and_page(social_store: PostgresSocialStore, new_users: NewUsers) -> None:
    alice, bob = await new_users(2)
    post = await social_store.create_post(alice, "discuss", (), None)
    other = await social_store.create_post(alice, "elsewhere", (), None)
    top = await social_store.add_comment(post.id, bob, "first", None)
    answer = await social_store.add_comment(post.id, alice, "thanks", top.id)
    rest = [await social_store.add_comment(post.id, bob, f"more {i}", None) for i in range(3)]
    assert (answer.reply_to, answer.post_id, answer.author_id) == (top.id, post.id, alice)

    first = await social_store.comments(post.id, limit=3)
    second = await social_store.comments(post.id, after_id=first[-1].id, limit=3)
    assert first + second == [top, answer, *rest]
    assert (await social_store.get_posts([post.id]))[post.id].comments == 5

    with pytest.raises(NotFound):
        await social_store.add_comment(other.id, bob, "wrong thread", top.id)
    with pytest.raises(NotFound):
        await social_store.add_comment(-1, bob, "nowhere", None)
    with pytest.raises(ValueError):
        await social_store.add_comment(post.id, bob, "", None)

    await social_store.delete_post(post.id, alice)
    assert await social_store.comments(post.id) == []
    with pytest.raises(NotFound):
        await social_store.add_comment(post.id, bob, "too late", None)


async def test_only_the_owner_may_attach_media_and_only_once_it_is_ready(
    social_store: PostgresSocialStore, new_users: NewUsers, db: Database
) -> None:
    alice, mallory = await new_users(2)
    (photo,) = await media_of(db, alice)
    (processing,) = await media_of(db, alice, state="running")
    (clip,) = await media_of(db, alice, kind="video")
    with pytest.raises(NotFound):  # as if it did not exist: ids are sequential
        await social_store.create_post(mallory, "look what I found", (photo,), None)
    with pytest.raises(NotFound):
        await social_store.update_profile(mallory, avatar_media_id=photo)
    with pytest.raises(Invalid, match="running"):
        await social_store.create_post(alice, "too soon", (processing,), None)
    with pytest.raises(Invalid, match="twice"):
        await social_store.create_post(alice, "again", (photo, photo), None)
    with pytest.raises(Invalid, match="video"):
        await social_store.update_profile(alice, avatar_media_id=clip)
    assert (await _profile(social_store, mallory)).posts == 0, "nothing was created"
    assert (await social_store.create_post(alice, "mine", (photo, clip), None)).media_ids == (photo, clip)
