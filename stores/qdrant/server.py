"""The scale-out :class:`stores.vectors.VectorStore`: a Qdrant server through qdrant-client.

Chosen by ``Settings.qdrant_url``; several server processes share the collection. qdrant-client's
async client is built on asyncio, so we drive the synchronous client from worker threads (as the
PostgreSQL store does with psycopg). The same class runs on the client's local mode
(``QdrantClient(location=":memory:")``): that is how the store suite exercises this code on
machines without a server, besides running against one when ``VIORA_QDRANT_URL`` is set. Local
mode is not thread-safe (a search racing an upsert failed in the suite): give it ``threads=1``.

Searches use the server's HNSW index with ``hnsw_ef`` (a high value: HNSW's default ``ef`` lost
recall on these vectors in the embedded engine), or exact search when ``exact`` is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio
from qdrant_client import QdrantClient, models

from stores.qdrant.common import Blocking, Clause, Match, Range, clauses, unit
from stores.vectors import INDEXED_FIELDS, Hit, VectorFilter, VectorPayload, VectorPoint

_SCHEMA = {
    "integer": models.PayloadSchemaType.INTEGER,
    "keyword": models.PayloadSchemaType.KEYWORD,
    "float": models.PayloadSchemaType.FLOAT,
}


class ClientVectorStore:
    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        exact: bool = False,
        hnsw_ef: int = 512,
        threads: int = 4,
    ) -> None:
        self._client = client
        self._collection = collection
        self._blocking = Blocking(threads)
        self._params = models.SearchParams(exact=exact, hnsw_ef=None if exact else hnsw_ef)

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        batch = [
            models.PointStruct(id=p.id, vector=list(p.vector), payload=p.payload.to_dict()) for p in points
        ]
        await self._call("upsert", points=batch, wait=True)

    async def delete_for_post(self, post_id: int) -> None:
        await self._delete(Match("post_id", (post_id,)))

    async def delete_for_media(self, media_id: int) -> None:
        await self._delete(Match("media_id", (media_id,)))

    async def search(
        self,
        vector: Sequence[float],
        *,
        limit: int = 20,
        offset: int = 0,
        filter: VectorFilter | None = None,
    ) -> list[Hit]:
        return await self._query(list(vector), limit, offset, filter)

    async def recommend(
        self,
        positive: Sequence[Sequence[float]],
        negative: Sequence[Sequence[float]] = (),
        *,
        limit: int = 20,
        offset: int = 0,
        filter: VectorFilter | None = None,
    ) -> list[Hit]:
        examples = models.RecommendInput(
            positive=[unit(v) for v in positive],
            negative=[unit(v) for v in negative],
            strategy=models.RecommendStrategy.BEST_SCORE,
        )
        return await self._query(models.RecommendQuery(recommend=examples), limit, offset, filter)

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        records = await self._call("retrieve", ids=list(ids), with_payload=False, with_vectors=True)
        return {str(r.id): list(r.vector) for r in records}

    async def count(self) -> int:
        result = await self._call("count", exact=True)
        return result.count

    async def _query(self, query: Any, limit: int, offset: int, f: VectorFilter | None) -> list[Hit]:
        must, must_not = clauses(f)
        response = await self._call(
            "query_points",
            query=query,
            query_filter=_filter(must, must_not),
            search_params=self._params,
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [Hit(str(p.id), p.score, VectorPayload.from_dict(p.payload)) for p in response.points]

    async def _delete(self, clause: Clause) -> None:
        selector = models.FilterSelector(filter=models.Filter(must=[_condition(clause)]))
        await self._call("delete", points_selector=selector, wait=True)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await self._blocking.run(getattr(self._client, method), self._collection, **kwargs)


def _filter(must: Sequence[Clause], must_not: Sequence[Clause] = ()) -> models.Filter | None:
    if not must and not must_not:
        return None
    return models.Filter(must=[_condition(c) for c in must], must_not=[_condition(c) for c in must_not])


def _condition(clause: Clause) -> models.FieldCondition:
    if isinstance(clause, Range):
        return models.FieldCondition(key=clause.key, range=models.Range(gte=clause.gte, lt=clause.lt))
    return models.FieldCondition(key=clause.key, match=models.MatchAny(any=clause.typed_values()))


def ensure_collection(client: QdrantClient, collection: str, dim: int) -> None:
    """Create the collection (cosine, ``dim``) and its payload indexes unless they exist; refuse a
    collection of another dimension rather than fail on the first upsert."""
    if client.collection_exists(collection):
        vectors = client.get_collection(collection).config.params.vectors
        size = getattr(vectors, "size", None)
        if size != dim:
            raise ValueError(f"Qdrant collection {collection!r} holds {size}-d vectors, not {dim}-d")
    else:
        client.create_collection(
            collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )
    for field, kind in INDEXED_FIELDS.items():
        client.create_payload_index(collection, field, field_schema=_SCHEMA[kind], wait=True)


@asynccontextmanager
async def open_server_vectors(
    client: QdrantClient,
    collection: str,
    *,
    dim: int = 512,
    exact: bool = False,
    hnsw_ef: int = 512,
    threads: int = 4,
) -> AsyncIterator[ClientVectorStore]:
    """The store on ``collection`` (created when missing) through ``client``, which is closed when
    the block ends. Build the client with ``QdrantClient(url=…, api_key=…)``."""
    try:
        await trio.to_thread.run_sync(ensure_collection, client, collection, dim)
        yield ClientVectorStore(client, collection, exact=exact, hnsw_ef=hnsw_ef, threads=threads)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(client.close)
