"""Vector store benchmark: the embedded store at scale, and the choice of embedded engine.

    python -m bench.vector_bench [--points 100000] [--queries 300]
    python -m bench.vector_bench --compare [--points 10000] [--queries 100]

Default: ``--points`` random unit 512-d vectors upserted into the embedded store (qdrant-edge,
through :class:`stores.qdrant.EdgeVectorStore`, so the figures include the worker-thread hop)
in batches of 1,000: points per second. Then ``--queries`` searches of the top 20, one at a time:
p50 / p99 unfiltered, and with a "For you" filter (moderation ok, two kinds, 50 blocked authors,
200 seen posts, a time range), which the payload indexes serve.

``--compare``: the same upsert and searches on qdrant-edge and on qdrant-client's local mode
(``QdrantClient(path=…)``, the other embedded candidate), at 10,000 points by default.

Random vectors are the hard case for an approximate index and the same case for exact search,
which is what the embedded store does (see ``stores/qdrant/edge.py``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import trio
from qdrant_client import QdrantClient

from bench.common import ms, quantile
from stores.qdrant import open_edge_vectors, open_server_vectors
from stores.vectors import KINDS, VectorFilter, VectorPayload, VectorPoint, VectorStore

DIM = 512
BATCH = 1000
FOR_YOU = VectorFilter(
    kinds=("image", "video"),
    exclude_author_ids=tuple(range(0, 1000, 20)),
    exclude_post_ids=tuple(range(0, 20_000, 100)),
    since=1000.0,
    until=90_000.0,
)


def _points(n: int, seed: int = 0) -> list[VectorPoint]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    moderation = ("ok",) * 8 + ("flagged", "pending")
    return [
        VectorPoint.of(
            vectors[i].tolist(),
            VectorPayload(
                post_id=i,
                media_id=i,
                author_id=i % 1000,
                kind=KINDS[i % 3],  # image, video, video_frame
                created_at=float(i),
                visibility="public",
                moderation=moderation[i % len(moderation)],  # type: ignore[arg-type]
            ),
        )
        for i in range(n)
    ]


async def _measure(store: VectorStore, points: list[VectorPoint], queries: int) -> dict[str, Any]:
    started = time.perf_counter()
    for i in range(0, len(points), BATCH):
        await store.upsert(points[i : i + BATCH])
    upsert_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    probes = [points[int(i)].vector for i in rng.integers(0, len(points), queries)]
    result: dict[str, Any] = {
        "points": await store.count(),
        "upsert_s": round(upsert_s, 2),
        "upsert_points_per_s": round(len(points) / upsert_s),
    }
    for name, f in (("unfiltered", VectorFilter(moderation_ok_only=False)), ("for_you_filter", FOR_YOU)):
        latencies = []
        for probe in probes:
            t = time.perf_counter()
            await store.search(probe, limit=20, filter=f)
            latencies.append(time.perf_counter() - t)
        latencies.sort()
        result[f"{name}_p50_ms"] = ms(quantile(latencies, 0.5))
        result[f"{name}_p99_ms"] = ms(quantile(latencies, 0.99))
    return result


@asynccontextmanager
async def _local_mode(path: Path) -> AsyncIterator[VectorStore]:
    # One thread: local mode is not thread-safe (see stores/qdrant/server.py).
    async with open_server_vectors(QdrantClient(path=str(path)), "bench", threads=1) as store:
        yield store


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compare", action="store_true", help="qdrant-edge against qdrant-client local mode")
    parser.add_argument("--points", type=int, default=None, help="default 100000, or 10000 with --compare")
    parser.add_argument("--queries", type=int, default=None, help="default 300, or 100 with --compare")
    args = parser.parse_args()
    n = args.points or (10_000 if args.compare else 100_000)
    queries = args.queries or (100 if args.compare else 300)
    points = _points(n)
    report: dict[str, Any] = {"dim": DIM, "queries": queries}
    with tempfile.TemporaryDirectory() as tmp:
        async with open_edge_vectors(Path(tmp) / "edge", dim=DIM) as store:
            report["qdrant_edge"] = await _measure(store, points, queries)
        if args.compare:
            async with _local_mode(Path(tmp) / "local") as store:
                report["qdrant_client_local"] = await _measure(store, points, queries)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    trio.run(main)
