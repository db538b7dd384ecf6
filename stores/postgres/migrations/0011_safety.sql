-- Safety tools: content warnings on posts, reports of content and accounts, the moderators'
-- resolutions of them, and mutes.

-- Spoiler text shown in place of a post until the reader opens it; NULL when the post has none
-- (an empty warning is stored as NULL, so "has a warning" is one test).
ALTER TABLE posts ADD COLUMN content_warning text
    CONSTRAINT posts_content_warning_length CHECK (char_length(content_warning) BETWEEN 1 AND 500);

-- What a moderator decided about one reported or flagged object, and who did, when. Written once,
-- never changed: the record of moderation. Reports point at the resolution that closed them.
CREATE TABLE moderation_resolutions (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_kind    text        NOT NULL
        CONSTRAINT moderation_resolutions_target_kind CHECK (target_kind IN ('post', 'comment', 'message', 'user')),
    target_id      bigint      NOT NULL,
    moderator_id   bigint      REFERENCES users (id) ON DELETE SET NULL,
    action         text        NOT NULL
        CONSTRAINT moderation_resolutions_action CHECK (action IN ('dismiss', 'remove', 'hide')),
    note           text        NOT NULL DEFAULT ''
        CONSTRAINT moderation_resolutions_note_length CHECK (char_length(note) <= 1000),
    reports_closed int         NOT NULL CONSTRAINT moderation_resolutions_closed_sign CHECK (reports_closed >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- "Was this flagged text resolved since it was last written?", for the queue.
CREATE INDEX moderation_resolutions_target_idx ON moderation_resolutions (target_kind, target_id, created_at DESC);

-- A user's report of a post, comment, direct message or account. No foreign key on the target:
-- it is one of four tables, and the target's own row (soft-deleted at most) outlives the report.
CREATE TABLE reports (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reporter_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_kind   text        NOT NULL
        CONSTRAINT reports_target_kind CHECK (target_kind IN ('post', 'comment', 'message', 'user')),
    target_id     bigint      NOT NULL,
    reason        text        NOT NULL
        CONSTRAINT reports_reason CHECK (reason IN ('spam', 'harassment', 'hate', 'violence', 'sexual', 'self_harm', 'other')),
    note          text        NOT NULL DEFAULT '' CONSTRAINT reports_note_length CHECK (char_length(note) <= 1000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    resolution_id bigint      REFERENCES moderation_resolutions (id)  -- NULL while the report is open
);
-- One open report per reporter and target: reporting again updates it.
CREATE UNIQUE INDEX reports_open_once ON reports (reporter_id, target_kind, target_id) WHERE resolution_id IS NULL;
-- The queue: open reports by target.
CREATE INDEX reports_open_target_idx ON reports (target_kind, target_id) WHERE resolution_id IS NULL;

-- The classifier's flagged texts, for the queue (the table's primary key serves every other read).
CREATE INDEX text_verdicts_flagged_idx ON text_verdicts (kind, object_id) WHERE flagged;

-- Mutes hide an account from the muter without telling it: no effect on follows or on what the
-- muted account sees. expires_at NULL: until unmuted; a past expires_at is an ended mute.
CREATE TABLE mutes (
    muter_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    muted_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    PRIMARY KEY (muter_id, muted_id),
    CONSTRAINT mutes_not_self CHECK (muter_id <> muted_id)
);
-- "Who muted this author", for fan-out and notifications.
CREATE INDEX mutes_muted_idx ON mutes (muted_id, muter_id);
-- Keyset pages of a user's mutes, newest first.
CREATE INDEX mutes_list_idx ON mutes (muter_id, created_at DESC, muted_id DESC);
