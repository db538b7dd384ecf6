"""The fan-out ledger: a post is pending until done; stuck ones are claimed once per lease."""

from __future__ import annotations

import uuid

from stores.postgres.database import Database
from stores.postgres.fanout import PostgresFanoutLedger
from stores.postgres.social import PostgresSocialStore
from stores.postgres.users import PostgresUserStore


async def test_pending_posts_are_claimed_once_per_lease_until_done(
    db: Database, social_store: PostgresSocialStore, user_store: PostgresUserStore
) -> None:
    ledger = PostgresFanoutLedger(db)
    author = (await user_store.create_user(f"f_{uuid.uuid4().hex[:12]}", "Author", "h")).id
    post = await social_store.create_post(author, "lost in a crash", (), None)

    async def claim(older_than_s: float = 0.0, lease_s: float = 60.0) -> list[int]:
        return await ledger.claim_stuck(older_than_s=older_than_s, lease_s=lease_s, limit=1000)

    assert post.id not in await claim(older_than_s=3600), "a young post may still be on its way"
    assert post.id in await claim()
    assert post.id not in await claim(), "claimed: another process's sweep leaves it alone"
    assert post.id in await claim(lease_s=0), "the claim lapsed: its sweeper died"
    await ledger.done(post.id)
    assert post.id not in await claim(lease_s=0)

    deleted = await social_store.create_post(author, "gone", (), None)
    await social_store.delete_post(deleted.id, author)
    assert deleted.id not in await claim(lease_s=0), "a deleted post is never fanned out"
