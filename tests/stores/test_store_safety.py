"""The SafetyStore contract (reports, the queue, resolutions, mutes) and content warnings, run
against every PostgreSQL implementation."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import get_args

import pytest

from kernel.errors import Invalid, LimitReached, NotFound
from protocol.views import REPORT_REASONS, REPORT_TARGETS, RESOLUTION_ACTIONS
from stores.postgres.analysis import PostgresAnalysisStore
from stores.postgres.database import open_database
from stores.postgres.messaging import PostgresMessageStore
from stores.postgres.safety import PostgresSafetyStore
from stores.postgres.social import PostgresSocialStore
from stores.postgres.users import PostgresUserStore
from stores.safety import Action, Reason, TargetKind


@dataclass
class Site:
    safety: PostgresSafetyStore
    social: PostgresSocialStore
    analysis: PostgresAnalysisStore
    messages: PostgresMessageStore
    users: PostgresUserStore

    async def new_users(self, n: int) -> list[int]:
        return [
            (await self.users.create_user(f"u_{uuid.uuid4().hex[:16]}", "Someone", "h")).id for _ in range(n)
        ]


@pytest.fixture
async def site(fresh_pg_dsn: str) -> AsyncIterator[Site]:
    """A database of its own: the queue is site-wide, so other tests' reports must not show."""
    async with open_database(fresh_pg_dsn, min_size=1, max_size=4) as db:
        yield Site(
            PostgresSafetyStore(db),
            PostgresSocialStore(db),
            PostgresAnalysisStore(db),
            PostgresMessageStore(db),
            PostgresUserStore(db),
        )


def test_the_stores_vocabulary_is_the_wire_s() -> None:
    assert get_args(TargetKind) == REPORT_TARGETS
    assert get_args(Reason) == REPORT_REASONS
    assert get_args(Action) == RESOLUTION_ACTIONS


async def test_reporting_again_updates_the_open_report_and_open_reports_are_capped(site: Site) -> None:
    reporter, author = await site.new_users(2)
    posts = [await site.social.create_post(author, f"post {n}", (), None) for n in range(3)]
    first = await site.safety.report(reporter, "post", posts[0].id, "spam", "", max_open=2)
    again = await site.safety.report(reporter, "post", posts[0].id, "hate", "slurs", max_open=2)
    assert first.created and not again.created
    assert (again.id, again.reason, again.note) == (first.id, "hate", "slurs")
    await site.safety.report(reporter, "post", posts[1].id, "spam", "", max_open=2)
    with pytest.raises(LimitReached):
        await site.safety.report(reporter, "post", posts[2].id, "spam", "", max_open=2)
    updated = await site.safety.report(reporter, "post", posts[1].id, "other", "still", max_open=2)
    assert not updated.created, "updating an open report is allowed at the cap"

    await site.safety.resolve(author, "post", posts[0].id, "dismiss", "")  # closes one: room again
    after = await site.safety.report(reporter, "post", posts[2].id, "spam", "", max_open=2)
    assert after.created
    reopened = await site.safety.report(reporter, "post", posts[0].id, "spam", "", max_open=5)
    assert reopened.created and reopened.id != first.id, "a resolved report is not reopened"


async def test_the_queue_gathers_reports_and_flagged_texts_newest_first(site: Site) -> None:
    alice, bob, carol = await site.new_users(3)
    post = await site.social.create_post(alice, "buy cheap pills", (), None, content_warning="ads")
    rude = await site.social.add_comment(post.id, bob, "you idiot", None)
    await site.analysis.set_text_verdicts("comment", [(rude.id, True, 0.99)])
    conversation = await site.messages.open_direct(alice, bob)
    message = await site.messages.add_message(conversation.id, bob, "private insult")
    await site.analysis.set_text_verdicts("message", [(message.id, True, 0.98)])
    await site.safety.report(bob, "post", post.id, "spam", "", max_open=10)
    await site.safety.report(carol, "post", post.id, "harassment", "targets me", max_open=10)
    await site.safety.report(alice, "user", bob, "harassment", "", max_open=10)

    page = await site.safety.queue(limit=10)
    assert [(i.target.kind, i.target.id) for i in page.items] == [
        ("user", bob),
        ("post", post.id),
        ("comment", rude.id),
    ], "newest first; a flagged direct message stays private until a member reports it"
    user_item, post_item, comment_item = page.items
    assert (post_item.reporters, post_item.reasons, post_item.notes) == (
        2,
        ("harassment", "spam"),
        ("targets me",),
    )
    assert (post_item.target.text, post_item.target.content_warning) == ("buy cheap pills", "ads")
    assert (comment_item.reporters, comment_item.target.flagged, comment_item.target.post_id) == (
        0,
        True,
        post.id,
    )
    assert comment_item.target.score == pytest.approx(0.99)
    assert user_item.target.author_id == bob and user_item.target.text == "Someone"

    first = await site.safety.queue(limit=2)
    assert first.next_cursor is not None
    rest = await site.safety.queue(cursor=first.next_cursor, limit=2)
    assert [i.target.id for i in [*first.items, *rest.items]] == [i.target.id for i in page.items]
    assert rest.next_cursor is None
    for forged in (
        "not a cursor",
        "2024-01-01T00:00:00+00:00|post|99999999999999999999",
        "2024-01-01|p\x00|1",
    ):
        with pytest.raises(Invalid):
            await site.safety.queue(cursor=base64.urlsafe_b64encode(forged.encode()).decode())
    with pytest.raises(Invalid):
        await site.safety.mutes(alice, cursor="not a cursor")

    await site.safety.report(alice, "message", message.id, "harassment", "", max_open=10)
    assert (await site.safety.queue(limit=1)).items[0].target.conversation_id == conversation.id


