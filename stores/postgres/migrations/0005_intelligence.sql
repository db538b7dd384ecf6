-- What the platform learns about its content (issue 8): moderation verdicts on media, caption/media
-- alignment on posts, and each user's choice to see sensitive media.

ALTER TABLE media
    ADD COLUMN moderation        text NOT NULL DEFAULT 'pending'
        CONSTRAINT media_moderation_state CHECK (moderation IN ('pending', 'ok', 'flagged')),
    ADD COLUMN moderation_score  real,
    ADD COLUMN moderation_reason text;
-- The admin review list: flagged media, newest first.
CREATE INDEX media_flagged_idx ON media (updated_at DESC) WHERE moderation = 'flagged';

ALTER TABLE posts
    -- 0..100: how well the caption describes the media (NULL: no media, or not analysed yet).
    ADD COLUMN alignment real CONSTRAINT posts_alignment_range CHECK (alignment BETWEEN 0 AND 100);

ALTER TABLE users
    ADD COLUMN show_sensitive boolean NOT NULL DEFAULT false;
