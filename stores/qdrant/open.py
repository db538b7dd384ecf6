"""Pick the vector backend from :class:`kernel.config.Settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from qdrant_client import QdrantClient

from kernel.config import Settings
from stores.qdrant.edge import open_edge_vectors
from stores.qdrant.server import open_server_vectors
from stores.vectors import VectorStore


@asynccontextmanager
async def open_vectors(settings: Settings) -> AsyncIterator[VectorStore]:
    """The Qdrant server at ``settings.qdrant_url``, or the embedded store under
    ``settings.data_dir / "vectors"`` when it is unset."""
    if settings.qdrant_url is None:
        async with open_edge_vectors(
            settings.data_dir / "vectors", dim=settings.vector_dim, threads=settings.vector_threads
        ) as store:
            yield store
        return
    client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
    async with open_server_vectors(
        client,
        settings.qdrant_collection,
        dim=settings.vector_dim,
        exact=settings.qdrant_exact,
        hnsw_ef=settings.qdrant_hnsw_ef,
        threads=settings.vector_threads,
    ) as store:
        yield store
