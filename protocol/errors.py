"""The protocol's failure vocabulary: error codes, close codes and the two exceptions.

Error codes and close codes are part of the wire contract: clients branch on them, so
their values never change once published. Each member carries a one-line description so
that ``protocol.docs`` can document them from this single definition.

Two exceptions, one rule: a :class:`ProtocolError` answers one frame with an error frame
and the connection lives on; a :class:`CloseConnection` means the socket must be closed
with the given close code. Every sans-IO component in this package signals through these
two, so the I/O wrapper needs exactly two ``except`` clauses.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

RequestId: TypeAlias = int | str | None
"""A client-chosen request id, echoed back in replies and errors; ``None`` when absent."""


class ErrorCode(enum.StrEnum):
    """Stable machine-readable reasons carried in the ``code`` field of error frames."""

    description: str

    def __new__(cls, value: str, description: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    BAD_FRAME = "bad_frame", "The frame is not a single msgpack map (text frame, garbage or trailing bytes)."
    FRAME_TOO_LARGE = "frame_too_large", "The frame exceeds the server's maximum frame size."
    BAD_VERSION = "bad_version", "The `v` field is missing or names a protocol version this server lacks."
    BAD_REQUEST = "bad_request", "A field is missing, has the wrong type, is too long, or is not known."
    UNKNOWN_TYPE = "unknown_type", "No client message of this type exists."
    UNAUTHENTICATED = "unauthenticated", "This message requires a signed-in socket."
    ALREADY_AUTHENTICATED = "already_authenticated", "The socket is already signed in."
    AUTH_FAILED = "auth_failed", "Unknown username or wrong password."
    USERNAME_TAKEN = "username_taken", "Another account already uses this username."
    TOKEN_INVALID = "token_invalid", "The session token is malformed or unknown."
    TOKEN_EXPIRED = "token_expired", "The session token is past its expiry time."
    TOKEN_REVOKED = "token_revoked", "The session token was revoked (logout)."
    FORBIDDEN = "forbidden", "The signed-in user may not do this."
    NOT_FOUND = "not_found", "The addressed object does not exist, or is not visible to you."
    CONFLICT = "conflict", "The request conflicts with what exists (a uniqueness rule)."
    RATE_LIMITED = "rate_limited", "Too many requests; retry after `retry_after` seconds."
    LIMIT_REACHED = "limit_reached", "A cap of the account is reached (e.g. open sockets); close something first."
    BUSY = "busy", "The server is overloaded right now; retry later."
    TIMEOUT = "timeout", "The server did not finish the request in time; it may or may not have happened."
    INTERNAL = "internal", "An unexpected server fault; the request was not completed."
    UNAVAILABLE = "unavailable", "A service this request needs is down or shutting down."


class CloseCode(enum.IntEnum):
    """Websocket close codes the server uses; 4000-4999 are application-defined."""

    description: str

    def __new__(cls, value: int, description: str) -> CloseCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    NORMAL = 1000, "Normal closure."
    GOING_AWAY = 1001, "The server is shutting down."
    HEARTBEAT_TIMEOUT = 4000, "The peer stayed silent past the heartbeat timeout."
    SIGNED_OUT = 4001, "The socket's token was revoked or expired, or its user logged out."
    TOO_MANY_MALFORMED = 4002, "Too many malformed frames within the malformed-frame window."
    SLOW_CONSUMER = 4003, "The client fell too far behind reading outbound frames."
    RATE_ABUSE = 4004, "The client kept sending after being rate limited."
    SIGN_IN_TIMEOUT = 4005, "The socket did not sign in within the sign-in deadline."
    TRY_AGAIN_LATER = 1013, "Too many sockets from this address (or the server is overloaded); retry later."


class ProtocolError(Exception):
    """A request that fails with an error frame; the connection stays open.

    ``ref`` is the id of the offending request when it could be read, so the client can
    match the error to what it sent.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        ref: RequestId = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.ref = ref
        self.retry_after = retry_after


class CloseConnection(Exception):
    """The socket must be closed with ``code``; no further frames are processed.

    ``reason`` goes into the websocket close frame, which allows at most 123 bytes, so it
    is kept short.
    """

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(f"{code.name} ({int(code)}): {reason}")
        self.code = code
        self.reason = reason
