-- Media (issue 5): uploaded files, their processing jobs, resumable uploads, sampled video frames.

CREATE TABLE media (
    -- Status is shown to the owner only and files are served by content hash, so a sequential id
    -- reveals nothing; posts refer to media by this id.
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('image', 'video')),
    -- Content address (sha256) of the original in the private blob store.
    original_key   text NOT NULL,
    original_bytes bigint NOT NULL,
    -- What the uploader sees; the job row below is the worker's view.
    state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'ready', 'failed')),
    progress       real NOT NULL DEFAULT 0,
    reason         text,
    variants       jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX media_owner_idx ON media (owner_id, created_at DESC);

CREATE TABLE media_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    media_id         bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'ready', 'failed')),
    -- attempts: times claimed; completions: times it reached ready/failed (must end at exactly 1).
    attempts         int NOT NULL DEFAULT 0,
    completions      int NOT NULL DEFAULT 0,
    run_after        timestamptz NOT NULL DEFAULT now(),
    -- A fresh token per claim: only the holder of the current lease may renew or finish the job.
    lease_token      uuid,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX media_jobs_due_idx ON media_jobs (run_after, id) WHERE state = 'queued';
CREATE INDEX media_jobs_leased_idx ON media_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX media_jobs_media_idx ON media_jobs (media_id);

CREATE TABLE media_uploads (
    -- Random: an upload id is in URLs before any media exists.
    id         uuid PRIMARY KEY,
    owner_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    length     bigint NOT NULL CHECK (length > 0),
    -- Set once the last byte arrived and the media row was created.
    media_id   bigint REFERENCES media (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Frames sampled from videos (keyframes, at most one per second) for the embedder (a later issue).
CREATE TABLE media_frames (
    media_id bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    t_s      real NOT NULL,
    key      text NOT NULL,
    width    int NOT NULL,
    height   int NOT NULL,
    PRIMARY KEY (media_id, t_s)
);
