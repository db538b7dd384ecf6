"""The analysis store's moderation verdicts: a moderator's decision stands over a late classifier."""

from __future__ import annotations

import uuid

from stores.blobs import Blob
from stores.media import MediaKind
from stores.postgres.analysis import PostgresAnalysisStore
from stores.postgres.database import Database
from stores.postgres.media import PostgresMediaStore
from stores.postgres.users import PostgresUserStore


async def test_the_classifier_never_overrules_a_verdict_already_given(
    db: Database, user_store: PostgresUserStore
) -> None:
    owner = (await user_store.create_user(f"m_{uuid.uuid4().hex[:12]}", "Owner", "h")).id
    media = await PostgresMediaStore(db).create_media(owner, MediaKind.IMAGE, Blob("a" * 64 + ".jpg", 10))
    analysis = PostgresAnalysisStore(db)

    await analysis.set_moderation(media.id, "ok", 0.0, "reviewed: ok")  # a moderator was quicker
    await analysis.set_moderation(media.id, "flagged", 0.9, "classifier", only_pending=True)
    assert (await analysis.moderation([media.id]))[media.id].state == "ok"

    other = await PostgresMediaStore(db).create_media(owner, MediaKind.IMAGE, Blob("b" * 64 + ".jpg", 10))
    await analysis.set_moderation(other.id, "flagged", 0.9, "classifier", only_pending=True)
    assert (await analysis.moderation([other.id]))[other.id].state == "flagged"
