"""The batching CLIP embedder: :class:`EmbedderService` (a supervised child) and its client."""

from actors.embedder.errors import (
    EmbedderBusy,
    EmbedderCrashed,
    EmbedderError,
    EmbedderStopped,
    EmbedderTimeout,
    EmbedInputError,
)
from actors.embedder.request import Kind
from actors.embedder.service import EmbedderClient, EmbedderService

__all__ = [
    "EmbedInputError",
    "EmbedderBusy",
    "EmbedderClient",
    "EmbedderCrashed",
    "EmbedderError",
    "EmbedderService",
    "EmbedderStopped",
    "EmbedderTimeout",
    "Kind",
]
