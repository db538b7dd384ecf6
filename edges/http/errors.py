"""The HTTP edge's answer to each domain error: one table, from :mod:`kernel.errors` to a status
and a stable code, sent as ``{"error": {"code", "message"}}``.

Like the websocket edge's table (``edges/ws/errors.py``), a class missing here answers with its
nearest listed ancestor's entry. Media refusals carry their reason (:class:`~kernel.errors.Rejection`),
which picks the status: a type we do not take is 415, a file over the size limit 413.
"""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify

from kernel.errors import (
    AuthFailed,
    Busy,
    Conflict,
    DomainError,
    Fault,
    Forbidden,
    Invalid,
    LimitReached,
    MediaRejected,
    NotFound,
    OffsetMismatch,
    RateLimited,
    Rejection,
    StoreUnavailable,
    TimedOut,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    Unauthenticated,
    Unavailable,
    UsernameTaken,
)

ANSWERS: dict[type, tuple[int, str, str | None]] = {
    Invalid: (400, "bad_request", None),
    OffsetMismatch: (409, "offset_mismatch", None),
    Unauthenticated: (401, "unauthenticated", None),
    AuthFailed: (401, "auth_failed", None),
    TokenInvalid: (401, "token_invalid", None),
    TokenExpired: (401, "token_expired", None),
    TokenRevoked: (401, "token_revoked", None),
    Forbidden: (403, "forbidden", None),
    NotFound: (404, "not_found", None),
    Conflict: (409, "conflict", "this conflicts with something that exists"),
    UsernameTaken: (409, "username_taken", None),
    RateLimited: (429, "rate_limited", None),
    LimitReached: (429, "limit_reached", None),
    Fault: (500, "internal", "a server component failed on this request; retry"),
    Unavailable: (503, "unavailable", None),
    StoreUnavailable: (503, "unavailable", "storage is unavailable; retry shortly"),
    Busy: (503, "busy", None),
    TimedOut: (504, "timeout", None),
}
"""Status, code, and (where the exception's own words name internals) the message to show instead."""

REJECTIONS: dict[Rejection, tuple[int, str]] = {
    Rejection.UNSUPPORTED: (415, "unsupported_type"),
    Rejection.TOO_LARGE: (413, "too_large"),
    Rejection.TOO_LONG: (422, "too_long"),
    Rejection.CORRUPT: (422, "corrupt"),
}


def answer(error: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and extra headers for ``error``."""
    status, code, message = 500, "internal", "internal error"
    if isinstance(error, MediaRejected):
        (status, code), message = REJECTIONS[error.code], error.message
    else:
        for cls in type(error).__mro__:
            entry = ANSWERS.get(cls)
            if entry is not None:
                status, code, shown = entry
                message = shown or error.message or code
                break
    headers: dict[str, str] = {}
    if isinstance(error, OffsetMismatch):
        headers["Upload-Offset"] = str(error.offset)
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return status, error_body(code, message), headers


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> Response:
    """A JSON error answer for refusals made by the edge itself (a wrong admin token…)."""
    response = jsonify(error_body(code, message))
    response.status_code = status
    return response


def domain_error_response(error: DomainError) -> Response:
    status, body, headers = answer(error)
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response
