"""How objects look on the wire: the views that replies and pushes are made of, each declared once.

A view is both the declaration (PROTOCOL.md, the tests' check of every frame) and the builder:
``POST.build(post)`` reads the stored fields by attribute name from any object that has them (the
stores' dataclasses, which this layer does not import). Fields a service adds to a built view are
declared too, with ``added_by``, so the declared shape is the one clients get: the intelligence
service turns a ``post`` into a ``viewed_post`` (alignment, flags, likes, media), the messaging
service flags messages and summarises conversations, the social service flags comments.
"""

from __future__ import annotations

from protocol.registry import Field, View, register_view

MEDIA_KINDS = ("image", "video")
MODERATION_STATES = ("pending", "ok", "flagged")

_PIXELS = (
    Field("width", "int", "Width in pixels.", minimum=0),
    Field("height", "int", "Height in pixels.", minimum=0),
)
_CREATED_AT = Field("created_at", "float", "Unix time it was created.")

RENDITION = register_view(
    View(
        "rendition",
        "One processed file of a media item, served over HTTP.",
        (
            Field("key", "str", "The file's storage key."),
            Field("url", "str", "Where to download it."),
            Field("content_type", "str", "Its MIME type."),
            *_PIXELS,
            Field("bytes", "int", "Its size in bytes.", minimum=0),
            Field("duration_s", "float", "A video's length, in seconds.", required=False),
        ),
    )
)
PLACEHOLDER = register_view(
    View(
        "placeholder",
        "What to show before a thumbnail arrives.",
        (
            Field("color", "str", "The picture's mean colour, `#rrggbb`."),
            *_PIXELS,
            Field("data_uri", "str", "A tiny preview as a data URI (to be blurred by upscaling)."),
        ),
    )
)
VARIANTS = register_view(
    View(
        "variants",
        "The public files of a processed media item.",
        (
            Field("placeholder", "view", "What to show while loading.", view=PLACEHOLDER),
            Field("thumbnails", "list", "Still thumbnails, narrowest first.", items="view", view=RENDITION),
            Field("poster", "view", "A video's poster frame.", required=False, view=RENDITION),
            Field("video", "view", "A video's playback copy.", required=False, view=RENDITION),
        ),
    )
)
PROCESSED_MEDIA = register_view(
    VARIANTS.extend(
        "processed_media",
        "What processing made of an upload, as its uploader learns it.",
        (
            Field("kind", "str", "The media's kind.", choices=MEDIA_KINDS),
            Field(
                "probe", "map", "What the decoder read from the original: container, size, codecs, duration."
            ),
        ),
    )
)
POST_MEDIA = register_view(
    View(
        "post_media",
        "One media item of a post, as its viewer sees it.",
        (
            Field("id", "int", "The media id."),
            Field(
                "moderation",
                "str",
                "The moderation verdict. A `flagged` item comes with its files only to its owner,"
                " to moderators and to viewers with `show_sensitive` on (blur it behind a click);"
                " others get no variants and ask `media.reveal` when the viewer clicks through.",
                choices=MODERATION_STATES,
            ),
            Field(
                "kind",
                "str",
                "The media's kind; nil until it is processed.",
                choices=MEDIA_KINDS,
                nullable=True,
            ),
            Field(
                "variants",
                "view",
                "Its files; nil until it is processed, once it is removed, and when `flagged` for"
                " a viewer who has not opted in.",
                view=VARIANTS,
                nullable=True,
            ),
            Field(
                "moderation_reason",
                "str",
                "Why it was flagged: only for its author, only when `flagged`.",
                required=False,
                nullable=True,
            ),
        ),
    )
)

