-- Fan-out is at least once: a post is pending until every follower's home stream has it. A crash (or
-- an outage outlasting the FeedActor's retries) between a post's acknowledgement and its fan-out
-- leaves it pending, and a recovery sweep fans it out again.
ALTER TABLE posts ADD COLUMN fanned_out_at timestamptz, ADD COLUMN fanout_claimed_at timestamptz;
UPDATE posts SET fanned_out_at = created_at;
CREATE INDEX posts_fanout_pending_idx ON posts (created_at) WHERE fanned_out_at IS NULL AND deleted_at IS NULL;
