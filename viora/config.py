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

    # --- stores ------------------------------------------------------------------------
    pg_dsn: str | None = None
    """A PostgreSQL server to use. ``None`` starts an embedded PostgreSQL under ``data_dir``."""
    db_pool_size: int = 8
    """Connections in the PostgreSQL pool; also the number of threads that may wait on it."""
    db_pool_timeout_s: float = 5.0
    """How long a request waits for a pooled connection before it gets ``unavailable``."""

    # --- security ----------------------------------------------------------------------
    admin_token: str | None = None
    """Bearer token for /admin/*. ``None`` generates one and writes it to ``data_dir/admin.token``."""
    token_ttl_s: float = 30 * 24 * 3600.0
    kdf_threads: int = 1
    """Password hashes computed at once (argon2: one core and 64 MiB each). Raise it on machines
    with cores to spare for bursts of log-ins."""
    login_failures_limit: int = 10
    """Failed log-ins per username within ``login_failures_window_s`` before log-ins are refused."""
    login_failures_window_s: float = 300.0

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
    outbox_capacity: int = 256
    """Frames queued towards one socket; a client that falls further behind is disconnected."""
    request_timeout_s: float = 10.0

    # --- actors ------------------------------------------------------------------------
    session_mailbox: int = 256
    session_idle_s: float = 30.0
    """A SessionActor with no sockets for this long stops (its user can sign in again at any time)."""
    shutdown_drain_s: float = 5.0

    # --- observability -----------------------------------------------------------------
    loop_lag_probe_s: float = 0.05

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
