"""Client messages of the safety tools: reports, the moderators' queue, mutes.

Loaded by :mod:`protocol.messages`, so importing the registry from there yields these too.
"""

from __future__ import annotations

from protocol.registry import Field, register_client
from protocol.views import (
    MODERATION_ITEM,
    MUTE,
    REPORT,
    REPORT_REASONS,
    REPORT_TARGETS,
    RESOLUTION,
    RESOLUTION_ACTIONS,
)

NOTE_MAX_LEN = 1000
MUTE_MAX_S = 366 * 24 * 3600

_LIMIT = Field("limit", "int", "Page size: 1 to 100, fewer or more are clamped (default 50).", required=False)
_CURSOR = Field("cursor", "str", "From the previous page.", required=False, max_len=200)
_NEXT = Field("cursor", "str", "Pass as `cursor` for the next page; nil on the last page.", nullable=True)
_KIND = Field("kind", "str", "What you name.", choices=REPORT_TARGETS)
_TARGET_ID = Field("target_id", "int", "Its id (an account's id for `user`).")
_USER_ID = Field("user_id", "int", "The other account's id.")


register_client(
    "report.create",
    "Report a post, comment, direct message (of a conversation you are in) or account you can see to"
    " the moderators; what you cannot see is `not_found`. Reporting it again updates your open report."
    " At most `VIORA_REPORTS_OPEN_LIMIT` of your reports wait at once (`limit_reached`).",
    (
        _KIND,
        _TARGET_ID,
        Field("reason", "str", "Why.", choices=REPORT_REASONS),
        Field("note", "str", "More for the moderators.", required=False, max_len=NOTE_MAX_LEN),
    ),
    (
        Field("report", "view", "Your report.", view=REPORT),
        Field("created", "bool", "False when your open report on it was updated instead."),
    ),
)
register_client(
    "moderation.queue",
    "Moderators: reported content and accounts, and texts the classifier flagged, newest first.",
    (_CURSOR, _LIMIT),
    (
        Field("items", "list", "Newest first.", items="view", view=MODERATION_ITEM),
        _NEXT,
    ),
)
register_client(
    "moderation.resolve",
    "Moderators: decide a queue item, closing its open reports. `remove` deletes a post or comment,"
    " `hide` keeps a text flagged (hidden behind a tap), `dismiss` finds nothing wrong (a flag is"
    " cleared); an account's reports are dismissed.",
    (
        _KIND,
        _TARGET_ID,
        Field("action", "str", "The decision.", choices=RESOLUTION_ACTIONS),
        Field("note", "str", "Why, for the record.", required=False, max_len=NOTE_MAX_LEN),
    ),
    (Field("resolution", "view", "The recorded decision.", view=RESOLUTION),),
)
register_client(
    "mute",
    "Mute an account: its posts, comments and notifications leave your timelines, search and pushes."
    " It is not told, and may still see and follow you. Muting again sets the expiry anew.",
    (
        _USER_ID,
        Field(
            "duration_s",
            "int",
            "Seconds until the mute ends by itself; absent: until you unmute.",
            required=False,
            minimum=60,
            maximum=MUTE_MAX_S,
        ),
    ),
    (
        Field("changed", "bool", "False when you already muted them."),
        Field("expires_at", "float", "Unix time the mute ends; nil: until you unmute.", nullable=True),
    ),
)
register_client(
    "unmute",
    "Lift a mute.",
    (_USER_ID,),
    (Field("changed", "bool", "False when there was no mute in force."),),
)
register_client(
    "mutes.list",
    "The accounts you mute, most recently muted first.",
    (_CURSOR, _LIMIT),
    (Field("mutes", "list", "Your mutes in force.", items="view", view=MUTE), _NEXT),
)
