"""The batching CLIP embedder: :class:`EmbedderService` (a supervised child) and its client.

Its failures are the kernel's: ``Busy`` (queue full, at once), ``TimedOut``, ``Invalid`` (this
input cannot be embedded; its batch-mates were), ``Fault`` (the model failed on the batch) and
``Unavailable`` (stopped before answering) — see :mod:`kernel.errors`.
"""

from actors.embedder.request import Kind
from actors.embedder.service import EmbedderClient, EmbedderService

__all__ = ["EmbedderClient", "EmbedderService", "Kind"]
