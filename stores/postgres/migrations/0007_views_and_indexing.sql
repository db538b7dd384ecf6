-- Signals for "For you" (posts a user opened) and crash-safe indexing (which posts are indexed).

CREATE TABLE post_views (
    user_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id   bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    viewed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX post_views_recent_idx ON post_views (user_id, viewed_at DESC);

-- NULL until the indexer has embedded the post: at start-up, unindexed recent posts are queued again,
-- so a crash or a full queue delays indexing but never loses it.
ALTER TABLE posts ADD COLUMN indexed_at timestamptz;
CREATE INDEX posts_unindexed_idx ON posts (created_at) WHERE indexed_at IS NULL AND deleted_at IS NULL;
