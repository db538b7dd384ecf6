"""Create load-test users, their follow graph and their tokens straight in the server's PostgreSQL.

Why not through the protocol: ``auth.register`` hashes a password with argon2 (about 8 a second on
a 2-core box, by design), so a thousand users would take two minutes before the first operation.
What a load test measures starts after sign-in, so bulk SQL is enough as long as it leaves the
database as the server's own code would: every user has a real argon2 hash (one, computed once and
shared), ``follows`` rows go with exact ``follower_count`` / ``following_count`` columns (the server
reads those counters, e.g. for the big-account rule), and tokens are stored only as their SHA-256
in ``auth_tokens`` as :mod:`services.accounts` does, so ``auth.resume`` accepts them.

Seeding is idempotent (users are kept between runs); only tokens are new each run: the old ones of
the seeded users are deleted first, so no secret outlives its run.
"""

from __future__ import annotations

import random
import secrets
import warnings
from pathlib import Path

import psycopg
from argon2 import PasswordHasher

from services.accounts import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST, hash_token

PASSWORD = "viora-load-password"
TOKEN_TTL = "365 days"


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


def ensure_users(conn: psycopg.Connection, names: list[str]) -> list[int]:
    """Create the accounts ``names`` that do not exist yet; their ids, in the same order."""
    password_hash = PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    ).hash(PASSWORD)
    conn.execute(
        "INSERT INTO users (username, display_name, password_hash)"
        " SELECT name, name, %s FROM unnest(%s::text[]) AS name"
        " ON CONFLICT (username) DO NOTHING",
        (password_hash, names),
    )
    rows = conn.execute(
        "SELECT u.id FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, i)"
        " JOIN users u ON u.username = n.name ORDER BY n.i",
        (names,),
    ).fetchall()
    if len(rows) != len(names):
        raise RuntimeError(f"expected {len(names)} users, found {len(rows)}")
    return [row[0] for row in rows]


def refresh_follow_counts(conn: psycopg.Connection, user_ids: list[int]) -> None:
    """Recount the follower / following columns of ``user_ids`` from the ``follows`` rows."""
    conn.execute(
        "UPDATE users u SET"
        " follower_count = (SELECT count(*) FROM follows WHERE followee_id = u.id),"
        " following_count = (SELECT count(*) FROM follows WHERE follower_id = u.id)"
        " WHERE u.id = ANY(%s)",
        (user_ids,),
    )


def issue_tokens(
    conn: psycopg.Connection, user_ids: list[int], revoke: list[int] | None = None
) -> dict[int, str]:
    """Revoke every token of ``revoke`` (default: ``user_ids``) and give each of ``user_ids`` a
    fresh one (only its hash is stored)."""
    tokens = {uid: secrets.token_urlsafe(32) for uid in user_ids}
    conn.execute("DELETE FROM auth_tokens WHERE user_id = ANY(%s)", (revoke or user_ids,))
    conn.execute(
        "INSERT INTO auth_tokens (user_id, token_hash, expires_at)"
        f" SELECT u, h, now() + interval '{TOKEN_TTL}' FROM unnest(%s::bigint[], %s::bytea[]) AS t(u, h)",
        (list(tokens), [hash_token(t) for t in tokens.values()]),
    )
    return tokens


def seed_population(
    dsn: str, prefix: str, users: int, follows_each: int, rng_seed: int = 1
) -> dict[int, str]:
    """``users`` accounts named ``<prefix>u<n>``, each following ``follows_each`` others picked at
    random (the same graph for the same seed), with fresh tokens: ``{user_id: token}``."""
    names = [f"{prefix}u{n:06d}" for n in range(users)]
    rng = random.Random(rng_seed)
    with psycopg.connect(dsn) as conn:
        ids = ensure_users(conn, names)
        followers: list[int] = []
        followees: list[int] = []
        for uid in ids:
            picked = [other for other in rng.sample(ids, min(follows_each + 1, len(ids))) if other != uid]
            followers += [uid] * len(picked[:follows_each])
            followees += picked[:follows_each]
        conn.execute("DELETE FROM follows WHERE follower_id = ANY(%s)", (ids,))
        conn.execute(
            "INSERT INTO follows (follower_id, followee_id)"
            " SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
            (followers, followees),
        )
        refresh_follow_counts(conn, ids)
        return issue_tokens(conn, ids)
