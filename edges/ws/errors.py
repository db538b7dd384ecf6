"""The websocket edge's answer to each domain error: one table, from :mod:`kernel.errors` to the
protocol's error codes.

A class missing here answers with its nearest listed ancestor's code, so a new refinement of,
say, ``NotFound`` is still ``not_found``. ``message`` is the exception's own unless the table says
what to show instead: a store's or a model's failure text names internals (hosts, drivers), which
are for the log, not for clients.
"""

from __future__ import annotations

from kernel.errors import (
    AuthFailed,
    Busy,
    Conflict,
    DomainError,
    Fault,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
    RateLimited,
    StoreUnavailable,
    TimedOut,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    Unauthenticated,
    Unavailable,
    UsernameTaken,
)
from protocol.errors import ErrorCode, ProtocolError, RequestId

ANSWERS: dict[type, tuple[ErrorCode, str | None]] = {
    Invalid: (ErrorCode.BAD_REQUEST, None),
    NotFound: (ErrorCode.NOT_FOUND, None),
    Forbidden: (ErrorCode.FORBIDDEN, None),
    Conflict: (ErrorCode.CONFLICT, "this conflicts with something that exists"),
    UsernameTaken: (ErrorCode.USERNAME_TAKEN, None),
    Unauthenticated: (ErrorCode.UNAUTHENTICATED, None),
    AuthFailed: (ErrorCode.AUTH_FAILED, None),
    TokenInvalid: (ErrorCode.TOKEN_INVALID, None),
    TokenExpired: (ErrorCode.TOKEN_EXPIRED, None),
    TokenRevoked: (ErrorCode.TOKEN_REVOKED, None),
    RateLimited: (ErrorCode.RATE_LIMITED, None),
    LimitReached: (ErrorCode.LIMIT_REACHED, None),
    Unavailable: (ErrorCode.UNAVAILABLE, None),
    StoreUnavailable: (ErrorCode.UNAVAILABLE, "storage is unavailable; retry shortly"),
    Busy: (ErrorCode.BUSY, None),
    TimedOut: (ErrorCode.TIMEOUT, None),
    Fault: (ErrorCode.INTERNAL, "a server component failed on this request and was restarted; retry"),
}


def answer(error: DomainError) -> tuple[ErrorCode, str]:
    """The code and the client-facing message for ``error``."""
    for cls in type(error).__mro__:
        entry = ANSWERS.get(cls)
        if entry is not None:
            code, shown = entry
            return code, shown or error.message or code.description
    return ErrorCode.INTERNAL, "internal error"  # DomainError itself: a bug to fix with a subclass


def protocol_error(error: DomainError, ref: RequestId) -> ProtocolError:
    """``error`` as the error frame the client gets for request ``ref``."""
    code, message = answer(error)
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    return ProtocolError(code, message, ref=ref, retry_after=retry_after)
