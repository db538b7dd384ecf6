-- Client keys (idempotency keys) of creating requests: post.create, comment.create and dm.send.
--
-- A client names each action with a key of its own and sends it again when it retries, so that a
-- retry after a lost reply returns the first object instead of creating a second one. The row is
-- claimed (inserted, or taken over once expired) in the same transaction that creates the object:
-- two requests with one key at the same instant serialise on the primary key, and the second finds
-- the first's object. object_id is NULL only inside that transaction. fingerprint is a hash of the
-- request's content: a key reused for different content is refused rather than answered with an
-- object the client did not ask for. Keys expire after a day (protocol/client_keys.py); each
-- claim deletes a few expired rows, oldest first, so the table holds about a day of keys.
CREATE TABLE client_keys (
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text        NOT NULL CONSTRAINT client_keys_kind CHECK (kind IN ('post', 'comment', 'message')),
    key         text        NOT NULL CONSTRAINT client_keys_key CHECK (key ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    fingerprint bytea       NOT NULL,
    object_id   bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, key)
);
CREATE INDEX client_keys_expiry_idx ON client_keys (created_at);
