"""Server messages of the media pipeline (uploads themselves are HTTP: see README's Media section).

Loaded by :mod:`protocol.messages`, so importing the registry from there yields these too.
"""

from __future__ import annotations

from protocol.registry import Field, MessageSpec, register
from protocol.views import PROCESSED_MEDIA

register(
    MessageSpec(
        "media.progress",
        "server",
        "Processing news about one of your uploads: queued → running (with progress) → ready | failed.",
        auth=False,
        replies=False,
        stream="media",
        body=(
            Field("media_id", "int", "The upload's media id (from the upload's HTTP answer)."),
            Field("state", "str", "Where processing is.", choices=("queued", "running", "ready", "failed")),
            Field("progress", "float", "0 to 1 while running.", required=False),
            Field("reason", "str", "Why it failed (only with `failed`).", required=False),
            Field(
                "retry_in_s",
                "float",
                "Back in the queue after a transient error: seconds until the retry.",
                required=False,
            ),
            Field(
                "variants",
                "view",
                "What processing made (only with `ready`).",
                required=False,
                view=PROCESSED_MEDIA,
            ),
        ),
    )
)
