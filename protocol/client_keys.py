"""Client keys: the idempotency keys of the requests that create something.

``post.create``, ``comment.create`` and ``dm.send`` take an optional ``client_key``. A client
picks a fresh key for each action (a UUID) and sends the same key again when it retries that
action, so a retry after a lost reply gets the first result back instead of creating a second
post (like Matrix's transaction ids). The rules live here because three layers read them: the
catalogues and PROTOCOL.md (the field), the handlers (the character set, which a :class:`Field`
cannot express) and the stores (how long a key is remembered).
"""

from __future__ import annotations

import re

from protocol.registry import Field

CLIENT_KEY_MAX_LEN = 64
CLIENT_KEY_CHARS = re.compile(r"[A-Za-z0-9_.:-]+")
"""Letters, digits and ``- _ . :``: a UUID fits, and a key needs no escaping in logs or SQL."""
CLIENT_KEY_TTL_S = 24 * 60 * 60
"""How long the server remembers a key: far longer than any client keeps retrying one action."""

CLIENT_KEY = Field(
    "client_key",
    "str",
    f"Idempotency key of this action (letters, digits, `-_.:`): a retry with the same key within"
    f" {CLIENT_KEY_TTL_S // 3600} h returns the first result and creates nothing; the same key with"
    " different content is `conflict`.",
    required=False,
    min_len=1,
    max_len=CLIENT_KEY_MAX_LEN,
)
