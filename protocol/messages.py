"""Every message of the protocol: the registry (:mod:`protocol.registry`) with all catalogues loaded.

Import the registry's API from here: this module loads each catalogue module once, so whoever
looks a message up sees all of them. The catalogues import only :mod:`protocol.registry` and the
views they hold (:mod:`protocol.views`), so there is no cycle between the registry and what
registers in it.
"""

from __future__ import annotations

from protocol import (  # noqa: F401  (each registers its catalogue on import)
    core_messages,
    intelligence_messages,
    media_messages,
    messaging_messages,
    safety_messages,
    social_messages,
)
from protocol.registry import (
    INT64_MAX,
    INT64_MIN,
    REGISTRY,
    SERVER_MESSAGES,
    VIEWS,
    Field,
    MessageSpec,
    ShapeError,
    View,
    check_reply,
    check_server_frame,
    check_server_message,
    client_message,
    register,
    register_view,
    validate_body,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "REGISTRY",
    "SERVER_MESSAGES",
    "VIEWS",
    "Field",
    "MessageSpec",
    "ShapeError",
    "View",
    "check_reply",
    "check_server_frame",
    "check_server_message",
    "client_message",
    "register",
    "register_view",
    "validate_body",
]
