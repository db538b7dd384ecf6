"""Client messages of content understanding: search, "more like this", moderation.

Loaded by :mod:`protocol.messages`, so importing the registry from there yields these too.
"""

from __future__ import annotations

from protocol.registry import Field, MessageSpec, register

_LIMIT = Field("limit", "int", "Results, 1 to 100 (default 20).", required=False)
_RESULTS = (
    Field(
        "results",
        "list",
        "Best first: {post, media_id, kind (`image`/`video`), similarity (cosine), score (similarity "
        "weighted by the post's alignment: the ranking)}; posts carry `alignment` "
        "(0-100, or nil), `liked` and `media` [{id, moderation, kind, variants}] — blur media whose "
        "moderation is `flagged`.",
    ),
)
_MEDIA_ID = Field("media_id", "int", "A media id.")


def _client(type_: str, summary: str, body: tuple[Field, ...], reply: tuple[Field, ...] = ()) -> None:
    register(MessageSpec(type_, "client", summary, body=body, reply=reply))


_client(
    "search",
    "Semantic search of images and videos by a text query (their captions need not say it).",
    (
        Field("query", "str", "What to look for, in words.", min_len=1, max_len=500),
        Field("kinds", "list", "`image` and/or `video` (default both).", required=False, max_len=2),
        Field("author_id", "int", "Only this account's media.", required=False),
        Field("since", "float", "Only media posted at or after this Unix time.", required=False),
        Field("until", "float", "Only media posted before this Unix time.", required=False),
        _LIMIT,
        Field("offset", "int", "Results to skip (pagination).", required=False),
    ),
    _RESULTS,
)
_client(
    "search.similar",
    "More like this: images and videos that look like a media item (across kinds).",
    (_MEDIA_ID, _LIMIT),
    _RESULTS,
)
_client(
    "moderation.get",
    "Why one of your media items was flagged (owner only).",
    (_MEDIA_ID,),
    (
        Field("state", "str", "`pending`, `ok` or `flagged`."),
        Field("score", "any", "The classifier's score (0-1), or nil while pending."),
        Field("reason", "any", "What the classifier saw, or nil."),
    ),
)
_client(
    "preferences.update",
    "Your preferences: `show_sensitive` lets flagged media into your search results, unblurred.",
    (Field("show_sensitive", "bool", "See media flagged as sensitive."),),
    (Field("show_sensitive", "bool", "The setting now."),),
)
_client(
    "moderation.review",
    "Admins: the list of flagged media, newest first.",
    (Field("before", "int", "Page back from this media id.", required=False), _LIMIT),
    (
        Field("items", "list", "{media_id, owner_id, score, reason}."),
        Field("cursor", "any", "`before` for the next page."),
    ),
)
_client(
    "moderation.decide",
    "Admins: overrule the classifier for a media item.",
    (_MEDIA_ID, Field("verdict", "str", "`ok` or `flagged`.", max_len=8)),
    (Field("changed", "bool", "Always true once recorded."),),
)
