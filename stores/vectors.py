"""The vector role: CLIP embeddings of media and captions, searched by similarity.

Every embedded thing is a *point*: an image, a video (its mean-pooled vector), each sampled frame
of a video, or a post's caption text. Its payload carries what queries filter on — the post, the
media, the author, the kind, when it was posted, the post's visibility and the moderation state —
so that blocked authors, flagged media, one's own or already seen posts are left out *inside* the
search (a post-filter would return short pages and skew pagination).

Point ids are UUIDs derived from (kind, source id, frame), not random: indexing the same media
again (a retried job, a re-embedding with a new model) overwrites its points instead of adding
duplicates.

Two backends implement it (``stores/qdrant/``): Qdrant embedded in-process (qdrant-edge, the
default) and a Qdrant server through qdrant-client, chosen by ``Settings.qdrant_url``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

Kind = Literal["image", "video", "video_frame", "text"]
KINDS: tuple[Kind, ...] = ("image", "video", "video_frame", "text")
Moderation = Literal["ok", "flagged", "pending"]
MODERATION_STATES: tuple[Moderation, ...] = ("ok", "flagged", "pending")

_ID_NAMESPACE = uuid.UUID("5b0e8a1c-3f0d-4f55-9a43-8f3c2f7d6a10")
"""Fixed namespace of the point ids: changing it would orphan every point already stored."""


def point_id(kind: Kind, source_id: int, frame: int = 0) -> str:
    """The id of the point for ``kind`` of ``source_id`` (a media id; the post id for ``text``).

    Deterministic (UUID v5), so re-indexing replaces a point rather than duplicating it; ``frame``
    tells the frames of one video apart.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{source_id}:{frame}"))


@dataclass(frozen=True)
class VectorPayload:
    """What a point says about its content: everything a query filters on, nothing else."""

    post_id: int
    media_id: int | None
    """``None`` for a caption (``kind == "text"``)."""
    author_id: int
    kind: Kind
    created_at: float
    """When the post was made, seconds since the epoch (time-range filters)."""
    visibility: str
    moderation: Moderation = "pending"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VectorPayload:
        values: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        return cls(**values)


@dataclass(frozen=True)
class VectorPoint:
    id: str
    vector: Sequence[float]
    payload: VectorPayload

    @classmethod
    def of(cls, vector: Sequence[float], payload: VectorPayload, frame: int = 0) -> VectorPoint:
        """A point whose id follows from its payload (see :func:`point_id`)."""
        source = payload.post_id if payload.media_id is None else payload.media_id
        return cls(point_id(payload.kind, source, frame), vector, payload)


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    """Cosine similarity for a search; the backend's recommendation score for a recommendation."""
    payload: VectorPayload


@dataclass(frozen=True)
class VectorFilter:
    """Conditions every result must meet; the defaults exclude only unmoderated and flagged points.

    Empty collections and ``None`` mean "no condition".
    """

    kinds: Collection[Kind] | None = None
    author_ids: Collection[int] | None = None
    """Only these authors (e.g. "more from this account")."""
    exclude_author_ids: Collection[int] = ()
    """Blocked accounts, both ways."""
    exclude_post_ids: Collection[int] = ()
    """The viewer's own or already seen posts."""
    visibilities: Collection[str] | None = None
    since: float | None = None
    """``created_at >= since``."""
    until: float | None = None
    """``created_at < until``."""
    moderation_ok_only: bool = True
    """Only points whose moderation is ``ok``: flagged ones, and pending ones nobody has checked
    yet, stay out unless the viewer opted in to see flagged content."""


INDEXED_FIELDS: dict[str, Literal["integer", "keyword", "float"]] = {
    "post_id": "integer",
    "media_id": "integer",
    "author_id": "integer",
    "kind": "keyword",
    "visibility": "keyword",
    "moderation": "keyword",
    "created_at": "float",
}
"""Payload fields with an index, and its type: every field :class:`VectorFilter` and the deletes
use, so a filtered query or delete reads an index instead of scanning payloads."""


class VectorStore(Protocol):
    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert the points, replacing any with the same id; visible to searches on return."""
        ...

    async def delete_for_post(self, post_id: int) -> None:
        """Remove every point of the post: its media, their frames, its caption."""
        ...

    async def delete_for_media(self, media_id: int) -> None:
        """Remove the points of one media item (and its frames)."""
        ...

    async def search(
        self,
        vector: Sequence[float],
        *,
        limit: int = 20,
        offset: int = 0,
        filter: VectorFilter | None = None,
    ) -> list[Hit]:
        """The points nearest ``vector`` by cosine, best first, that pass ``filter``.

        ``offset`` skips that many results, so consecutive pages neither repeat nor miss a point
        while the store does not change.
        """
        ...

    async def recommend(
        self,
        positive: Sequence[Sequence[float]],
        negative: Sequence[Sequence[float]] = (),
        *,
        limit: int = 20,
        offset: int = 0,
        filter: VectorFilter | None = None,
    ) -> list[Hit]:
        """Points close to any of ``positive`` and farther from ``negative`` (Qdrant's recommend
        query, best-score strategy: a point scores by its best positive unless a negative is closer).
        """
        ...

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors by id (unit length); ids not stored are absent."""
        ...

    async def count(self) -> int:
        """Points stored."""
        ...
