"""Viora's one error vocabulary: every failure a caller may be told about, whatever layer found it.

Stores, actors and services raise these and nothing else for an expected failure; each edge turns
them into its own wire answer with one table — the websocket edge into protocol error codes
(``edges/ws/errors.py``), the HTTP edge into a status and a code (``edges/http/errors.py``). So the
same fault gets the same answer everywhere, and no layer below the edges knows a wire format.

The classes say *what happened*, not how to answer it: ``NotFound`` is ``not_found`` on the
websocket and 404 over HTTP. A subclass refines its parent, and a table that lacks it answers with
the parent's entry, so adding a refinement never turns into ``internal``.

Anything else that escapes a request is a bug: the edges log it and answer ``internal``.
"""

from __future__ import annotations

import enum


class DomainError(Exception):
    """Base class: an expected failure, told to the caller with :attr:`message`."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


# --- the caller's mistake ------------------------------------------------------------------


class Invalid(DomainError, ValueError):
    """The request breaks a data rule (a length, a range, a malformed cursor)."""


class Rejection(enum.StrEnum):
    """Why a media file can never be processed (retrying would not help)."""

    CORRUPT = "corrupt"
    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too_large"
    TOO_LONG = "too_long"


class MediaRejected(Invalid):
    """A media file we will not take or cannot process: at upload it is refused, in a job the job
    ends ``failed`` with :attr:`reason` and the worker carries on."""

    def __init__(self, code: Rejection, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = f"{code}: {message}"


class OffsetMismatch(Invalid):
    """A resumable upload's chunk does not start where the upload is: :attr:`offset` is where it is."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"the upload is at byte {offset}")
        self.offset = offset


class NotFound(DomainError):
    """The addressed object does not exist, was deleted, or is hidden from the caller."""


class BlobMissing(NotFound):
    """A stored file is not in the blob store."""


class Blocked(NotFound):
    """The action crosses a block between the two users.

    A refinement of ``NotFound``, not ``Forbidden``: to the other side a blocking account does not
    exist, and "you may not" would tell a blocked user they are blocked. Every edge therefore
    answers it as ``not_found``; raise it with the words a missing object gets, so the message
    does not tell the two apart either.
    """


class Forbidden(DomainError):
    """The object exists but the caller may not do this to it (e.g. someone else's post)."""


class Conflict(DomainError):
    """A uniqueness rule was violated; ``constraint`` names the rule that fired."""

    def __init__(self, constraint: str | None, message: str | None = None) -> None:
        super().__init__(message or f"unique constraint violated: {constraint}")
        self.constraint = constraint


class UsernameTaken(Conflict):
    """Another account already has this username."""


# --- who the caller is ---------------------------------------------------------------------


class Unauthenticated(DomainError):
    """The request needs a signed-in caller and has none."""


class AuthFailed(Unauthenticated):
    """Unknown username or wrong password (deliberately not told apart)."""


class TokenInvalid(Unauthenticated):
    """The session token is malformed or unknown, or its account is gone."""


class TokenExpired(Unauthenticated):
    """The session token is past its expiry time."""


class TokenRevoked(Unauthenticated):
    """The session token was revoked (a logout)."""


class LimitReached(DomainError):
    """A per-account cap is reached (open sockets…): waiting will not help, closing something will."""


class RateLimited(DomainError):
    """Too many attempts; the caller may retry after :attr:`retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- the server's state --------------------------------------------------------------------


class Unavailable(DomainError):
    """Something the request needs is down, restarting or shutting down; retrying may succeed."""


class StoreUnavailable(Unavailable):
    """A store cannot be reached or dropped the connection; the outcome of a write is unknown."""


class ActorStopped(Unavailable):
    """The actor was shut down (or is restarting); its mailbox no longer takes messages."""


class Busy(Unavailable):
    """A bounded queue is full: refused at once, so overload costs callers no waiting and the
    server no memory. Retry later."""


class TimedOut(DomainError):
    """No answer in time; the work may or may not have happened."""


class AskTimeout(TimedOut):
    """An actor did not answer an ``ask`` within its timeout."""


class Fault(DomainError):
    """A component failed on this request and is being restarted: typed, but the server's fault."""


class ActorCrashed(Fault):
    """The actor raised while handling this request; its supervisor restarts it."""
