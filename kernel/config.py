"""All of Viora's configuration, in one place.

Every knob is read from the environment (``VIORA_*``) once, at start-up, into a frozen
:class:`Settings`. Nothing else in the code base reads ``os.environ``: tests build a
``Settings`` directly, so what a component depends on is visible in its signature.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    # --- where things live -------------------------------------------------------------
    data_dir: Path = Path("viora-data")
    """Everything the embedded defaults keep on disk (PostgreSQL cluster, admin token)."""
    host: str = "127.0.0.1"
    port: int = 8080
    media_dir: Path | None = None
    """Uploads, originals and processed media files. ``None``: ``data_dir/media``. Several processes
    behind one load balancer point it at one shared folder, so any of them serves any upload."""
    web_dir: Path | None = None
    """The built web app served at ``/``. ``None``: the repository's ``web/dist`` (``npm run build``)."""

    # --- stores ------------------------------------------------------------------------
    pg_dsn: str | None = None
    """A PostgreSQL server to use. ``None`` starts an embedded PostgreSQL under ``data_dir``."""
    db_pool_size: int = 8
    """Connections in the PostgreSQL pool; also the number of threads that may wait on it."""
    db_pool_timeout_s: float = 5.0
    """How long a request waits for a pooled connection before it gets ``unavailable``."""
    cassandra_hosts: str | None = None
    """Comma-separated Cassandra contact points for the timelines. ``None`` keeps them in PostgreSQL."""
    cassandra_keyspace: str = "viora"
    redis_url: str | None = None
    """A Redis server shared by several server processes (event bus, presence). ``None``: this
    process stands alone and keeps both in memory."""
    redis_prefix: str = "viora"
    """Prefix of every Redis key and channel, so several sites (or test runs) can share a server."""
    redis_threads: int = 8
    """Redis commands in flight at once (worker threads, pooled connections)."""
    redis_timeout_s: float = 5.0
    presence_ttl_s: float = 15.0
    """A process that stops refreshing its liveness for this long (it crashed) has its users
    shown offline."""

    # --- security ----------------------------------------------------------------------
    admin_token: str | None = None
    """Bearer token for /admin/*. ``None`` generates one and writes it to ``data_dir/admin.token``."""
    token_ttl_s: float = 30 * 24 * 3600.0
    kdf_threads: int = 1
    """Password hashes computed at once (argon2: one core and 64 MiB each). Raise it on machines
    with cores to spare for bursts of log-ins."""
    kdf_queue: int = 32
    """Sign-ins and sign-ups waiting for a password hash at most; beyond it they get ``busy`` at once."""
    login_failures_limit: int = 10
    """Failed log-ins per username within ``login_failures_window_s`` before log-ins are refused."""
    login_failures_window_s: float = 300.0
    login_address_failures_limit: int = 50
    """Failed log-ins from one client address (any usernames) within ``login_failures_window_s``
    before that address is refused: one password tried on many accounts. Loopback is exempt, as
    for the socket cap (behind a proxy every client shares its address)."""

    # --- protocol limits ---------------------------------------------------------------
    max_frame_bytes: int = 64 * 1024
    rate_per_s: float = 50.0
    """Sustained requests per second per connection (token bucket)."""
    rate_burst: int = 100
    malformed_limit: int = 10
    """Malformed frames tolerated within ``malformed_window_s`` before the socket is closed."""
    malformed_window_s: float = 60.0
    heartbeat_interval_s: float = 20.0
    heartbeat_timeout_s: float = 60.0
    """A peer silent for this long is considered dead and its socket is closed."""
    max_sockets_per_user: int = 32
    """Sockets one account may have open on one process (tabs, devices); one more is refused."""
    max_sockets_per_address: int = 256
    """Sockets one client address may have open at once (loopback and proxies excepted: see
    ``edges/ws/sockets.py``); one more is closed with 1013 at once."""
    sign_in_deadline_s: float = 60.0
    """A socket that has not signed in this long after connecting is closed (4005): anonymous
    sockets cost memory and a heartbeat each, and the only thing they can do is sign in."""
    outbox_capacity: int = 256
    """Frames queued towards one socket; a client that falls further behind is disconnected."""
    outbox_max_bytes: int = 8 * 1024 * 1024
    """Bytes queued towards one socket at most (a full ``stream.resume`` page of large posts fits);
    a client that lets more pile up is disconnected at once and resumes later."""
    outbox_total_max_bytes: int = 256 * 1024 * 1024
    """Bytes queued towards all of the process's sockets together: past it, a socket that is behind
    (has frames waiting) is disconnected when the next frame comes for it, so RSS stays bounded
    however many clients stop reading at once."""
    request_timeout_s: float = 10.0

    # --- actors ------------------------------------------------------------------------
    session_mailbox: int = 256
    session_idle_s: float = 30.0
    """A SessionActor with no sockets for this long stops (its user can sign in again at any time)."""
    shutdown_drain_s: float = 5.0
    presence_mailbox: int = 4096
    """Queued presence changes; a burst of sign-ins beyond it drops changes (counted in the tree)."""
    index_mailbox: int = 4096
    """Queued content-analysis jobs (new media, new posts)."""
    admin_users: str = ""
    """Comma-separated usernames made moderators at start-up, if their accounts exist by then (the
    right is recorded on the account: a name registered later gets nothing)."""

    # --- feeds -------------------------------------------------------------------------
    feed_actors: int = 4
    """FeedActors sharing fan-out work; an author's posts always go through the same one."""
    feed_mailbox: int = 1024
    fanout_write_limit: int = 10_000
    """Followers above which a post is not written to every follower's home timeline: it is
    merged in when they read (and pushed only to followers online now)."""

    # --- safety (services/safety.py) ---------------------------------------------------
    reports_open_limit: int = 50
    """Reports one account may have waiting for a moderator at once; one more is ``limit_reached``
    (updating an open report is always allowed). Bounds what one account can pile on the queue."""

    # --- observability -----------------------------------------------------------------
    loop_lag_probe_s: float = 0.05

    # --- media -------------------------------------------------------------------------
    media_max_bytes: int = 512 * 1024 * 1024
    """Largest upload accepted (direct or resumable); checked while the body streams in."""
    media_max_duration_s: float = 600.0
    """Longest video accepted: checked on the container header at upload, and again while decoding."""
    media_max_pixels: int = 64_000_000
    """Largest image or video frame (width x height) we agree to decode: the decompression-bomb limit,
    checked on the header before any pixel is decoded."""
    media_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """MediaActors in the pool, and threads that may decode at once (sized to the cores: the work is CPU-bound)."""
    media_thumbnail_widths: str = "160,480,1080"
    """Thumbnail widths, comma separated; never upscaled."""
    media_x264_preset: str = "veryfast"
    """libx264 preset for playback copies: veryfast is ~2x medium's speed for a few % more bytes."""
    media_x264_crf: int = 23
    media_lease_s: float = 30.0
    """A claimed job's lease; renewed every third of it while the job runs. A crashed worker's job is
    claimed again once its lease expires."""
    media_max_attempts: int = 5
    """Attempts (transient errors, crashes) before a job ends ``failed``."""
    media_retry_initial_s: float = 1.0
    media_retry_max_s: float = 60.0
    media_pending_per_user: int = 16
    """Uploads one user may have queued or processing at once; one more is refused (429) until
    some are done. With fair claiming (the user with fewest jobs running goes first) it keeps one
    user's burst from filling everyone's queue."""
    media_upload_ttl_s: float = 24 * 3600.0
    """A resumable upload not completed this long after it began is deleted (staging file and row)."""
    media_upload_sweep_s: float = 600.0
    """How often the media janitor sweeps: abandoned resumable uploads, then removed media."""
    media_unattached_ttl_s: float = 7 * 24 * 3600.0
    """A processed (or failed) upload never attached to a post or as an avatar this long after it
    arrived is removed and its files deleted. Generous (Mastodon keeps unattached media a day): a
    draft left for a weekend keeps its pictures. Detached media (a deleted post's, a replaced
    avatar) is removed at once, whatever its age."""
    media_blob_grace_s: float = 3600.0
    """A removed item's file written less than this long ago is not deleted yet: the same content
    uploaded again meanwhile is written before its row says so (see stores/blobs.py). Far above
    the time from a job's last write to its commit."""
    media_poll_s: float = 1.0
    """How often idle dispatchers look for due retries and expired leases (new uploads wake them at once)."""
    media_job_timeout_s: float = 900.0
    """Wall-clock budget of one job's decoding. Its decoder process is killed past it and the job ends
    ``failed`` (``too_long``): a file that makes a decoder spin costs this much once, not forever."""
    media_probe_timeout_s: float = 10.0
    """Budget of the header read at upload (the declared duration); past it the upload is refused."""
    media_job_memory_bytes: int = 2 * 1024**3
    """Address space one decoder process may map, its libraries included (``RLIMIT_AS``): a file that
    needs more ends ``failed`` (``too_large``) instead of swelling the server."""
    media_max_frames: int = 36_000
    """Most video frames one job decodes whatever the file declares (600 s at 60 fps). Each video's
    own budget is its declared duration times its frame rate, below this cap."""
    media_max_fps: float = 240.0
    """Highest frame rate a video may declare (slow-motion phone clips reach 240); above it the
    frame rate is taken for a lie and the job ends ``failed``."""

    # --- moderation (ml/moderation/) --------------------------------------------------
    moderation_image_threshold: float = 0.5
    """NudeNet score of an exposed-nudity detection (``NSFW_LABELS``) at or above which an image or
    video frame is flagged. The detector reports nothing under 0.2; the clean sample photos have no
    NSFW detection at all."""
    moderation_text_threshold: float = 0.95
    """alt-profanity-check probability at or above which a caption, comment or DM is flagged. Above
    the model's own 0.5: mild everyday sentences score 0.6-0.8, outright profanity ~1.0."""
    moderation_zero_shot_threshold: float = 0.9
    """CLIP zero-shot probability of the NSFW prompts that flags an image even when NudeNet did not."""
    moderation_threads: int = 1
    """Moderation inferences at once. One: onnxruntime already spreads an inference over the cores."""

    # --- embedder (ml/clip.py, actors/embedder/) ----------------------------------------
    clip_model: str = "ViT-B-32"
    """open_clip model name (``viora-tiny`` is the tiny random-init test model)."""
    clip_pretrained: str | None = None
    """open_clip pretrained tag. Hubs are unreachable here: the weights must already be cached.
    ``None`` with no checkpoint: random init — the real compute, no semantic quality."""
    clip_checkpoint: Path | None = None
    """A local checkpoint file for ``clip_model``; wins over ``clip_pretrained``."""
    clip_cpu_threads: int = 0
    """Torch threads for inference on a CPU; 0 = one per core but one, leaving a core to the event
    loop and the database."""
    embedder_max_batch: int = 32
    """Requests embedded in one forward pass at most."""
    embedder_max_wait_ms: float = 10.0
    """How long a batch waits for more requests after its first one arrived before it runs."""
    embedder_queue: int = 256
    """Requests waiting for the embedder; beyond it callers get ``busy`` at once."""
    embedder_timeout_s: float = 30.0
    """Default time a caller waits for its vector (queueing and inference)."""

    # --- vectors (stores/vectors.py, stores/qdrant/) -------------------------------------
    qdrant_url: str | None = None
    """A Qdrant server for the vectors. ``None`` keeps them in Qdrant embedded in-process
    (qdrant-edge) under ``data_dir/vectors``; that directory serves one process only."""
    qdrant_api_key: str | None = None
    qdrant_collection: str = "viora_media"
    qdrant_exact: bool = False
    """Exact search on the server instead of its HNSW index (the embedded store is always exact)."""
    qdrant_hnsw_ef: int = 512
    """HNSW ``ef`` of server searches: high, because the default lost recall in our measurements."""
    vector_dim: int = 512
    """Dimension of the stored embeddings: must match the CLIP model's output."""
    vector_threads: int = 4
    """Vector store calls running at once in worker threads."""

    log_format: str | None = None
    """``json`` or ``text``; unset: text on a terminal, JSON lines otherwise (see viora/logging_setup.py)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``VIORA_<FIELD>`` variables; unknown or unset ones keep defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"VIORA_{f.name.upper()}")
            if raw is None or f.name == "extra":
                continue
            values[f.name] = _parse(f.type, raw)
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / "admin.token"

    @property
    def server_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def websocket_max_message_bytes(self) -> int:
        """Largest websocket message the transport assembles (frames together). Up to 4x our own
        limit a message reaches the codec and gets a typed error; beyond it the transport closes the
        socket with 1009 from the frame header, before buffering the payload."""
        return self.max_frame_bytes * 4

    @property
    def media_root(self) -> Path:
        """Uploads in progress and the local blob stores (originals, public variants)."""
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    @property
    def web_root(self) -> Path:
        """Where the built web app is (it may be missing: ``/`` then says how to build it)."""
        if self.web_dir is not None:
            return self.web_dir
        return Path(__file__).resolve().parent.parent / "web" / "dist"

    @property
    def media_thumbnail_width_list(self) -> tuple[int, ...]:
        return tuple(sorted(int(w) for w in self.media_thumbnail_widths.split(",")))


def _parse(type_name: Any, raw: str) -> Any:
    """Convert an environment string to the field's declared type (annotations are strings)."""
    name = str(type_name)
    if name.startswith("Path"):
        return Path(raw)
    if name.startswith("int"):
        return int(raw)
    if name.startswith("float"):
        return float(raw)
    if name.startswith("bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw or None if "None" in name else raw
