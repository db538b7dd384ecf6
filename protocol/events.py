"""Names of the events stored on durable streams and pushed live (their bodies are in the registry).

Kept in the protocol layer because both ends of a stream use them: the FeedActors that append and
push ``post.created``, and the stream readers that replay it (or ``post.removed`` in its place).
"""

from __future__ import annotations

POST_CREATED = "post.created"
POST_REMOVED = "post.removed"
