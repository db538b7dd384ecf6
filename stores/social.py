"""The social role: profiles, the follow/block graph, posts, likes and comments.

Relational data with integrity rules (one like per user and post, no follow across a block, only
the author edits a post) — it lives in PostgreSQL. The high-volume per-user time series built from
it (home timelines, notifications, activity) live behind :mod:`stores.timeline`.

Times are Unix seconds (float) so callers never juggle time zones. Lists page with opaque cursors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, Protocol


class _Keep(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Keep.UNCHANGED
"""An edit's "leave this field as it is", where None is a value (no content warning)."""
Unchanged = Literal[_Keep.UNCHANGED]


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    display_name: str
    bio: str
    avatar_media_id: int | None
    created_at: float
    followers: int
    following: int
    posts: int


@dataclass(frozen=True)
class Post:
    id: int
    author_id: int
    text: str
    media_ids: tuple[int, ...]
    reply_to: int | None
    created_at: float
    edited_at: float | None
    likes: int
    comments: int
    content_warning: str | None = None
    """Spoiler text shown instead of the post until the reader opens it; None when it has none."""
    replayed: bool = field(default=False, compare=False)
    """True when :meth:`SocialStore.create_post` found this post under the request's client key:
    created by an earlier try, so the caller must not repeat what creating it set off."""

    @property
    def judged_text(self) -> str:
        """What the text classifier reads: the content warning is the author's words too."""
        return f"{self.content_warning}\n{self.text}" if self.content_warning else self.text


@dataclass(frozen=True)
class Comment:
    id: int
    post_id: int
    author_id: int
    reply_to: int | None
    """The comment this one answers (threads), or None for a top-level comment."""
    text: str
    created_at: float
    replayed: bool = field(default=False, compare=False)
    """True when :meth:`SocialStore.add_comment` found this comment under the request's client key."""


@dataclass(frozen=True)
class UserPage:
    """A page of a followers/following list, newest relationship first."""

    user_ids: list[int]
    next_cursor: str | None


class SocialStore(Protocol):
    # --- profiles ----------------------------------------------------------------------
    async def get_profile(self, user_id: int) -> Profile | None: ...

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        avatar_media_id: int | None = None,
    ) -> Profile:
        """Change the given fields (None leaves a field as it is)."""
        ...

    # --- graph -------------------------------------------------------------------------
    async def follow(self, follower_id: int, followee_id: int) -> bool:
        """True if the follow is new. Raises ``Blocked`` if either blocked the other, ValueError
        for a self-follow."""
        ...

    async def unfollow(self, follower_id: int, followee_id: int) -> bool: ...

    async def block(self, blocker_id: int, blocked_id: int) -> bool:
        """True if new; also removes follows in both directions, in the same transaction."""
        ...

    async def unblock(self, blocker_id: int, blocked_id: int) -> bool: ...

    async def blocked_between(self, a: int, b: int) -> bool:
        """Whether either user blocked the other."""
        ...

    async def blocked_set(self, user_id: int) -> set[int]:
        """Everyone ``user_id`` blocked or was blocked by (for filtering what they see)."""
        ...

    async def followers(self, user_id: int, *, cursor: str | None = None, limit: int = 50) -> UserPage: ...

    async def following(self, user_id: int, *, cursor: str | None = None, limit: int = 50) -> UserPage: ...

    async def follower_ids(self, user_id: int) -> list[int]:
        """All followers, for fan-out (follows are removed on block, so none is blocked)."""
        ...

    async def followed_among(self, user_id: int, candidates: list[int]) -> list[int]:
        """Which of ``candidates`` ``user_id`` follows (read-time merge of big accounts)."""
        ...

    async def liked_among(self, user_id: int, post_ids: list[int]) -> set[int]:
        """Which of ``post_ids`` ``user_id`` likes (post views say ``liked``)."""
        ...

    async def big_accounts_followed(self, user_id: int, min_followers: int) -> list[int]:
        """Accounts ``user_id`` follows that have at least ``min_followers`` followers."""
        ...

    # --- posts -------------------------------------------------------------------------
    async def create_post(
        self,
        author_id: int,
        text: str,
        media_ids: tuple[int, ...],
        reply_to: int | None,
        *,
        client_key: str | None = None,
        content_warning: str | None = None,
    ) -> Post:
        """Raises ``NotFound`` if ``reply_to`` names no (undeleted) post.

        With a ``client_key`` the author used for a post in the last day, creates nothing and
        returns that post, ``replayed`` (``NotFound`` if it was deleted since); with the same key
        but other content, raises ``Conflict``. Two calls with one key at once create one post.
        """
        ...

    async def get_posts(self, post_ids: list[int]) -> dict[int, Post]:
        """The undeleted posts among ``post_ids``, by id."""
        ...

    async def edit_post(
        self, post_id: int, author_id: int, text: str, *, content_warning: str | Unchanged | None = UNCHANGED
    ) -> Post:
        """Raises ``NotFound`` (no such post) or ``Forbidden`` (not the author). The content
        warning is replaced (None clears it) unless ``UNCHANGED``."""
        ...

    async def delete_post(self, post_id: int, author_id: int) -> None:
        """Soft-delete; in the same transaction its media no other live post and no avatar shows
        is removed (no longer served; files deleted by the media janitor). Raises ``NotFound`` or
        ``Forbidden`` like :meth:`edit_post`."""
        ...

    async def posts_by(
        self, author_ids: list[int], *, before_id: int | None = None, limit: int = 50
    ) -> list[Post]:
        """Undeleted posts of these authors, newest first, with ids below ``before_id``."""
        ...

    # --- likes and comments -----------------------------------------------------------
    async def like(self, user_id: int, post_id: int) -> bool:
        """True if new (and the post's like count went up). Raises ``NotFound``."""
        ...

    async def unlike(self, user_id: int, post_id: int) -> bool: ...

    async def add_comment(
        self, post_id: int, author_id: int, text: str, reply_to: int | None, *, client_key: str | None = None
    ) -> Comment:
        """Raises ``NotFound`` if the post, or the comment answered, does not exist (on that post).

        ``client_key`` as for :meth:`create_post`: a retry returns the first comment, ``replayed``.
        """
        ...

    async def comments(self, post_id: int, *, after_id: int | None = None, limit: int = 50) -> list[Comment]:
        """Oldest first, so threads read top-down; page with the last id seen."""
        ...