POST = register_view(
    View(
        "post",
        "A post, as stored.",
        (
            Field("id", "int", "The post's id."),
            Field("author_id", "int", "Who wrote it."),
            Field("text", "str", "Its text (may be empty when it has media)."),
            Field("media_ids", "list", "Its media ids, in display order.", items="int"),
            Field("reply_to", "int", "The post it answers; nil when none.", nullable=True),
            _CREATED_AT,
            Field("edited_at", "float", "Unix time of the last edit; nil when never edited.", nullable=True),
            Field("likes", "int", "Like count.", minimum=0),
            Field("comments", "int", "Comment count.", minimum=0),
            Field(
                "content_warning",
                "str",
                "The author's content warning (spoiler text); nil when none. Show it in place of the"
                " text and media until the reader opens the post, as Mastodon's CW.",
                nullable=True,
            ),
        ),
    )
)
VIEWED_POST = register_view(
    POST.extend(
        "viewed_post",
        "A post as its viewer sees it: a `post`, then what the intelligence service adds.",
        (
            Field(
                "alignment",
                "float",
                "How well the caption matches the media, 0 to 100; nil until indexed, or without media.",
                nullable=True,
                added_by="intelligence",
            ),
            Field("text_flagged", "bool", "The text classifier flagged the text.", added_by="intelligence"),
            Field("liked", "bool", "Whether you liked it.", added_by="intelligence"),
            Field(
                "media",
                "list",
                "Its media, in display order.",
                items="view",
                view=POST_MEDIA,
                added_by="intelligence",
            ),
        ),
    )
)
RECOMMENDED_POST = register_view(
    VIEWED_POST.extend(
        "recommended_post",
        "A post on the For you page: a `viewed_post`, and why it is there.",
        (
            Field(
                "recommended",
                "bool",
                "Recommended from what you liked, rather than posted by someone you follow.",
                added_by="social",
            ),
        ),
    )
)
COMMENT = register_view(
    View(
        "comment",
        "A comment on a post.",
        (
            Field("id", "int", "The comment's id."),
            Field("post_id", "int", "The post it is on."),
            Field("author_id", "int", "Who wrote it."),
            Field("reply_to", "int", "The comment it answers; nil when none.", nullable=True),
            Field("text", "str", "Its text."),
            _CREATED_AT,
            Field(
                "flagged", "bool", "The text classifier flagged it: hide it behind a tap.", added_by="social"
            ),
        ),
    )
)
PROFILE = register_view(
    View(
        "profile",
        "An account's public profile, with its counts.",
        (
            Field("user_id", "int", "The account's id."),
            Field("username", "str", "Username."),
            Field("display_name", "str", "Display name."),
            Field("bio", "str", "Biography."),
            Field("avatar_media_id", "int", "Media id of the avatar; nil when none.", nullable=True),
            Field("created_at", "float", "Unix time the account was created."),
            Field("followers", "int", "Follower count.", minimum=0),
            Field("following", "int", "How many accounts they follow.", minimum=0),
            Field("posts", "int", "Post count.", minimum=0),
        ),
    )
)
PRESENCE = register_view(
    View(
        "presence",
        "Whether an account is online.",
        (
            Field("user_id", "int", "Who."),
            Field("online", "bool", "Online now."),
            Field(
                "last_seen",
                "float",
                "Unix time they went offline; nil when online or never seen.",
                nullable=True,
            ),
        ),
    )
)
NOTIFICATION_FIELDS = (
    Field("kind", "str", "What happened.", choices=("follow", "like", "comment", "mention")),
    Field("actor_id", "int", "Who did it."),
    Field("post_id", "int", "The post concerned.", required=False),
    Field("comment_id", "int", "The comment concerned.", required=False),
)
"""A notification, as pushed (the body of ``notification``) and as listed (:data:`NOTIFICATION`)."""
NOTIFICATION = register_view(
    View(
        "notification",
        "A stored notification: someone followed you, liked or commented on your post, or mentioned you.",
        (
            Field("seq", "int", "Its sequence number on the `notifications` stream.", minimum=0),
            *NOTIFICATION_FIELDS,
            Field("created_at", "float", "Unix time it happened."),
        ),
    )
)

CONVERSATION = register_view(
    View(
        "conversation",
        "A conversation: one-to-one (`direct`) or a group, whose members are fixed at creation.",
        (
            Field("id", "int", "The conversation's id."),
            Field("kind", "str", "One-to-one or group.", choices=("direct", "group")),
            Field("title", "str", "A group's title (empty for direct conversations)."),
            Field("created_by", "int", "Who started it."),
            _CREATED_AT,
            Field("member_ids", "list", "Its members, you included.", items="int"),
        ),
    )
)
MESSAGE = register_view(
    View(
        "message",
        "A direct message.",
        (
            Field("id", "int", "The message's id (increasing within a conversation)."),
            Field("conversation_id", "int", "Its conversation."),
            Field("sender_id", "int", "Who sent it."),
            Field("text", "str", "Its text."),
            Field("created_at", "float", "Unix time it was sent."),
            Field(
                "flagged",
                "bool",
                "The text classifier flagged it: hide it behind a tap.",
                added_by="messaging",
            ),
        ),
    )
)
RECEIPT = register_view(
    View(
        "receipt",
        "How far another member of a conversation got.",
        (
            Field("user_id", "int", "The member."),
            Field("delivered", "int", "Highest message id delivered to their devices (0: none).", minimum=0),
            Field("read", "int", "Highest message id they read (0: none).", minimum=0),
        ),
    )
)
CONVERSATION_SUMMARY = register_view(
    CONVERSATION.extend(
        "conversation_summary",
        "A conversation in your list: a `conversation`, with what a preview needs.",
        (
            Field(
                "last_message",
                "view",
                "The newest message; nil when there is none.",
                view=MESSAGE,
                nullable=True,
                added_by="messaging",
            ),
            Field(
                "unread", "int", "Messages from others you have not read.", added_by="messaging", minimum=0
            ),
            Field(
                "receipts",
                "list",
                "The other members' receipts.",
                items="view",
                view=RECEIPT,
                added_by="messaging",
            ),
        ),
    )
)

