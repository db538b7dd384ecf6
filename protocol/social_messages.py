"""Client and server messages of the social features (graph, posts, timelines, notifications).

Loaded by :mod:`protocol.messages`, so importing the registry from there yields these too.
"""

from __future__ import annotations

from protocol.client_keys import CLIENT_KEY
from protocol.registry import Field, MessageSpec, register, register_client
from protocol.views import (
    COMMENT,
    NOTIFICATION,
    NOTIFICATION_FIELDS,
    POST,
    PRESENCE,
    PROFILE,
    RECOMMENDED_POST,
    VIEWED_POST,
)

_USER_ID = Field("user_id", "int", "The other account's id.")
_POST_ID = Field("post_id", "int", "The post's id.")
_CONTENT_WARNING = "A content warning (spoiler text) shown in place of the post until it is opened;"
_LIMIT = Field("limit", "int", "Page size: 1 to 100, fewer or more are clamped (default 50).", required=False)
_CHANGED = (Field("changed", "bool", "False when it was already so (the request is idempotent)."),)
_POST = (Field("post", "view", "The post.", view=POST),)
_VIEWED_POST = (Field("post", "view", "The post, as you see it.", view=VIEWED_POST),)
_VIEWED_POSTS = Field("posts", "list", "Posts, newest first.", items="view", view=VIEWED_POST)
_SEQ_CURSOR = Field(
    "cursor", "int", "Pass as `before` for the next page; nil on the last page.", nullable=True
)
_DURABLE_STREAMS = ("home", "notifications", "dm")
_STREAM_PAGE = (
    Field(
        "before",
        "int",
        "Sequence number to page back from (exclusive); absent for the newest.",
        required=False,
    ),
    _LIMIT,
)


register_client(
    "profile.get",
    "A profile with its counts, by id or username (one of the two).",
    body=(
        Field("user_id", "int", "The account's id.", required=False),
        Field("username", "str", "The account's username.", required=False, max_len=32),
    ),
    reply=(*PROFILE.fields, Field("you_follow", "bool", "Whether you follow them.", added_by="social")),
)
register_client(
    "profile.update",
    "Change your display name, bio or avatar.",
    body=(
        Field("display_name", "str", "New display name.", required=False, min_len=1, max_len=64),
        Field("bio", "str", "New biography.", required=False, max_len=500),
        Field("avatar_media_id", "int", "Media id of a new avatar.", required=False),
    ),
    reply=(Field("profile", "view", "The updated profile.", view=PROFILE),),
)
for _type, _summary in (
    ("follow", "Follow an account (across a block `not_found`, as for a missing account)."),
    ("unfollow", "Stop following an account."),
    ("block", "Block an account: removes follows both ways, hides each from the other."),
    ("unblock", "Lift a block you set."),
):
    register_client(_type, _summary, body=(_USER_ID,), reply=_CHANGED)
for _type, _summary in (
    ("followers.list", "Who follows an account, newest first."),
    ("following.list", "Whom an account follows, newest first."),
):
    register_client(
        _type,
        _summary,
        body=(
            _USER_ID,
            Field("cursor", "str", "From the previous page.", required=False, max_len=200),
            _LIMIT,
        ),
        reply=(
            Field("user_ids", "list", "Account ids.", items="int"),
            Field(
                "cursor", "str", "Pass as `cursor` for the next page; nil on the last page.", nullable=True
            ),
        ),
    )
