"""Client keys (idempotency keys) in PostgreSQL: the ``client_keys`` table (migration 0009).

A store creates an object under a key with :func:`once`, inside the transaction that creates the
object: it claims the key first and records the object's id once it exists. Claiming first matters: the claim
inserts the key's row, so a second request with the same key, at the same instant on another
socket, waits on that row until the first commits, then finds the first's object — one object,
whatever the timing. If the first transaction rolls back (its post named a missing reply, say),
its claim goes with it and the waiting request creates the object itself.

Only the claim may wait on a lock, and it comes first, before the transaction holds anything; the
sweep of expired keys that follows it skips locked rows. So keys add no deadlock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar

from kernel.errors import Conflict
from protocol.client_keys import CLIENT_KEY_TTL_S
from stores.postgres.database import Conn, fetch_one


class _Created(Protocol):
    @property
    def id(self) -> int: ...


C = TypeVar("C", bound=_Created)
KeyKind = Literal["post", "comment", "message"]
"""What a key creates; keys of different kinds never meet (a post and a DM may share a key)."""
SWEEP_BATCH = 8
"""Expired keys each claim deletes: more than the one row a claim adds, so they never pile up."""

_CLAIM = (
    "INSERT INTO client_keys AS k (user_id, kind, key, fingerprint) VALUES (%(user)s, %(kind)s, %(key)s, %(fp)s)"
    " ON CONFLICT (user_id, kind, key) DO UPDATE SET fingerprint = excluded.fingerprint, object_id = NULL,"
    "  created_at = now() WHERE k.created_at < now() - make_interval(secs => %(ttl)s)"
    " RETURNING 1"
)
"""Insert the key's row, or take over an expired one; a row only when the key is now ours."""
_SWEEP = (
    "DELETE FROM client_keys WHERE (user_id, kind, key) IN ("
    "  SELECT user_id, kind, key FROM client_keys WHERE created_at < now() - make_interval(secs => %(ttl)s)"
    "  ORDER BY created_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)"
)


async def once(
    conn: Conn,
    user_id: int,
    kind: KeyKind,
    key: str | None,
    request: object,
    create: Callable[[Conn], Awaitable[C]],
    find: Callable[[Conn, int], Awaitable[C]],
) -> C:
    """``create(conn)`` the object, or ``find(conn, id)`` the one an earlier try created under
    ``key`` (see :func:`_claim`); without a key, just create it."""
    if key is None:
        return await create(conn)
    existing = await _claim(conn, user_id, kind, key, request)
    if existing is not None:
        return await find(conn, existing)
    created = await create(conn)
    await _record(conn, user_id, kind, key, created.id)
    return created


async def _claim(conn: Conn, user_id: int, kind: KeyKind, key: str, request: object) -> int | None:
    """Claim ``key`` for a new object: None when the caller is to create it (then :func:`_record`
    it), or the id of the object a live key already names.

    ``request`` is the request's content (JSON-able); a key reused with other content raises
    ``Conflict``: it is a client bug, and answering with the first object would report the new
    content as published when it was not.
    """
    fingerprint = hashlib.sha256(json.dumps(request, separators=(",", ":")).encode()).digest()
    params = {"user": user_id, "kind": kind, "key": key, "fp": fingerprint, "ttl": CLIENT_KEY_TTL_S}
    claimed = await fetch_one(conn, _CLAIM, params) is not None
    await conn.execute(_SWEEP, {"ttl": CLIENT_KEY_TTL_S, "batch": SWEEP_BATCH})
    if claimed:
        return None
    row = await fetch_one(
        conn,
        "SELECT fingerprint, object_id FROM client_keys WHERE user_id = %s AND kind = %s AND key = %s",
        (user_id, kind, key),
    )
    assert row is not None and row[1] is not None, "a live key names the object of a committed claim"
    if bytes(row[0]) != fingerprint:
        raise Conflict("client_keys", f"client_key {key!r} was used for another {kind}")
    object_id: int = row[1]
    return object_id


async def _record(conn: Conn, user_id: int, kind: KeyKind, key: str, object_id: int) -> None:
    """Name the object created under the key this transaction claimed."""
    await conn.execute(
        "UPDATE client_keys SET object_id = %s WHERE user_id = %s AND kind = %s AND key = %s",
        (object_id, user_id, kind, key),
    )
