"""The VectorStore contract, run against the embedded Qdrant (qdrant-edge), qdrant-client's local
mode and a Qdrant server (when ``VIORA_QDRANT_URL`` is set); plus what only the embedded store
promises (persistence, one dimension per directory) and the choice of backend from settings."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import trio

from kernel.config import Settings
from stores.qdrant import EdgeVectorStore, open_edge_vectors
from stores.qdrant.open import open_vectors
from stores.vectors import (
    KINDS,
    MODERATION_STATES,
    VectorFilter,
    VectorPayload,
    VectorPoint,
    VectorStore,
    point_id,
)

DIM = 512

pytestmark = pytest.mark.filterwarnings(
    # qdrant-client's local mode says it ignores payload indexes and search parameters: expected.
    "ignore:Payload indexes have no effect:UserWarning",
    "ignore:Local mode performs exact:UserWarning",
)


def _unit_vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _payload(post_id: int, media_id: int | None = None, **changes: object) -> VectorPayload:
    base = VectorPayload(
        post_id=post_id,
        media_id=media_id,
        author_id=1,
        kind="image" if media_id is not None else "text",
        created_at=1000.0 + post_id,
        visibility="public",
        moderation="ok",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _varied_points(n: int, seed: int = 1) -> list[VectorPoint]:
    """``n`` points spread over every value of every filtered field."""
    rng = random.Random(seed)
    vectors = _unit_vectors(n, seed)
    points = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        payload = VectorPayload(
            post_id=i // 2,
            media_id=None if kind == "text" else 10_000 + i,
            author_id=rng.randrange(5),
            kind=kind,
            created_at=float(rng.randrange(100)),
            visibility=rng.choice(["public", "followers"]),
            moderation=MODERATION_STATES[i % len(MODERATION_STATES)],
        )
        points.append(
            VectorPoint(point_id(kind, payload.media_id or payload.post_id, i), vectors[i].tolist(), payload)
        )
    return points


async def test_point_is_its_own_nearest_neighbour(vector_store: VectorStore) -> None:
    vectors = _unit_vectors(200, seed=2)
    points = [VectorPoint.of(v.tolist(), _payload(i, media_id=100 + i)) for i, v in enumerate(vectors)]
    await vector_store.upsert(points)
    assert await vector_store.count() == 200

    for point in points[::10]:
        (hit,) = await vector_store.search(point.vector, limit=1)
        assert hit.id == point.id
        assert hit.score == pytest.approx(1.0, abs=1e-4)
        assert hit.payload == point.payload


async def test_reindexing_replaces_points(vector_store: VectorStore) -> None:
    vector = _unit_vectors(1, seed=3)[0].tolist()
    first = VectorPoint.of(vector, _payload(1, media_id=7, moderation="pending"))
    again = VectorPoint.of(vector, _payload(1, media_id=7, moderation="ok"))
    assert first.id == again.id == point_id("image", 7)
    assert point_id("video_frame", 7, 0) != point_id("video_frame", 7, 1) != point_id("image", 7)

    await vector_store.upsert([first])
    await vector_store.upsert([again])
    assert await vector_store.count() == 1
    (hit,) = await vector_store.search(vector, limit=5)
    assert hit.payload.moderation == "ok"


async def test_deletes_remove_exactly_their_vectors(vector_store: VectorStore) -> None:
    vectors = iter(_unit_vectors(20, seed=4).tolist())

    def points(post_id: int, media_id: int | None, kind: str, frames: int = 1) -> list[VectorPoint]:
        payload = _payload(post_id, media_id, kind=kind)
        return [VectorPoint.of(next(vectors), payload, frame) for frame in range(frames)]

    image = points(1, 10, "image")
    video = points(1, 11, "video") + points(1, 11, "video_frame", frames=4)
    caption = points(1, None, "text")
    other_post = points(2, 12, "image") + points(2, None, "text")
    await vector_store.upsert(image + video + caption + other_post)
    assert await vector_store.count() == 9

    await vector_store.delete_for_media(11)
    left = {hit.id for hit in await vector_store.search(image[0].vector, limit=20, filter=VectorFilter())}
    assert left == {p.id for p in image + caption + other_post}

    await vector_store.delete_for_post(1)
    left = {hit.id for hit in await vector_store.search(image[0].vector, limit=20, filter=VectorFilter())}
    assert left == {p.id for p in other_post}
    assert await vector_store.get_vectors([p.id for p in image + video + caption]) == {}


def _matches(f: VectorFilter) -> Callable[[VectorPayload], bool]:
    """The filter's meaning, written out independently of the stores' translation of it."""

    def keep(p: VectorPayload) -> bool:
        return (
            (f.kinds is None or p.kind in f.kinds)
            and (f.author_ids is None or p.author_id in f.author_ids)
            and p.author_id not in f.exclude_author_ids
            and p.post_id not in f.exclude_post_ids
            and (f.visibilities is None or p.visibility in f.visibilities)
            and (f.since is None or p.created_at >= f.since)
            and (f.until is None or p.created_at < f.until)
            and (not f.moderation_ok_only or p.moderation == "ok")
        )

    return keep


FILTERS = {
    "default": VectorFilter(),
    "everything": VectorFilter(moderation_ok_only=False),
    "kinds": VectorFilter(kinds=("video", "video_frame"), moderation_ok_only=False),
    "authors": VectorFilter(author_ids=(1, 3), moderation_ok_only=False),
    "blocked authors": VectorFilter(exclude_author_ids=(0, 2, 4), moderation_ok_only=False),
    "seen posts": VectorFilter(exclude_post_ids=tuple(range(0, 60, 3)), moderation_ok_only=False),
    "visibility": VectorFilter(visibilities=("public",), moderation_ok_only=False),
    "since": VectorFilter(since=40.0, moderation_ok_only=False),
    "until": VectorFilter(until=40.0, moderation_ok_only=False),
    "time range": VectorFilter(since=20.0, until=30.0, moderation_ok_only=False),
    "all at once": VectorFilter(
        kinds=("image", "text"),
        author_ids=(0, 1, 2),
        exclude_author_ids=(2,),
        exclude_post_ids=(4, 5),
        visibilities=("public",),
        since=10.0,
        until=90.0,
    ),
}


@pytest.mark.parametrize("name", FILTERS)
async def test_every_filter_field_holds(vector_store: VectorStore, name: str) -> None:
    points = _varied_points(120)
    await vector_store.upsert(points)
    f = FILTERS[name]
    expected = {p.id for p in points if _matches(f)(p.payload)}
    assert 0 < len(expected) < len(points) or name == "everything"

    hits = await vector_store.search(points[0].vector, limit=len(points), filter=f)
    assert {hit.id for hit in hits} == expected
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


async def test_pages_neither_repeat_nor_miss(vector_store: VectorStore) -> None:
    points = [
        VectorPoint.of(v.tolist(), _payload(i, media_id=i)) for i, v in enumerate(_unit_vectors(50, seed=5))
    ]
    await vector_store.upsert(points)
    query = _unit_vectors(1, seed=6)[0].tolist()

    pages = [await vector_store.search(query, limit=7, offset=offset) for offset in range(0, 50, 7)]
    paged = [hit.id for page in pages for hit in page]
    everything = [hit.id for hit in await vector_store.search(query, limit=50)]
    assert len(paged) == len(set(paged)) == 50
    assert paged == everything


async def test_recommend_finds_neighbours_of_positives_within_the_filter(vector_store: VectorStore) -> None:
    # Two tight clusters: 0 around a liked item, 1 around a disliked one; authors alternate.
    centres = _unit_vectors(2, seed=7)
    noise = np.random.default_rng(8).standard_normal((40, DIM)).astype(np.float32) * 0.01
    points = [
        VectorPoint.of((centres[i % 2] + noise[i]).tolist(), _payload(i, media_id=i, author_id=i % 4))
        for i in range(40)
    ]
    points += [
        VectorPoint.of(v.tolist(), _payload(100 + i, media_id=100 + i))
        for i, v in enumerate(_unit_vectors(40, 9))
    ]
    await vector_store.upsert(points)
    liked, disliked = points[0], points[1]

    hits = await vector_store.recommend([liked.vector], [disliked.vector], limit=10)
    assert {hit.payload.post_id % 2 for hit in hits} == {0}
    assert all(hit.payload.post_id < 40 for hit in hits)

    f = VectorFilter(exclude_author_ids=(2,), exclude_post_ids=(liked.payload.post_id,))
    hits = await vector_store.recommend([liked.vector], limit=15, filter=f)
    # Cluster 0 holds 20 points, 10 of them by author 2, one of the others the liked post itself:
    # those 9 come first, then unrelated points, and nothing the filter excludes.
    wanted = {p.id for p in points[:40:2] if p.payload.author_id != 2 and p != liked}
    assert len(wanted) == 9
    assert {hit.id for hit in hits[:9]} == wanted
    assert all(hit.payload.post_id >= 100 for hit in hits[9:])
    assert all(hit.payload.author_id != 2 and hit.id != liked.id for hit in hits)


async def test_get_vectors_returns_unit_vectors_by_id(vector_store: VectorStore) -> None:
    vector = (_unit_vectors(1, seed=10)[0] * 3.0).tolist()  # not unit length on the way in
    point = VectorPoint.of(vector, _payload(1, media_id=1))
    await vector_store.upsert([point])

    stored = await vector_store.get_vectors([point.id, point_id("image", 999)])
    assert list(stored) == [point.id]
    assert np.linalg.norm(stored[point.id]) == pytest.approx(1.0, abs=1e-5)
    assert np.dot(stored[point.id], vector) / 3.0 == pytest.approx(1.0, abs=1e-5)


async def test_top1_recall_against_brute_force(vector_store: VectorStore) -> None:
    data = _unit_vectors(2000, seed=11)
    await vector_store.upsert(
        [VectorPoint.of(v.tolist(), _payload(i, media_id=i)) for i, v in enumerate(data)]
    )
    queries = _unit_vectors(100, seed=12)
    truth = np.argmax(queries @ data.T, axis=1)

    found = 0
    for query, best in zip(queries, truth, strict=True):
        (hit,) = await vector_store.search(query.tolist(), limit=1)
        found += hit.payload.media_id == best
    assert found / len(queries) >= 0.99


async def test_concurrent_calls_share_one_store(vector_store: VectorStore) -> None:
    data = _unit_vectors(200, seed=13)
    points = [VectorPoint.of(v.tolist(), _payload(i, media_id=i)) for i, v in enumerate(data)]
    await vector_store.upsert(points[:100])
    misses: list[str] = []

    async def search(point: VectorPoint) -> None:
        (hit,) = await vector_store.search(point.vector, limit=1)
        if hit.id != point.id:
            misses.append(point.id)

    async with trio.open_nursery() as nursery:
        for i in range(100, 200, 10):
            nursery.start_soon(vector_store.upsert, points[i : i + 10])
        for point in points[:100:4]:
            nursery.start_soon(search, point)
    assert misses == []
    assert await vector_store.count() == 200


async def test_embedded_store_persists_across_reopen(tmp_path: Path) -> None:
    data = _unit_vectors(30, seed=14)
    points = [VectorPoint.of(v.tolist(), _payload(i, media_id=i)) for i, v in enumerate(data)]
    async with open_edge_vectors(tmp_path / "v") as store:
        await store.upsert(points)
        await store.delete_for_post(0)

    async with open_edge_vectors(tmp_path / "v") as store:
        assert await store.count() == 29
        (hit,) = await store.search(points[5].vector, limit=1, filter=VectorFilter(kinds=("image",)))
        assert hit.id == points[5].id and hit.payload == points[5].payload


async def test_embedded_store_refuses_another_dimension(tmp_path: Path) -> None:
    async with open_edge_vectors(tmp_path / "v", dim=DIM):
        pass
    with pytest.raises(Exception, match="vector size"):
        async with open_edge_vectors(tmp_path / "v", dim=64):
            pass


async def test_settings_choose_the_embedded_store_by_default(tmp_path: Path) -> None:
    async with open_vectors(Settings(data_dir=tmp_path)) as store:
        assert isinstance(store, EdgeVectorStore)
    assert (tmp_path / "vectors" / "edge_config.json").exists()
