-- Profiles, the follow/block graph, posts, likes, comments, and the relational time-series tables
-- behind the default TimelineStore.
--
-- Profile and post counters are columns kept exact by the store, in the same statement as the row
-- they count, rather than count(*) at read time: a profile read must not scan a million follows of
-- a big account, and big_accounts_followed() filters followees by follower count, which only a
-- column can answer with an index lookup. The cost is that follows of one account serialise on its
-- users row — a short lock, taken anyway to order follow against block.

ALTER TABLE users
    ADD COLUMN bio             text   NOT NULL DEFAULT '' CONSTRAINT users_bio_length CHECK (char_length(bio) <= 500),
    -- No foreign key: the media tables arrive in a later migration.
    ADD COLUMN avatar_media_id bigint,
    ADD COLUMN follower_count  bigint NOT NULL DEFAULT 0 CONSTRAINT users_follower_count_sign CHECK (follower_count >= 0),
    ADD COLUMN following_count bigint NOT NULL DEFAULT 0 CONSTRAINT users_following_count_sign CHECK (following_count >= 0),
    ADD COLUMN post_count      bigint NOT NULL DEFAULT 0 CONSTRAINT users_post_count_sign CHECK (post_count >= 0);

CREATE TABLE follows (
    follower_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CONSTRAINT follows_not_self CHECK (follower_id <> followee_id)
);
-- Keyset pages of followers (newest first) and fan-out; the PK serves "does A follow B".
CREATE INDEX follows_followers_idx ON follows (followee_id, created_at DESC, follower_id DESC);
-- Keyset pages of the accounts a user follows, newest first.
CREATE INDEX follows_following_idx ON follows (follower_id, created_at DESC, followee_id DESC);

CREATE TABLE blocks (
    blocker_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
);
-- "Who blocked me", for blocked_set() and the either-direction check.
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);

CREATE TABLE posts (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text          text        NOT NULL CONSTRAINT posts_text_length CHECK (char_length(text) <= 5000),
    media_ids     bigint[]    NOT NULL DEFAULT '{}',
    reply_to      bigint      REFERENCES posts (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    edited_at     timestamptz,
    deleted_at    timestamptz,
    like_count    int         NOT NULL DEFAULT 0 CONSTRAINT posts_like_count_sign CHECK (like_count >= 0),
    comment_count int         NOT NULL DEFAULT 0 CONSTRAINT posts_comment_count_sign CHECK (comment_count >= 0),
    -- A post says something: text, media, or both.
    CONSTRAINT posts_not_empty CHECK (text <> '' OR cardinality(media_ids) > 0),
    CONSTRAINT posts_media_limit CHECK (cardinality(media_ids) <= 16)
);
CREATE INDEX posts_author_idx ON posts (author_id, id DESC);

CREATE TABLE likes (
    post_id    bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE comments (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id    bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reply_to   bigint      REFERENCES comments (id),
    text       text        NOT NULL CONSTRAINT comments_text_length CHECK (char_length(text) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX comments_post_idx ON comments (post_id, id);

-- Time series (stores.timeline): one head row per (user, stream) holds the last sequence number;
-- appending locks it, which is what makes sequences gap-free and visible in order. No foreign
-- keys to users: a fan-out to 10,000 users must not pay 10,000 lookups to check them.
CREATE TABLE stream_heads (
    user_id bigint NOT NULL,
    stream  text   NOT NULL,
    seq     bigint NOT NULL CONSTRAINT stream_heads_seq_positive CHECK (seq > 0),
    PRIMARY KEY (user_id, stream)
);

CREATE TABLE stream_entries (
    user_id    bigint      NOT NULL,
    stream     text        NOT NULL,
    seq        bigint      NOT NULL,
    type       text        NOT NULL,
    body       bytea       NOT NULL,  -- msgpack
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, stream, seq)
);
