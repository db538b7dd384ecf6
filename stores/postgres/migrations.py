"""Versioned schema migrations: ``migrations/NNNN_name.sql``, applied in order, each exactly once.

Each file runs in its own transaction together with its row in ``schema_migrations``, so a
failed migration leaves no trace and is retried at the next start. Every such transaction first
takes a cluster-wide advisory lock: two servers starting at once queue up instead of both
applying the same file (the loser then sees the version recorded and skips it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")

MIGRATION_LOCK_KEY = 0x5649_4F52_415F_4D47  # "VIORA_MG": an arbitrary cluster-wide lock id

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Read the migration files shipped as package data, sorted by version.

    Read through ``importlib.resources`` so they are found in a wheel or zip as well as in a
    source checkout.
    """
    found: dict[int, Migration] = {}
    for entry in (resources.files("stores.postgres") / "migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations share version {version}: {found[version].name}, {entry.name}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def apply_migrations(conn: psycopg.AsyncConnection[Any], migrations: list[Migration] | None = None) -> list[int]:
    """Apply the pending migrations over ``conn``; returns the versions this call applied.

    ``conn`` must be in autocommit mode (no transaction open): each migration brings its own.
    The table is created under the lock too, because concurrent ``CREATE TABLE IF NOT EXISTS``
    can still collide in the catalog.
    """
    applied: list[int] = []
    for migration in load_migrations() if migrations is None else migrations:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            await conn.execute(_CREATE_TABLE)
            done = await (
                await conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,))
            ).fetchone()
            if done is not None:
                continue
            # As bytes: psycopg types queries as literal strings, and this one comes from a file.
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied
