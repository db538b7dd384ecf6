"""The analysis role: what moderation and embedding learned about media and posts.

Kept apart from the media and social roles because it is written by a different actor (the
analysis pipeline) at a different time (after processing) and read by every post view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

ModerationState = Literal["pending", "ok", "flagged"]
TextKind = Literal["post", "comment", "message"]


@dataclass(frozen=True)
class MediaModeration:
    media_id: int
    owner_id: int
    state: ModerationState
    score: float | None
    reason: str | None
    kind: str | None = None
    """``image`` or ``video`` (read by :meth:`AnalysisStore.moderation`, for post views)."""
    variants: dict[str, Any] | None = None
    """The processed files once the media is ready, none once it is removed (read by
    :meth:`AnalysisStore.moderation`)."""


class AnalysisStore(Protocol):
    async def set_moderation(
        self, media_id: int, state: ModerationState, score: float, reason: str, *, only_pending: bool = False
    ) -> None:
        """Record a verdict; with ``only_pending`` (the classifier's) only on media no verdict has
        reached yet, so a moderator who was quicker than the classifier is not overruled by it."""

    async def moderation(self, media_ids: list[int]) -> dict[int, MediaModeration]: ...

    async def flagged(self, *, before_id: int | None = None, limit: int = 50) -> list[MediaModeration]:
        """Flagged media not removed, newest id first (the admin review list)."""
        ...

    async def frame_keys(self, media_id: int) -> list[str]:
        """Blob keys of a video's sampled frames, in time order."""
        ...

    async def posts_with_media(self, media_id: int) -> list[int]:
        """Undeleted posts that show this media."""
        ...

    async def set_alignment(self, post_id: int, score: float) -> None: ...

    async def alignments(self, post_ids: list[int]) -> dict[int, float]: ...

    async def set_text_verdicts(self, kind: TextKind, verdicts: list[tuple[int, bool, float]]) -> None:
        """Record ``(object_id, flagged, score)`` verdicts for texts of ``kind`` (one statement)."""
        ...

    async def flagged_texts(self, kind: TextKind, object_ids: list[int]) -> set[int]:
        """Which of these objects' texts the classifier flagged."""
        ...

    async def recent_likes(self, user_id: int, limit: int) -> list[int]:
        """Posts the user liked, most recent first (the taste "For you" starts from)."""
        ...

    async def record_view(self, user_id: int, post_id: int) -> None: ...

    async def recent_views(self, user_id: int, limit: int) -> list[int]:
        """Posts the user opened, most recent first."""
        ...

    async def mark_indexed(self, post_ids: list[int]) -> None: ...

    async def unindexed_posts(self, *, within_s: float, limit: int) -> list[int]:
        """Undeleted posts of the last ``within_s`` seconds the indexer has not finished, oldest first."""
        ...

    async def shows_sensitive(self, user_id: int) -> bool: ...

    async def sees_flagged_media(self, user_id: int) -> bool:
        """Whether post views show the user flagged media's files, not only their verdict: they
        opted in (``show_sensitive``) or they are a moderator."""
        ...

    async def set_shows_sensitive(self, user_id: int, value: bool) -> None: ...
