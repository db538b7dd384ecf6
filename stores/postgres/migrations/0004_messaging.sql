-- Direct messages: one-to-one and small-group conversations, their members and messages.
--
-- Membership is fixed when a conversation is created (nobody joins later, so nobody can read a
-- conversation they were not in from its start). A one-to-one conversation is unique per pair:
-- direct_key is "<low id>:<high id>".

CREATE TABLE conversations (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text        NOT NULL CONSTRAINT conversations_kind CHECK (kind IN ('direct', 'group')),
    title      text        NOT NULL DEFAULT '' CONSTRAINT conversations_title_length CHECK (char_length(title) <= 100),
    created_by bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    direct_key text        UNIQUE,
    CONSTRAINT conversations_direct_key CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

CREATE TABLE conversation_members (
    conversation_id   bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id           bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at         timestamptz NOT NULL DEFAULT now(),
    -- Receipts: the highest message id this member's devices received / the member read.
    last_delivered_id bigint      NOT NULL DEFAULT 0,
    last_read_id      bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_user_idx ON conversation_members (user_id, conversation_id);

CREATE TABLE messages (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text            text        NOT NULL CONSTRAINT messages_text_length CHECK (char_length(text) BETWEEN 1 AND 5000),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id DESC);
