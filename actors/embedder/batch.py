"""One batch of one kind, run in a worker thread: per-input preparation, one forward pass.

Preparation (decode, resize, tokenize) happens here too, not on the event loop: it is CPU work.
An input whose preparation raises is at fault — it fails alone. An exception from the forward
pass is the model's fault and propagates: the batch fails and the actor is restarted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch

from actors.embedder.request import Kind
from kernel.errors import Invalid


class Encoder(Protocol):
    """What the embedder needs of a model (``ml.clip.ClipModel`` is one)."""

    name: str
    quality: str
    dim: int
    device: torch.device

    def prepare_image(self, image: Any) -> torch.Tensor: ...
    def prepare_text(self, text: str) -> torch.Tensor: ...
    def encode_images(self, batch: torch.Tensor) -> np.ndarray: ...
    def encode_texts(self, batch: torch.Tensor) -> np.ndarray: ...


def embed_batch(model: Encoder, kind: Kind, payloads: Sequence[Any]) -> list[np.ndarray | Invalid]:
    """One outcome per payload, in order: its unit vector, or the error of that input alone."""
    prepare, encode = (
        (model.prepare_image, model.encode_images)
        if kind is Kind.IMAGE
        else (model.prepare_text, model.encode_texts)
    )
    errors: dict[int, Invalid] = {}
    tensors: list[torch.Tensor] = []
    for i, payload in enumerate(payloads):
        try:
            tensors.append(prepare(payload))
        except Exception as exc:  # any failure to prepare one input is that input's fault
            errors[i] = Invalid(f"cannot embed this {kind}: {exc}")
    vectors = iter(encode(torch.stack(tensors)) if tensors else ())
    return [errors[i] if i in errors else next(vectors) for i in range(len(payloads))]
