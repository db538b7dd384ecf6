"""The embedded :class:`stores.vectors.VectorStore`: Qdrant's engine in-process (qdrant-edge).

Why qdrant-edge rather than qdrant-client's local mode: it *is* the Qdrant engine (Rust: payload
indexes, WAL, the same filter and recommend semantics as the server), while local mode is a pure
Python re-implementation. Measured here (``python -m bench.vector_bench --compare``, BENCHMARKS.md),
10k x 512: upsert 0.53 s vs 12.9 s, search p50 1.4 ms vs 13 ms, filtered p50 2.1 ms vs 360 ms.

How we use it, and why:

* **Exact search, never ``optimize()``.** The shard builds no index by itself; ``optimize()``
  builds HNSW, but it holds the GIL for its whole run (28 s for 50k points, measured), which would
  freeze the event loop however it is threaded; and on random 512-d vectors its top-1 recall was
  poor (50k points: 22/100 at the default ``ef``, 62/100 at ``ef`` 512). So points stay in plain
  segments and searches are exact (``SearchParams(exact=True)``): recall is 1 by construction, and
  the suite checks it. A selective filter (a few authors) is served from the payload indexes
  (~1.4 ms at 100k points); a broad one (most points pass) checks payloads point by point and costs
  about twice an unfiltered search (BENCHMARKS.md).
* **Worker threads.** ``query`` and ``update`` release the GIL (measured: a spinning Python thread
  keeps running during them), so calls go through ``trio.to_thread`` behind a limiter. The shard is
  internally synchronised (Qdrant's segment holder locks): concurrent reads and writes from several
  threads were run against one shard and kept every point, so calls are not serialised here.
* **One process.** The shard locks its WAL: a second process opening the same directory fails
  instead of corrupting it. Several server processes need the Qdrant server backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import qdrant_edge as qe
import trio

from stores.qdrant.common import Blocking, Clause, Match, Range, clauses, unit
from stores.vectors import INDEXED_FIELDS, Hit, VectorFilter, VectorPayload, VectorPoint

_SCHEMA = {
    "integer": qe.PayloadSchemaType.Integer,
    "keyword": qe.PayloadSchemaType.Keyword,
    "float": qe.PayloadSchemaType.Float,
}


class EdgeVectorStore:
    def __init__(self, shard: qe.EdgeShard, *, threads: int = 4) -> None:
        self._shard = shard
        self._blocking = Blocking(threads)
        self._params = qe.SearchParams(exact=True)

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        batch = [qe.Point(p.id, list(p.vector), p.payload.to_dict()) for p in points]
        await self._update(qe.UpdateOperation.upsert_points(batch))

    async def delete_for_post(self, post_id: int) -> None:
        await self._update(
            qe.UpdateOperation.delete_points_by_filter(_must(Match("post_id", (post_id,))))
        )

    async def delete_for_media(self, media_id: int) -> None:
        await self._update(
            qe.UpdateOperation.delete_points_by_filter(_must(Match("media_id", (media_id,))))
        )

    async def search(
        self,
        vector: Sequence[float],
        *,
        limit: int = 20,
        offset: int = 0,
        filter: VectorFilter | None = None,
    ) -> list[Hit]:
        return await self._query(qe.Query.Nearest(list(vector)), limit, offset, filter)

    async def recommend(
        self,
        positive: Sequence[Sequence[float]],
        negative: Sequence[Sequence[float]] = (),
        *,
        limit: int = 20,
        offset: int = 0,
        filter: VectorFilter | None = None,
    ) -> list[Hit]:
        examples = qe.RecommendQuery([unit(v) for v in positive], [unit(v) for v in negative])
        return await self._query(qe.Query.RecommendBestScore(examples), limit, offset, filter)

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        records = await self._blocking.run(
            self._shard.retrieve, list(ids), with_payload=False, with_vector=True
        )
        return {str(r.id): _dense(r.vector) for r in records}

    async def count(self) -> int:
        return await self._blocking.run(self._shard.count, qe.CountRequest(exact=True))

    async def _query(self, query: qe.Query, limit: int, offset: int, f: VectorFilter | None) -> list[Hit]:
        must, must_not = clauses(f)
        request = qe.QueryRequest(
            limit=limit,
            offset=offset,
            query=query,
            filter=_filter(must, must_not),
            params=self._params,
            with_payload=True,
        )
        found = await self._blocking.run(self._shard.query, request)
        return [Hit(str(p.id), p.score, VectorPayload.from_dict(p.payload or {})) for p in found]

    async def _update(self, operation: qe.UpdateOperation) -> None:
        await self._blocking.run(self._shard.update, operation)


def _filter(must: Sequence[Clause], must_not: Sequence[Clause] = ()) -> qe.Filter | None:
    if not must and not must_not:
        return None
    return qe.Filter(must=[_condition(c) for c in must], must_not=[_condition(c) for c in must_not])


def _must(clause: Clause) -> qe.Filter:
    return qe.Filter(must=[_condition(clause)])


def _dense(vector: object) -> list[float]:
    """A stored point's vector (ours are single dense vectors, never named or sparse ones)."""
    if not isinstance(vector, list):
        raise TypeError(f"expected a dense vector, got {type(vector).__name__}")
    return [float(x) for x in vector]


def _condition(clause: Clause) -> qe.FieldCondition:
    if isinstance(clause, Range):
        return qe.FieldCondition(clause.key, range=qe.RangeFloat(gte=clause.gte, lt=clause.lt))
    return qe.FieldCondition(clause.key, match=qe.MatchAny(clause.typed_values()))


def _open_shard(path: Path, dim: int) -> qe.EdgeShard:
    """Load the shard under ``path`` (checking its dimension) or create it; index the payload
    fields either way, so a shard made by an older version gains indexes added since."""
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine))
    if (path / "edge_config.json").exists():
        shard = qe.EdgeShard.load(str(path), config)
    else:
        path.mkdir(parents=True, exist_ok=True)
        shard = qe.EdgeShard.create(str(path), config)
    for field, kind in INDEXED_FIELDS.items():
        shard.update(qe.UpdateOperation.create_field_index(field, _SCHEMA[kind]))
    return shard


def _close_shard(shard: qe.EdgeShard) -> None:
    shard.flush()
    shard.close()


@asynccontextmanager
async def open_edge_vectors(
    path: Path, *, dim: int = 512, threads: int = 4
) -> AsyncIterator[EdgeVectorStore]:
    """An embedded store persisted under ``path`` (created on first use, reopened afterwards);
    flushed and closed when the block ends."""
    shard = await trio.to_thread.run_sync(_open_shard, path, dim)
    try:
        yield EdgeVectorStore(shard, threads=threads)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_close_shard, shard)
