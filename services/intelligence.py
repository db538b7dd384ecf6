"""What the platform understands about its content: moderation, embeddings, search, alignment.

Two jobs run in the background for every piece of content (queued to the IndexActor):

* **analyse a media item** once it is processed: the NSFW classifier looks at the image (or each
  sampled video frame) and the verdict is stored with the media;
* **index a post**: its caption and each of its media are embedded by the batching embedder and
  stored in the vector store with the payload search filters on (author, kind, time, moderation);
  the caption/media **alignment** (cosine of the two embeddings, calibrated to 0-100) is stored with
  the post and used to rank search results.

Queries — text search and "more like this" — run on request, filtered for the viewer: no author on
either side of a block nor muted by the viewer, no flagged media unless the viewer opted in to
sensitive media.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np
import trio
from PIL import Image

from actors.embedder import EmbedderClient
from kernel.errors import NotFound
from ml.moderation import ZERO_SHOT_PROMPTS, Moderation, zero_shot_nsfw_score
from protocol.views import POST
from stores.analysis import AnalysisStore, MediaModeration, ModerationState, TextKind
from stores.blobs import BlobStore, MediaBlobs
from stores.media import MediaKind, MediaRecord, MediaState, MediaStore
from stores.safety import MuteStore
from stores.social import Post, SocialStore
from stores.vectors import (
    Hit,
    Kind,
    VectorFilter,
    VectorPayload,
    VectorPoint,
    VectorStore,
    point_id,
)

# CLIP cosine similarities of a caption and its own image cluster around 0.30 for ViT-B-32, and
# around 0.15 for unrelated pairs: that span maps to 0..100 (clamped). Random-init models give
# meaningless scores, whatever the mapping.
ALIGNMENT_FLOOR = 0.15
ALIGNMENT_CEILING = 0.35
ALIGNMENT_WEIGHT = 0.1
"""How much alignment moves a search score: ``similarity * (1 - w + w * alignment / 100)``."""

SEARCH_KINDS: tuple[Kind, ...] = ("image", "video", "video_frame")
TASTE_LIKES = 20
TASTE_VIEWS = 20
"""Recent likes and views a "For you" page starts from (and leaves out: already seen)."""
THUMBNAIL_WIDTH_FOR_ANALYSIS = 480


PUBLIC_VARIANTS = ("placeholder", "thumbnails", "poster", "video")
"""What post views show of a processed media item (not the decoder's probe)."""


def _public_variants(variants: dict[str, Any] | None) -> dict[str, Any] | None:
    if not variants:
        return None
    return {name: variants[name] for name in PUBLIC_VARIANTS if name in variants}


def alignment_score(cosine: float) -> float:
    """Cosine of caption and media embeddings → 0 (unrelated) … 100 (as aligned as captions get)."""
    span = (cosine - ALIGNMENT_FLOOR) / (ALIGNMENT_CEILING - ALIGNMENT_FLOOR)
    return round(100.0 * min(1.0, max(0.0, span)), 1)


class IntelligenceService:
    def __init__(
        self,
        *,
        media: MediaStore,
        blobs: MediaBlobs,
        analysis: AnalysisStore,
        vectors: VectorStore,
        social: SocialStore,
        mutes: MuteStore,
        embedder: EmbedderClient,
        moderation: Moderation,
        zero_shot: bool,
    ) -> None:
        self._media = media
        self._blobs = blobs
        self._analysis = analysis
        self._vectors = vectors
        self._social = social
        self._mutes = mutes
        self._embedder = embedder
        self._moderation = moderation
        self._zero_shot = zero_shot
        """Use CLIP zero-shot prompts as a second NSFW signal (only a model with semantic quality)."""
        self._prompt_vectors: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------------ background jobs

    async def analyse_media(self, media_id: int) -> list[int]:
        """Moderate a processed media item; return the posts that show it (to re-index them)."""
        record = await self._media.get_media(media_id)
        if record is None or record.state is not MediaState.READY:
            return []
        pictures = await self._media_bytes(record)
        verdict = await self._moderation.classify_frames([await _decode(data) for data in pictures])
        if self._zero_shot and pictures:
            prompts = await self._prompts()
            vectors = await self._embedder.embed_images(pictures)
            verdict = self._moderation.combine(
                verdict, max(zero_shot_nsfw_score(v, prompts) for v in vectors)
            )
        state = _verdict(verdict.flagged)
        await self._analysis.set_moderation(media_id, state, verdict.score, verdict.reason, only_pending=True)
        return await self._analysis.posts_with_media(media_id)

    async def index_posts(self, post_ids: list[int]) -> None:
        """(Re)build posts' vectors and alignment; idempotent (point ids are deterministic).

        Batched, because posts arrive faster than one at a time can keep up with: the captions of
        all ``post_ids`` go through one moderation call, one embedding batch and one upsert.
        """
        posts = await self._social.get_posts(post_ids)
        for post_id in post_ids:
            if post_id not in posts:
                await self._vectors.delete_for_post(post_id)
        points: list[VectorPoint] = []
        media_vectors: dict[int, list[np.ndarray]] = {}
        for post in posts.values():
            media_vectors[post.id] = await self._add_media_points(post, points)
        captioned = [post for post in posts.values() if post.text.strip()]
        if captioned:
            flags = await self.moderate_texts("post", [(post.id, post.judged_text) for post in captioned])
            captions = await self._embedder.embed_texts([post.text for post in captioned])
            for post, flagged, caption in zip(captioned, flags, captions, strict=True):
                points.append(
                    VectorPoint.of(caption.tolist(), _payload(post, None, _verdict(flagged)))
                )
                if media_vectors[post.id]:
                    scores = [alignment_score(float(caption @ v)) for v in media_vectors[post.id]]
                    await self._analysis.set_alignment(post.id, round(sum(scores) / len(scores), 1))
        if points:
            await self._vectors.upsert(points)
        if posts:
            await self._analysis.mark_indexed(list(posts))

    async def _add_media_points(self, post: Post, points: list[VectorPoint]) -> list[np.ndarray]:
        """Append the points of ``post``'s media (analysed first if still pending) to ``points``;
        return one vector per media item (a video's: the mean of its frames) for the alignment."""
        records = [r for r in [await self._media.get_media(m) for m in post.media_ids] if _usable(r, post)]
        moderation = await self._analysis.moderation([r.id for r in records])
        for record in records:
            if moderation[record.id].state == "pending":
                await self.analyse_media(record.id)
        moderation = await self._analysis.moderation([r.id for r in records])
        media_vectors: list[np.ndarray] = []
        for record in records:
            vectors = await self._embedder.embed_images(await self._media_bytes(record))
            payload = _payload(post, record, moderation[record.id].state)
            if record.kind is MediaKind.IMAGE:
                points.append(VectorPoint.of(vectors[0].tolist(), payload))
                media_vectors.append(vectors[0])
                continue
            frame_payload = _with_kind(payload, "video_frame")
            points.extend(VectorPoint.of(v.tolist(), frame_payload, frame=i) for i, v in enumerate(vectors))
            pooled = _unit(vectors.mean(axis=0))
            points.append(VectorPoint.of(pooled.tolist(), payload))
            media_vectors.append(pooled)
        return media_vectors

    async def warm_up(self) -> None:
        """Load the moderation models (in worker threads) before the first upload or comment."""
        await self._moderation.warm_up()

    async def moderate_text(self, kind: TextKind, object_id: int, text: str) -> bool:
        """Classify a caption, comment or message, record the verdict, say whether it is flagged."""
        return (await self.moderate_texts(kind, [(object_id, text)]))[0]

    async def moderate_texts(self, kind: TextKind, texts: list[tuple[int, str]]) -> list[bool]:
        """:meth:`moderate_text` for ``(object_id, text)`` pairs in one classifier call."""
        verdicts = await self._moderation.classify_texts([text for _, text in texts])
        await self._analysis.set_text_verdicts(
            kind, [(object_id, v.flagged, v.score) for (object_id, _), v in zip(texts, verdicts, strict=True)]
        )
        return [v.flagged for v in verdicts]

    async def flagged_texts(self, kind: TextKind, object_ids: list[int]) -> set[int]:
        return await self._analysis.flagged_texts(kind, object_ids)

    async def _prompts(self) -> dict[str, np.ndarray]:
        if self._prompt_vectors is None:
            vectors = await self._embedder.embed_texts(list(ZERO_SHOT_PROMPTS))
            self._prompt_vectors = dict(zip(ZERO_SHOT_PROMPTS, vectors, strict=True))
        return self._prompt_vectors

    async def record_view(self, viewer_id: int, post: dict[str, Any]) -> None:
        if post["author_id"] != viewer_id:
            await self._analysis.record_view(viewer_id, post["id"])

    async def unindexed_posts(self, *, within_s: float, limit: int) -> list[int]:
        return await self._analysis.unindexed_posts(within_s=within_s, limit=limit)

    async def forget_post(self, post_id: int) -> None:
        await self._vectors.delete_for_post(post_id)

    # ------------------------------------------------------------------ queries

    async def search(
        self,
        viewer_id: int,
        query: str,
        *,
        kinds: Sequence[Kind] | None,
        author_id: int | None,
        since: float | None,
        until: float | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        vector = await self._embedder.embed_text(query, interactive=True)
        wanted = _search_kinds(kinds)
        flt = await self._filter(viewer_id, wanted, author_id=author_id, since=since, until=until)
        hits = await self._vectors.search(vector.tolist(), limit=limit, offset=offset, filter=flt)
        return await self._results(viewer_id, hits)

    async def similar(self, viewer_id: int, media_id: int, *, limit: int) -> list[dict[str, Any]]:
        """Media that look like this one, images and videos alike (video frames stand for their video)."""
        record = await self._media.get_media(media_id)
        kind: Kind = "video" if record is not None and record.kind is MediaKind.VIDEO else "image"
        vectors = await self._vectors.get_vectors([point_id(kind, media_id)])
        if not vectors:
            raise NotFound(f"media {media_id} is not indexed")
        (vector,) = vectors.values()
        flt = await self._filter(viewer_id, SEARCH_KINDS)
        hits = await self._vectors.search(vector, limit=limit + 8, filter=flt)
        results = await self._results(viewer_id, [h for h in hits if h.payload.media_id != media_id])
        return results[:limit]

    async def recommend(
        self, viewer_id: int, *, limit: int, exclude_post_ids: Sequence[int]
    ) -> list[dict[str, Any]]:
        """Media near what the viewer recently liked or opened (Qdrant's recommend API over those
        posts' vectors), leaving out their own posts, what they already saw, blocked authors and
        flagged media."""
        liked = await self._analysis.recent_likes(viewer_id, TASTE_LIKES)
        viewed = await self._analysis.recent_views(viewer_id, TASTE_VIEWS)
        taste = list(dict.fromkeys([*liked, *viewed]))
        if not taste:
            return []
        posts = await self._social.get_posts(taste)
        ids = [
            point_id("video" if kind else "image", media_id)
            for post in posts.values()
            for media_id in post.media_ids
            for kind in (False, True)
        ]
        ids += [point_id("text", post_id) for post_id in posts]
        examples = list((await self._vectors.get_vectors(ids)).values())
        if not examples:
            return []
        flt = await self._filter(viewer_id, SEARCH_KINDS)
        flt = dataclasses.replace(
            flt,
            exclude_author_ids=(*flt.exclude_author_ids, viewer_id),
            exclude_post_ids=tuple({*taste, *exclude_post_ids}),
        )
        hits = await self._vectors.recommend(examples, limit=limit, filter=flt)
        return await self._results(viewer_id, hits)

    async def annotate(self, viewer_id: int, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add ``alignment``, ``liked`` (by the viewer) and per-media ``moderation``, ``kind`` and
        public ``variants`` (thumbnails, poster, playback copy, placeholder) to post views; the
        author also gets why a media item was flagged.

        A flagged item's files go only to its owner, to moderators and to viewers who opted in to
        sensitive media; anyone else gets its verdict without variants, and :meth:`reveal` on a
        deliberate click (the URLs are the files: a client told to blur them still fetches them).
        """
        media_ids = [m for p in posts for m in p["media_ids"]]
        moderation = await self._analysis.moderation(media_ids)
        alignments = await self._analysis.alignments([p["id"] for p in posts])
        flagged_text = await self._analysis.flagged_texts("post", [p["id"] for p in posts])
        liked = await self._social.liked_among(viewer_id, [p["id"] for p in posts])
        others_flagged = any(v.state == "flagged" and v.owner_id != viewer_id for v in moderation.values())
        sees_flagged = others_flagged and await self._analysis.sees_flagged_media(viewer_id)
        for post in posts:
            post["alignment"] = alignments.get(post["id"])
            post["text_flagged"] = post["id"] in flagged_text
            post["liked"] = post["id"] in liked
            post["media"] = [
                _media_entry(viewer_id, media_id, moderation.get(media_id), reveal=sees_flagged)
                for media_id in post["media_ids"]
            ]
        return posts

    async def reveal(self, viewer_id: int, media_ids: Sequence[int], media_id: int) -> dict[str, Any]:
        """One media item of a post the viewer may see (the caller checked: ``media_ids`` are the
        post's), with its files even when flagged: the viewer clicked through the warning."""
        if media_id not in media_ids:
            raise NotFound(f"media {media_id} is not in this post")
        verdict = (await self._analysis.moderation([media_id])).get(media_id)
        return _media_entry(viewer_id, media_id, verdict, reveal=True)

    # ------------------------------------------------------------------ moderation views

    async def moderation_of(self, user_id: int, media_id: int) -> dict[str, Any]:
        """The verdict on one's own media item, with the reason (authors see why)."""
        verdict = (await self._analysis.moderation([media_id])).get(media_id)
        if verdict is None or verdict.owner_id != user_id:
            raise NotFound(f"media {media_id}")
        return {"state": verdict.state, "score": verdict.score, "reason": verdict.reason}

    async def review(self, before: int | None, limit: int) -> dict[str, Any]:
        flagged = await self._analysis.flagged(before_id=before, limit=limit)
        items = [
            {"media_id": m.media_id, "owner_id": m.owner_id, "score": m.score, "reason": m.reason}
            for m in flagged
        ]
        return {"items": items, "cursor": flagged[-1].media_id if len(flagged) == limit else None}

    async def decide(self, media_id: int, verdict: ModerationState) -> None:
        """An admin's verdict replaces the classifier's; the posts showing the media are re-indexed
        so search and recommendations follow at once."""
        current = (await self._analysis.moderation([media_id])).get(media_id)
        if current is None:
            raise NotFound(f"media {media_id}")
        await self._analysis.set_moderation(media_id, verdict, current.score or 0.0, f"reviewed: {verdict}")
        await self.index_posts(await self._analysis.posts_with_media(media_id))

    async def set_show_sensitive(self, user_id: int, value: bool) -> None:
        await self._analysis.set_shows_sensitive(user_id, value)

    # ------------------------------------------------------------------ helpers

    async def _filter(
        self,
        viewer_id: int,
        kinds: Sequence[Kind],
        *,
        author_id: int | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> VectorFilter:
        return VectorFilter(
            kinds=tuple(kinds),
            author_ids=(author_id,) if author_id is not None else None,
            exclude_author_ids=tuple(
                sorted(await self._social.blocked_set(viewer_id) | await self._mutes.muted_set(viewer_id))
            ),
            since=since,
            until=until,
            moderation_ok_only=not await self._analysis.shows_sensitive(viewer_id),
        )

    async def _results(self, viewer_id: int, hits: list[Hit]) -> list[dict[str, Any]]:
        """One result per media (a video's best frame stands for it), ranked with alignment."""
        best: dict[int, Hit] = {}
        for hit in hits:
            key = hit.payload.media_id if hit.payload.media_id is not None else -hit.payload.post_id
            if key not in best or hit.score > best[key].score:
                best[key] = hit
        posts = await self._social.get_posts(list({h.payload.post_id for h in best.values()}))
        views = {pid: POST.build(post) for pid, post in posts.items()}
        await self.annotate(viewer_id, list(views.values()))
        results: list[dict[str, Any]] = []
        for hit in best.values():
            view = views.get(hit.payload.post_id)
            if view is None:
                continue  # deleted since it was indexed
            alignment = view["alignment"] if view["alignment"] is not None else 50.0
            score = hit.score * (1 - ALIGNMENT_WEIGHT + ALIGNMENT_WEIGHT * alignment / 100)
            kind = "video" if hit.payload.kind == "video_frame" else hit.payload.kind
            results.append(
                {
                    "post": view,
                    "media_id": hit.payload.media_id,
                    "kind": kind,
                    "similarity": round(hit.score, 4),
                    "score": round(score, 4),
                }
            )
        results.sort(key=lambda r: r["score"], reverse=True)
        return results

    async def _media_bytes(self, record: MediaRecord) -> list[bytes]:
        """The pictures to look at: a mid-size thumbnail of an image, the sampled frames of a video."""
        if record.kind is MediaKind.IMAGE:
            thumbnails = (record.variants or {}).get("thumbnails", [])
            if not thumbnails:
                return []
            chosen = min(thumbnails, key=lambda t: abs(t["width"] - THUMBNAIL_WIDTH_FOR_ANALYSIS))
            return [await _read(self._blobs.public, chosen["key"])]
        return [await _read(self._blobs.private, key) for key in await self._analysis.frame_keys(record.id)]


def _media_entry(viewer_id: int, media_id: int, verdict: MediaModeration | None, *, reveal: bool) -> dict[str, Any]:
    """A ``post_media`` view; a flagged item's files only to its owner, or with ``reveal``."""
    if verdict is None:
        return {"id": media_id, "moderation": "pending", "kind": None, "variants": None}
    own = verdict.owner_id == viewer_id
    entry: dict[str, Any] = {
        "id": media_id,
        "moderation": verdict.state,
        "kind": verdict.kind,
        "variants": _public_variants(verdict.variants) if verdict.state != "flagged" or own or reveal else None,
    }
    if own and verdict.state == "flagged":
        entry["moderation_reason"] = verdict.reason
    return entry


def _verdict(flagged: bool) -> ModerationState:
    return "flagged" if flagged else "ok"


def _usable(record: MediaRecord | None, post: Post) -> TypeGuard[MediaRecord]:
    return record is not None and record.owner_id == post.author_id and record.state is MediaState.READY


def _payload(post: Post, record: MediaRecord | None, moderation: ModerationState) -> VectorPayload:
    kind: Kind = "text" if record is None else ("video" if record.kind is MediaKind.VIDEO else "image")
    return VectorPayload(
        post_id=post.id,
        media_id=None if record is None else record.id,
        author_id=post.author_id,
        kind=kind,
        created_at=post.created_at,
        visibility="public",
        moderation=moderation,
    )


def _with_kind(payload: VectorPayload, kind: Kind) -> VectorPayload:
    return dataclasses.replace(payload, kind=kind)


def _search_kinds(kinds: Sequence[Kind] | None) -> tuple[Kind, ...]:
    """Media kinds to search; asking for videos includes their frames (a frame match finds the video)."""
    if not kinds:
        return SEARCH_KINDS
    wanted = set(kinds) & {"image", "video"}
    return tuple(k for k in SEARCH_KINDS if k in wanted or (k == "video_frame" and "video" in wanted))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


async def _read(store: BlobStore, key: str) -> bytes:
    async with store.local_copy(key) as path:
        return await trio.Path(path).read_bytes()


async def _decode(data: bytes) -> Image.Image:
    def decode() -> Image.Image:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")

    return await trio.to_thread.run_sync(decode)
