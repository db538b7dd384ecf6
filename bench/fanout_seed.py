"""Seed the fan-out benchmark's users, follows and tokens straight into the server's PostgreSQL.

Why not through the protocol: ``auth.register`` hashes a password with argon2 (about 8 a second on
the 2-core box), so 10,000 followers would take twenty minutes before the first post. What the
benchmark measures starts after sign-in, so bulk SQL is enough as long as it leaves the database
as the server's own code would: every user has a real argon2 hash (one, computed once and shared),
``follows`` rows go with exact ``follower_count`` / ``following_count`` columns (the server reads
those counters, e.g. for the big-account rule), and tokens are stored only as their SHA-256 in
``auth_tokens`` like :mod:`viora.accounts` does, so ``auth.resume`` accepts them.

Seeding is idempotent (the data dir and its users are kept between runs); only tokens are new each
run: the old ones of the benchmark's users are deleted first, so no secret outlives its run.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from argon2 import PasswordHasher

from viora.accounts import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST, hash_token

PASSWORD = "fanout-bench-password"
TOKEN_TTL = "365 days"


@dataclass(frozen=True)
class Seeded:
    """Who takes part in a run: the author, every follower id, and tokens for those online."""

    author_id: int
    author_token: str
    follower_ids: list[int]
    online: list[tuple[int, str]]
    """``(user_id, token)`` of the followers that connect."""


def embedded_dsn(data_dir: Path) -> str:
    """DSN of the embedded PostgreSQL that a ``viora serve`` runs under ``data_dir``.

    Read from ``postmaster.pid`` (as pgserver itself does) rather than built from the path: when
    the data dir's path is too long for a unix socket, the socket lives elsewhere.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
        from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    if info is None:
        raise RuntimeError(f"no running PostgreSQL under {data_dir / 'postgres'}")
    return info.get_uri()


def username(prefix: str, n: int) -> str:
    return f"{prefix}f{n:06d}"


def seed(dsn: str, prefix: str, followers: int, online: int) -> Seeded:
    """Make ``followers`` users follow ``<prefix>author`` and issue tokens to ``online`` of them.

    The online followers are spread evenly over the follower ids, so the server's delivery loop
    (which walks the targets in id order) meets them throughout, as it would in real life.
    """
    if online > followers:
        raise ValueError("cannot have more online followers than followers")
    password_hash = PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    ).hash(PASSWORD)
    names = [username(prefix, n) for n in range(followers)]
    author = f"{prefix}author"
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO users (username, display_name, password_hash)"
            " SELECT name, name, %s FROM unnest(%s::text[]) AS name"
            " ON CONFLICT (username) DO NOTHING",
            (password_hash, [author, *names]),
        )
        author_id = _ids(conn, [author])[0]
        follower_ids = _ids(conn, names)
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
        conn.execute(
            "UPDATE users u SET"
            " follower_count = (SELECT count(*) FROM follows WHERE followee_id = u.id),"
            " following_count = (SELECT count(*) FROM follows WHERE follower_id = u.id)"
            " WHERE u.id = ANY(%s)",
            (everyone,),
        )
        online_ids = [follower_ids[i * followers // online] for i in range(online)] if online else []
        tokens = {uid: secrets.token_urlsafe(32) for uid in [author_id, *online_ids]}
        conn.execute("DELETE FROM auth_tokens WHERE user_id = ANY(%s)", (everyone,))
        conn.execute(
            "INSERT INTO auth_tokens (user_id, token_hash, expires_at)"
            f" SELECT u, h, now() + interval '{TOKEN_TTL}' FROM unnest(%s::bigint[], %s::bytea[]) AS t(u, h)",
            (list(tokens), [hash_token(t) for t in tokens.values()]),
        )
    return Seeded(author_id, tokens[author_id], follower_ids, [(uid, tokens[uid]) for uid in online_ids])


def _ids(conn: psycopg.Connection, names: list[str]) -> list[int]:
    """User ids for ``names``, in the same order."""
    rows = conn.execute(
        "SELECT u.id FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, i)"
        " JOIN users u ON u.username = n.name ORDER BY n.i",
        (names,),
    ).fetchall()
    if len(rows) != len(names):
        raise RuntimeError(f"expected {len(names)} benchmark users, found {len(rows)}")
    return [row[0] for row in rows]
