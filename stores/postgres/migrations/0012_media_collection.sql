-- Media collection: a media item no live post and no avatar shows any more stops being served at
-- once and its files are deleted by the media janitor (actors/media/janitor.py).
--
-- 'removed' is terminal: nothing attaches a removed item again, its variants are in no view, and
-- /media/files/{key} answers 404 unless a media row that is not removed holds the key. The janitor
-- then deletes the blobs no live row shares (keys are content hashes: the same picture uploaded
-- twice is one blob) and the row itself.
ALTER TABLE media
    DROP CONSTRAINT media_state_check,
    ADD CONSTRAINT media_state_check CHECK (state IN ('queued', 'running', 'ready', 'failed', 'removed')),
    -- When it was first attached to a post or as an avatar; NULL: never. Detaching (a deleted
    -- post, a replaced avatar) removes an item at once; a never-attached upload is removed only
    -- after media_unattached_ttl_s.
    ADD COLUMN attached_at timestamptz;

-- The public files of a processed item: the keys of its renditions (see protocol/views.py
-- `variants`: thumbnails, poster, playback copy; the placeholder is inline).
CREATE FUNCTION media_file_keys(variants jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(
        SELECT key #>> '{}' FROM jsonb_path_query(variants, '$.thumbnails[*].key') AS key
        UNION SELECT key #>> '{}' FROM jsonb_path_query(variants, '$.poster.key') AS key
        UNION SELECT key #>> '{}' FROM jsonb_path_query(variants, '$.video.key') AS key
    );

-- Which media rows hold each public file, written with the variants (stores/postgres/media.py).
-- "Does a live media row hold this file?" is then a B-tree probe here and one on media's key:
-- asked on every file served, and by the janitor before it deletes a public blob.
CREATE TABLE media_files (
    key      text   NOT NULL,
    media_id bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    PRIMARY KEY (key, media_id)
);
CREATE INDEX media_files_media_idx ON media_files (media_id);
INSERT INTO media_files (key, media_id)
SELECT key, id FROM media, unnest(media_file_keys(variants)) AS key WHERE variants IS NOT NULL;

-- The same test for the private blobs (originals, sampled frames).
CREATE INDEX media_live_original_idx ON media (original_key) WHERE state <> 'removed';
CREATE INDEX media_frames_key_idx ON media_frames (key);
-- The janitor's work: removed items, and uploads never attached (by age).
CREATE INDEX media_removed_idx ON media (id) WHERE state = 'removed';
CREATE INDEX media_unattached_idx ON media (created_at) WHERE attached_at IS NULL AND state IN ('ready', 'failed');

-- "Does another live post or an avatar still show this item?", asked when a post is deleted.
CREATE INDEX posts_live_media_idx ON posts USING gin (media_ids) WHERE deleted_at IS NULL;
CREATE INDEX users_avatar_idx ON users (avatar_media_id) WHERE avatar_media_id IS NOT NULL;

-- What was attached before this migration (the time is unknown: the migration's stands in).
UPDATE media SET attached_at = now()
WHERE id IN (SELECT unnest(media_ids) FROM posts UNION SELECT avatar_media_id FROM users);
-- What only posts deleted before this migration showed: detached already, so removed now.
UPDATE media SET state = 'removed', updated_at = now()
WHERE attached_at IS NOT NULL AND state = 'ready'
  AND id NOT IN (SELECT unnest(media_ids) FROM posts WHERE deleted_at IS NULL)
  AND id NOT IN (SELECT avatar_media_id FROM users WHERE avatar_media_id IS NOT NULL);
