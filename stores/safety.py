"""The safety role: reports, the moderators' queue and its resolutions, and mutes.

Kept apart from the social role because it is written by other hands at other times (a reporter,
a moderator) and read by few (moderators), except mutes, which every timeline read filters on:
those are :class:`MuteStore`, a narrow part the feed, social and intelligence layers depend on.

Times are Unix seconds (float); lists page with opaque cursors, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TargetKind = Literal["post", "comment", "message", "user"]
Reason = Literal["spam", "harassment", "hate", "violence", "sexual", "self_harm", "other"]
"""Why something is reported (the wire's ``REPORT_REASONS``; the migration checks the same set)."""
Action = Literal["dismiss", "remove", "hide"]
"""A moderator's decision (the wire's ``RESOLUTION_ACTIONS``)."""


@dataclass(frozen=True)
class Target:
    """What a report or a queue item is about, with what a moderator needs to judge it."""

    kind: TargetKind
    id: int
    author_id: int
    """Who wrote it (the account itself, for a ``user``)."""
    author_username: str
    text: str
    """The post's, comment's or message's text; an account's display name and bio."""
    content_warning: str | None
    media_ids: tuple[int, ...]
    post_id: int | None
    """The post a comment is on."""
    conversation_id: int | None
    """The conversation a message is in."""
    removed: bool
    """Deleted (a comment also when its post was)."""
    flagged: bool
    """The text is flagged (by the classifier, or a moderator's ``hide``)."""
    score: float | None
    """The classifier's score, when it judged the text."""


@dataclass(frozen=True)
class Report:
    id: int
    reporter_id: int
    kind: TargetKind
    target_id: int
    reason: Reason
    note: str
    created_at: float
    updated_at: float
    created: bool
    """False when the reporter's open report on this target was updated instead."""


@dataclass(frozen=True)
class QueueItem:
    """One object in the moderators' queue: its open reports taken together, or a flagged text."""

    target: Target
    reasons: tuple[str, ...]
    """The distinct reasons of its open reports (empty for a flagged text nobody reported)."""
    reporters: int
    notes: tuple[str, ...]
    """The latest non-empty notes of its open reports, newest first."""
    updated_at: float
    """The latest report, or when the flagged text was written: the queue's order."""


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None


@dataclass(frozen=True)
class Resolution:
    id: int
    kind: TargetKind
    target_id: int
    moderator_id: int | None
    action: Action
    note: str
    reports_closed: int
    created_at: float


@dataclass(frozen=True)
class Mute:
    user_id: int
    """The muted account."""
    created_at: float
    expires_at: float | None


@dataclass(frozen=True)
class MutePage:
    mutes: list[Mute]
    next_cursor: str | None


class MuteStore(Protocol):
    """Mutes, as what others read them for: who a viewer muted, who muted an author."""

    async def muted_set(self, user_id: int) -> set[int]:
        """The accounts ``user_id`` mutes now (ended mutes left out)."""
        ...

    async def muters_of(self, user_id: int) -> set[int]:
        """The accounts that mute ``user_id`` now: left out of its fan-out and notifications."""
        ...


class SafetyStore(MuteStore, Protocol):
    # --- reports and the queue ----------------------------------------------------------
    async def target(self, kind: TargetKind, target_id: int) -> Target | None:
        """The object, deleted or not, or None when there never was one."""
        ...

    async def report(
        self,
        reporter_id: int,
        kind: TargetKind,
        target_id: int,
        reason: Reason,
        note: str,
        *,
        max_open: int,
    ) -> Report:
        """File a report, or update the reporter's open one on the same target (reason and note).
        Raises ``LimitReached`` when the reporter already has ``max_open`` open reports."""
        ...

    async def queue(self, *, cursor: str | None = None, limit: int = 50) -> QueuePage:
        """Targets with open reports and flagged post and comment texts not resolved since they
        were written, newest first. Flagged direct messages come only when a member reports them."""
        ...

    async def resolve(
        self, moderator_id: int, kind: TargetKind, target_id: int, action: Action, note: str
    ) -> Resolution:
        """Record the decision and close the target's open reports, in one transaction. ``hide``
        flags the text, ``dismiss`` clears its flag, ``remove`` of a comment deletes it (a post's
        removal goes through the social store's delete, before this)."""
        ...

    # --- mutes --------------------------------------------------------------------------
    async def mute(self, muter_id: int, muted_id: int, *, duration_s: float | None) -> tuple[Mute, bool]:
        """Mute (again), and whether the mute is new (none was in force): the expiry is set anew
        either way; ``duration_s`` None mutes until unmuted. ``NotFound`` for no such account."""
        ...

    async def unmute(self, muter_id: int, muted_id: int) -> bool:
        """True if a mute (in force) was lifted."""
        ...

    async def mutes(self, user_id: int, *, cursor: str | None = None, limit: int = 50) -> MutePage:
        """The mutes in force, newest first."""
        ...
