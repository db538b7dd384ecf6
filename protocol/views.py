"""How stored objects look on the wire: one function per object, used by every reply and push."""

from __future__ import annotations

from typing import Any

from stores.messaging import Conversation, ConversationSummary, Message
from stores.social import Comment, Post, Profile


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "author_id": post.author_id,
        "text": post.text,
        "media_ids": list(post.media_ids),
        "reply_to": post.reply_to,
        "created_at": post.created_at,
        "edited_at": post.edited_at,
        "likes": post.likes,
        "comments": post.comments,
    }


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "author_id": comment.author_id,
        "reply_to": comment.reply_to,
        "text": comment.text,
        "created_at": comment.created_at,
    }


def profile_json(profile: Profile) -> dict[str, Any]:
    return {
        "user_id": profile.user_id,
        "username": profile.username,
        "display_name": profile.display_name,
        "bio": profile.bio,
        "avatar_media_id": profile.avatar_media_id,
        "created_at": profile.created_at,
        "followers": profile.followers,
        "following": profile.following,
        "posts": profile.posts,
    }


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "kind": conversation.kind,
        "title": conversation.title,
        "created_by": conversation.created_by,
        "created_at": conversation.created_at,
        "member_ids": list(conversation.member_ids),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "text": message.text,
        "created_at": message.created_at,
    }


def summary_json(summary: ConversationSummary, flagged: set[int]) -> dict[str, Any]:
    """``flagged``: ids of messages the text classifier flagged (clients hide them behind a tap)."""
    last = summary.last_message
    return {
        "last_message": None if last is None else {**message_json(last), "flagged": last.id in flagged},
        "unread": summary.unread,
        "receipts": [
            {"user_id": user_id, "delivered": delivered, "read": read}
            for user_id, (delivered, read) in sorted(summary.receipts.items())
        ],
    }