async def test_resolutions_close_reports_and_act_on_the_text(site: Site) -> None:
    alice, bob, moderator = await site.new_users(3)
    post = await site.social.create_post(alice, "hello", (), None)
    rude = await site.social.add_comment(post.id, bob, "you idiot", None)
    mild = await site.social.add_comment(post.id, bob, "meh", None)
    await site.analysis.set_text_verdicts("comment", [(rude.id, True, 0.99), (mild.id, True, 0.96)])
    await site.safety.report(alice, "comment", rude.id, "harassment", "", max_open=10)

    removed = await site.safety.resolve(moderator, "comment", rude.id, "remove", "insult")
    assert (removed.moderator_id, removed.action, removed.note, removed.reports_closed) == (
        moderator,
        "remove",
        "insult",
        1,
    )
    assert [c.id for c in await site.social.comments(post.id)] == [mild.id]
    assert (await site.social.get_posts([post.id]))[post.id].comments == 1
    assert (await site.safety.target("comment", rude.id)) is not None

    dismissed = await site.safety.resolve(moderator, "comment", mild.id, "dismiss", "")
    assert dismissed.reports_closed == 0
    assert await site.analysis.flagged_texts("comment", [mild.id]) == set(), "dismiss clears the flag"
    assert (await site.safety.queue()).items == []

    await site.safety.resolve(moderator, "post", post.id, "hide", "")
    assert await site.analysis.flagged_texts("post", [post.id]) == {post.id}
    assert (await site.safety.queue()).items == [], "a hidden text was decided: it stays out of the queue"
    await site.social.edit_post(post.id, alice, "hello again")
    assert [i.target.id for i in (await site.safety.queue()).items] == [post.id], "an edit is judged anew"


async def test_targets_of_every_kind_and_missing_ones(site: Site) -> None:
    (alice,) = await site.new_users(1)
    post = await site.social.create_post(alice, "hi", (), None)
    await site.social.delete_post(post.id, alice)
    gone = await site.safety.target("post", post.id)
    assert gone is not None and gone.removed
    for kind in ("post", "comment", "message", "user"):
        assert await site.safety.target(kind, 2**62) is None  # type: ignore[arg-type]


async def test_mutes_in_force_expire_and_page(site: Site) -> None:
    me, *others = await site.new_users(4)
    mute, new = await site.safety.mute(me, others[0], duration_s=None)
    assert new and mute.expires_at is None and mute.user_id == others[0]
    again, new = await site.safety.mute(me, others[0], duration_s=3600)
    assert not new and again.expires_at is not None and again.created_at == mute.created_at
    await site.safety.mute(me, others[1], duration_s=None)
    await site.safety.mute(me, others[2], duration_s=0.0)  # already over
    assert await site.safety.muted_set(me) == {others[0], others[1]}
    assert await site.safety.muters_of(others[0]) == {me}
    assert await site.safety.muters_of(others[2]) == set()
    assert await site.safety.muted_set(others[0]) == set(), "a mute is one way"
    _, new = await site.safety.mute(me, others[2], duration_s=None)
    assert new, "an ended mute counts as none"

    first = await site.safety.mutes(me, limit=2)
    rest = await site.safety.mutes(me, cursor=first.next_cursor, limit=2)
    assert [m.user_id for m in [*first.mutes, *rest.mutes]] == [others[2], others[1], others[0]]
    assert rest.next_cursor is None

    assert await site.safety.unmute(me, others[1]) is True
    assert await site.safety.unmute(me, others[1]) is False
    with pytest.raises(NotFound):
        await site.safety.mute(me, 2**62, duration_s=None)
    with pytest.raises(Invalid):
        await site.safety.mute(me, me, duration_s=None)


async def test_content_warnings_are_stored_changed_kept_and_cleared(site: Site) -> None:
    (author,) = await site.new_users(1)
    post = await site.social.create_post(author, "the ending", (), None, content_warning="spoilers")
    assert post.content_warning == "spoilers"
    kept = await site.social.edit_post(post.id, author, "the real ending")
    assert (kept.text, kept.content_warning) == ("the real ending", "spoilers")
    changed = await site.social.edit_post(post.id, author, "x", content_warning="big spoilers")
    assert changed.content_warning == "big spoilers"
    cleared = await site.social.edit_post(post.id, author, "x", content_warning=None)
    assert cleared.content_warning is None
    assert (await site.social.get_posts([post.id]))[post.id].content_warning is None
