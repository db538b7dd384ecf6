"""Typed failures every store raises, whatever the backend.

Callers (the server's request handlers) map these to protocol errors without knowing about
psycopg: ``StoreUnavailable`` becomes an ``unavailable`` answer the client may retry, ``Conflict``
becomes a ``conflict`` answer it must not.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class, so a handler can catch every store failure in one clause."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or dropped the connection; the outcome of a write is unknown."""


class Conflict(StoreError):
    """A uniqueness rule was violated (e.g. the username is taken).

    ``constraint`` names the violated constraint so a caller can tell which rule fired.
    """

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"unique constraint violated: {constraint}")
        self.constraint = constraint


class NotFound(StoreError):
    """The addressed row does not exist (or was deleted)."""


class Forbidden(StoreError):
    """The row exists but the caller may not change it (e.g. someone else's post)."""


class Blocked(StoreError):
    """The action crosses a block between the two users."""


class Invalid(StoreError, ValueError):
    """The request breaks a data rule (a length, a malformed cursor): the caller's mistake."""