register_client(
    "post.create",
    "Publish a post; followers receive it live on their `home` stream.",
    body=(
        Field("text", "str", "The post's text.", max_len=5000),
        Field(
            "media_ids",
            "list",
            "Up to 10 media ids, in display order.",
            required=False,
            max_len=10,
            items="int",
        ),
        Field("reply_to", "int", "Id of the post this one answers.", required=False),
        Field(
            "content_warning",
            "str",
            f"{_CONTENT_WARNING} absent or empty: none.",
            required=False,
            max_len=500,
        ),
        CLIENT_KEY,
    ),
    reply=_POST,
)
register_client("post.get", "One post.", body=(_POST_ID,), reply=_VIEWED_POST)
register_client(
    "post.edit",
    "Change a post's text (author only): moderated and indexed again like a new caption.",
    body=(
        _POST_ID,
        Field("text", "str", "The new text.", max_len=5000),
        Field(
            "content_warning",
            "str",
            f"{_CONTENT_WARNING} nil or empty clears it, absent leaves it as it is.",
            required=False,
            nullable=True,
            max_len=500,
        ),
    ),
    reply=_VIEWED_POST,
)
register_client("post.delete", "Delete a post (author only).", body=(_POST_ID,))
register_client("post.like", "Like a post.", body=(_POST_ID,), reply=_CHANGED)
register_client("post.unlike", "Take a like back.", body=(_POST_ID,), reply=_CHANGED)
register_client(
    "comment.create",
    "Comment on a post, or answer a comment (`reply_to`).",
    body=(
        _POST_ID,
        Field("text", "str", "The comment's text.", min_len=1, max_len=2000),
        Field("reply_to", "int", "Id of the comment this one answers.", required=False),
        CLIENT_KEY,
    ),
    reply=(Field("comment", "view", "The new comment.", view=COMMENT),),
)
register_client(
    "comment.list",
    "A post's comments, oldest first.",
    body=(_POST_ID, Field("after", "int", "Last comment id of the previous page.", required=False), _LIMIT),
    reply=(
        Field("comments", "list", "Comments, oldest first.", items="view", view=COMMENT),
        Field("cursor", "int", "Pass as `after` for the next page; nil on the last page.", nullable=True),
    ),
)
register_client(
    "timeline.home",
    "Your home timeline, newest first: posts of the accounts you follow and your own.",
    body=_STREAM_PAGE,
    reply=(_VIEWED_POSTS, _SEQ_CURSOR),
)
register_client(
    "timeline.for_you",
    "Posts recommended from what you liked (`recommended: true`), mixed with recent posts of accounts you follow.",
    body=(_LIMIT,),
    reply=(
        Field("posts", "list", "Recommended and followed posts, mixed.", items="view", view=RECOMMENDED_POST),
    ),
)
register_client(
    "timeline.user",
    "One account's posts, newest first.",
    body=(_USER_ID, *_STREAM_PAGE),
    reply=(_VIEWED_POSTS, _SEQ_CURSOR),
)
register_client(
    "notifications.list",
    "Your notifications, newest first.",
    body=_STREAM_PAGE,
    reply=(
        Field("notifications", "list", "Notifications, newest first.", items="view", view=NOTIFICATION),
        _SEQ_CURSOR,
    ),
)
register_client(
    "presence.get",
    "Who of these accounts is online, and when the others were last seen.",
    body=(Field("user_ids", "list", "Up to 100 account ids.", min_len=1, max_len=100, items="int"),),
    reply=(Field("presence", "list", "One entry per visible account.", items="view", view=PRESENCE),),
)
register_client(
    "stream.resume",
    "Subscribe this socket to a durable stream (`home`, `notifications`, `dm`), replaying what it missed.",
    body=(
        Field("stream", "str", "The durable stream.", choices=_DURABLE_STREAMS),
        Field(
            "after",
            "int",
            "Last sequence number you saw; absent = only new events from now.",
            required=False,
            minimum=0,
        ),
    ),
    reply=(
        Field("stream", "str", "The stream.", choices=_DURABLE_STREAMS),
        Field("last", "int", "Sequence number of the last event replayed (your new cursor).", minimum=0),
        Field("more", "bool", "True when more events wait: call again with `after` = `last`."),
    ),
)

for _type, _stream, _summary, _fields in (
    ("post.created", "home", "A post for your home timeline.", _POST),
    (
        "post.removed",
        "home",
        "The post at this sequence number was deleted or is hidden from you.",
        (_POST_ID,),
    ),
    (
        "presence",
        "presence",
        "Someone you follow came online or went offline (ephemeral: not replayed on resume).",
        PRESENCE.fields,
    ),
    (
        "notification",
        "notifications",
        "Someone followed you, liked or commented on your post, or mentioned you.",
        NOTIFICATION_FIELDS,
    ),
):
    register(MessageSpec(_type, "server", _summary, auth=False, replies=False, stream=_stream, body=_fields))