SEARCH_RESULT = register_view(
    View(
        "search_result",
        "One media item found, with the post that shows it.",
        (
            Field("post", "view", "The post.", view=VIEWED_POST),
            Field("media_id", "int", "The media item found."),
            Field("kind", "str", "Its kind.", choices=MEDIA_KINDS),
            Field("similarity", "float", "Cosine similarity to the query."),
            Field("score", "float", "Similarity weighted by the post's alignment: the ranking."),
        ),
    )
)
FLAGGED_MEDIA = register_view(
    View(
        "flagged_media",
        "A media item the classifier (or a moderator) flagged.",
        (
            Field("media_id", "int", "The media id."),
            Field("owner_id", "int", "Who uploaded it."),
            Field("score", "float", "The classifier's score (0 to 1); nil when unknown.", nullable=True),
            Field("reason", "str", "What the classifier saw; nil when unknown.", nullable=True),
        ),
    )
)

REPORT_TARGETS = ("post", "comment", "message", "user")
REPORT_REASONS = ("spam", "harassment", "hate", "violence", "sexual", "self_harm", "other")
"""Why something is reported: the harms Mastodon's and Bluesky's report forms name, so moderators
can sort by them, and ``other`` (with a note) for the rest."""
RESOLUTION_ACTIONS = ("dismiss", "remove", "hide")
"""A moderator's decision: nothing wrong (a classifier's flag on the text is cleared), delete the
post or comment, or keep the text hidden behind a tap (flagged) for everyone."""
_KIND = Field("kind", "str", "What it is.", choices=REPORT_TARGETS)
_TARGET_ID = Field("target_id", "int", "Its id (an account's id for `user`).")

REPORT = register_view(
    View(
        "report",
        "Your report of a post, comment, direct message or account, as moderators will read it.",
        (
            Field("id", "int", "The report's id."),
            _KIND,
            _TARGET_ID,
            Field("reason", "str", "Why you reported it.", choices=REPORT_REASONS),
            Field("note", "str", "What you added for the moderators (may be empty)."),
            _CREATED_AT,
            Field("updated_at", "float", "Unix time it was last changed (reporting again updates it)."),
        ),
    )
)
MODERATION_ITEM = register_view(
    View(
        "moderation_item",
        "Something in the moderators' queue: reported by users, or flagged by the text classifier.",
        (
            _KIND,
            _TARGET_ID,
            Field("author_id", "int", "Who wrote it (the account itself, for `user`)."),
            Field("author_username", "str", "Their username."),
            Field("text", "str", "A post's, comment's or message's text; an account's name and bio."),
            Field("content_warning", "str", "A post's content warning; nil when none.", nullable=True),
            Field("media_ids", "list", "A post's media ids (empty otherwise).", items="int"),
            Field("post_id", "int", "The post a comment is on; nil otherwise.", nullable=True),
            Field("conversation_id", "int", "A message's conversation; nil otherwise.", nullable=True),
            Field("removed", "bool", "Already deleted (by its author, or a moderator)."),
            Field("flagged", "bool", "Its text is flagged (hidden behind a tap for readers)."),
            Field("score", "float", "The text classifier's score (0 to 1); nil if unjudged.", nullable=True),
            Field(
                "reasons",
                "list",
                "The reasons of its open reports (empty: flagged by the classifier only).",
                items="str",
                choices=REPORT_REASONS,
            ),
            Field("reporters", "int", "How many users reported it.", minimum=0),
            Field("notes", "list", "The latest reporters' notes, newest first (at most 5).", items="str"),
            Field("updated_at", "float", "Unix time of its latest report, or of the flagged text."),
        ),
    )
)
RESOLUTION = register_view(
    View(
        "resolution",
        "A moderator's decision on a queue item, as recorded.",
        (
            Field("id", "int", "The resolution's id."),
            _KIND,
            _TARGET_ID,
            Field("moderator_id", "int", "Who decided; nil once their account is gone.", nullable=True),
            Field("action", "str", "What was decided.", choices=RESOLUTION_ACTIONS),
            Field("note", "str", "The moderator's note (may be empty)."),
            Field("reports_closed", "int", "Open reports this closed.", minimum=0),
            _CREATED_AT,
        ),
    )
)
MUTE = register_view(
    View(
        "mute",
        "An account you muted.",
        (
            Field("user_id", "int", "The muted account."),
            Field("created_at", "float", "Unix time you muted it."),
            Field("expires_at", "float", "Unix time the mute ends; nil: until you unmute.", nullable=True),
        ),
    )
)
