"""Seed the fan-out benchmark's users, follows and tokens straight into the server's PostgreSQL.

Why SQL and not the protocol, and how it leaves the database as the server's own code would: see
:mod:`viora.load.seed`, whose helpers this uses. Seeding is idempotent (the data dir and its users
are kept between runs); only tokens are new each run.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from viora.load.seed import embedded_dsn, ensure_users, issue_tokens, refresh_follow_counts

__all__ = ["Seeded", "embedded_dsn", "seed"]


@dataclass(frozen=True)
class Seeded:
    """Who takes part in a run: the author, every follower id, and tokens for those online."""

    author_id: int
    author_token: str
    follower_ids: list[int]
    online: list[tuple[int, str]]
    """``(user_id, token)`` of the followers that connect."""


def username(prefix: str, n: int) -> str:
    return f"{prefix}f{n:06d}"


def seed(dsn: str, prefix: str, followers: int, online: int) -> Seeded:
    """Make ``followers`` users follow ``<prefix>author`` and issue tokens to ``online`` of them.

    The online followers are spread evenly over the follower ids, so the server's delivery loop
    (which walks the targets in id order) meets them throughout, as it would in real life.
    """
    if online > followers:
        raise ValueError("cannot have more online followers than followers")
    names = [username(prefix, n) for n in range(followers)]
    author = f"{prefix}author"
    with psycopg.connect(dsn) as conn:
        author_id, *follower_ids = ensure_users(conn, [author, *names])
        # Exactly these followers: a smaller --followers than last run must shrink the audience.
        conn.execute(
            "DELETE FROM follows WHERE followee_id = %s AND NOT (follower_id = ANY(%s))",
            (author_id, follower_ids),
        )
        conn.execute(
            "INSERT INTO follows (follower_id, followee_id) SELECT f, %s FROM unnest(%s::bigint[]) AS f"
            " ON CONFLICT DO NOTHING",
            (author_id, follower_ids),
        )
        everyone = [author_id, *follower_ids]
        refresh_follow_counts(conn, everyone)
        online_ids = [follower_ids[i * followers // online] for i in range(online)] if online else []
        tokens = issue_tokens(conn, [author_id, *online_ids], revoke=everyone)
    return Seeded(author_id, tokens[author_id], follower_ids, [(uid, tokens[uid]) for uid in online_ids])

