"""Client messages of content understanding: search, "more like this", moderation.

Loaded by :mod:`protocol.messages`, so importing the registry from there yields these too.
"""

from __future__ import annotations

from protocol.registry import Field, register_client
from protocol.views import FLAGGED_MEDIA, MEDIA_KINDS, MODERATION_STATES, POST_MEDIA, SEARCH_RESULT

_LIMIT = Field("limit", "int", "Results: 1 to 100, fewer or more are clamped (default 20).", required=False)
_RESULTS = (
    Field(
        "results",
        "list",
        "Best first; blur media whose moderation is `flagged`.",
        items="view",
        view=SEARCH_RESULT,
    ),
)
_MEDIA_ID = Field("media_id", "int", "A media id.")


register_client(
    "search",
    "Semantic search of images and videos by a text query (their captions need not say it).",
    (
        Field("query", "str", "What to look for, in words.", min_len=1, max_len=500),
        Field(
            "kinds",
            "list",
            "The media kinds to find (default both).",
            required=False,
            max_len=2,
            items="str",
            choices=MEDIA_KINDS,
        ),
        Field("author_id", "int", "Only this account's media.", required=False),
        Field("since", "float", "Only media posted at or after this Unix time.", required=False),
        Field("until", "float", "Only media posted before this Unix time.", required=False),
        _LIMIT,
        Field("offset", "int", "Results to skip (pagination).", required=False, minimum=0),
    ),
    _RESULTS,
)
register_client(
    "search.similar",
    "More like this: images and videos that look like a media item (across kinds).",
    (_MEDIA_ID, _LIMIT),
    _RESULTS,
)
register_client(
    "moderation.get",
    "Why one of your media items was flagged (owner only).",
    (_MEDIA_ID,),
    (
        Field("state", "str", "The verdict so far.", choices=MODERATION_STATES),
        Field("score", "float", "The classifier's score (0 to 1); nil while pending.", nullable=True),
        Field("reason", "str", "What the classifier saw; nil while pending.", nullable=True),
    ),
)
register_client(
    "preferences.update",
    "Your preferences: `show_sensitive` lets flagged media into your search results, unblurred,"
    " and its files into post views.",
    (Field("show_sensitive", "bool", "See media flagged as sensitive."),),
    (Field("show_sensitive", "bool", "The setting now."),),
)
register_client(
    "media.reveal",
    "The files of one media item of a post you can see, flagged or not: for a click through the"
    " sensitive-media warning (post views leave a flagged item's variants out; see `post_media`).",
    (Field("post_id", "int", "The post that shows it."), _MEDIA_ID),
    (Field("media", "view", "The item, with its variants.", view=POST_MEDIA),),
)
register_client(
    "moderation.review",
    "Moderators: the list of flagged media, newest first.",
    (Field("before", "int", "Page back from this media id.", required=False), _LIMIT),
    (
        Field("items", "list", "Flagged media, newest first.", items="view", view=FLAGGED_MEDIA),
        Field("cursor", "int", "`before` for the next page; nil on the last page.", nullable=True),
    ),
)
register_client(
    "moderation.decide",
    "Moderators: overrule the classifier for a media item.",
    (_MEDIA_ID, Field("verdict", "str", "The verdict that stands from now on.", choices=("ok", "flagged"))),
    (Field("changed", "bool", "Always true once recorded."),),
)
