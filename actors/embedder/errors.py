"""Errors the embedder raises to its callers, each with the protocol error code it maps to."""

from __future__ import annotations

from protocol.errors import ErrorCode


class EmbedderError(Exception):
    """Base class; ``code`` is what a request handler answers the client with."""

    code: ErrorCode = ErrorCode.INTERNAL


class EmbedderBusy(EmbedderError):
    """The request queue is full: answered at once, so overload costs callers no waiting and the
    server no memory. Retry later."""

    code = ErrorCode.BUSY


class EmbedderTimeout(EmbedderError):
    """No vector within the caller's timeout; the request is dropped if it has not run yet."""

    code = ErrorCode.TIMEOUT


class EmbedInputError(EmbedderError):
    """This input could not be embedded (not an image, not text…); its batch-mates were."""

    code = ErrorCode.BAD_REQUEST


class EmbedderCrashed(EmbedderError):
    """The model failed on this request's batch; the embedder is being restarted."""


class EmbedderStopped(EmbedderError):
    """The embedder stopped (shutdown or restart) before this request was answered."""

    code = ErrorCode.UNAVAILABLE
