"""Tables and statements of the Cassandra timeline, as plain CQL text (testable without a server).

``stream_entries`` is partitioned by (user, stream, bucket) with ``bucket = seq // BUCKET_SIZE``
and clustered by ``seq``. A *sequence* bucket rather than a time bucket because every read is a
sequence range ("after 1041", "the 50 before 2000"): the partition holding any ``seq`` is
computed, not looked up, and every partition holds the same number of entries however bursty the
stream — a time bucket would need a seq→time index and would be huge for a celebrity's fan-out
day and near-empty for a quiet user's year.

``stream_heads`` keeps a hint of each stream's last number. It is written ``USING TIMESTAMP seq``
so that, Cassandra keeping the write with the highest timestamp, the hint only ever moves forward
without a lightweight transaction. (Consequently the table must never be written with ordinary
wall-clock timestamps, which would win over every later hint.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

BUCKET_SIZE = 1000
"""Entries per partition: with bodies of a few hundred bytes, partitions of a few hundred KiB."""

DEFAULT_REPLICATION: Mapping[str, str | int] = {"class": "SimpleStrategy", "replication_factor": 1}

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


def bucket_of(seq: int) -> int:
    """The partition bucket of sequence number ``seq``."""
    return seq // BUCKET_SIZE


def last_of_bucket(bucket: int) -> int:
    """The highest sequence number bucket ``bucket`` can hold."""
    return (bucket + 1) * BUCKET_SIZE - 1


def schema(keyspace: str, replication: Mapping[str, str | int] = DEFAULT_REPLICATION) -> list[str]:
    """The statements that create the keyspace and tables if they are missing, in order."""
    ks = _checked(keyspace)
    options = ", ".join(f"'{key}': '{value}'" for key, value in replication.items())
    return [
        f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{{options}}}",
        f"CREATE TABLE IF NOT EXISTS {ks}.stream_heads ("
        " user_id bigint, stream text, seq bigint, PRIMARY KEY ((user_id, stream)))",
        f"CREATE TABLE IF NOT EXISTS {ks}.stream_entries ("
        " user_id bigint, stream text, bucket bigint, seq bigint, type text, body blob, created_at timestamp,"
        " PRIMARY KEY ((user_id, stream, bucket), seq)) WITH CLUSTERING ORDER BY (seq ASC)",
    ]


def statements(keyspace: str) -> dict[str, str]:
    """The CQL the store prepares, by name (see :class:`stores.cassandra.timeline.Prepared`)."""
    ks = _checked(keyspace)
    entries = f"{ks}.stream_entries WHERE user_id = ? AND stream = ? AND bucket = ?"
    return {
        "read_head": f"SELECT seq FROM {ks}.stream_heads WHERE user_id = ? AND stream = ?",
        "write_head": f"UPDATE {ks}.stream_heads USING TIMESTAMP ? SET seq = ? WHERE user_id = ? AND stream = ?",
        # The lightweight transaction that allocates a number: whoever inserts the entry numbered
        # n first owns n, and the entry is visible from that moment (TTL 0 means none).
        "claim": f"INSERT INTO {ks}.stream_entries (user_id, stream, bucket, seq, type, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?",
        "last_after": f"SELECT seq FROM {entries} AND seq > ? ORDER BY seq DESC LIMIT 1",
        "after": f"SELECT seq, type, body, created_at FROM {entries} AND seq > ? ORDER BY seq ASC LIMIT ?",
        "before": f"SELECT seq, type, body, created_at FROM {entries} AND seq < ? ORDER BY seq DESC LIMIT ?",
    }


def _checked(keyspace: str) -> str:
    """Keyspace names are spliced into CQL, so only plain identifiers are accepted."""
    if not _IDENTIFIER.match(keyspace):
        raise ValueError(f"invalid keyspace name {keyspace!r}")
    return keyspace
