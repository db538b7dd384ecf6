"""CLIP models from open_clip, loaded for real, with the model's own preprocessing and tokenizer.

A model is named as open_clip names it (``ViT-B-32``) and gets its weights from a pretrained tag
(``openai``, ``laion2b_s34b_b79k``…), from a local checkpoint file, or from nowhere: random init.
Model hubs are unreachable on our machines and no weights ship with the project, so the default
(ViT-B-32, random init) starts without a download — with the real architecture and compute, and no
semantic quality at all. :attr:`ClipModel.quality` says which of these a running model is.

Work is split so a batching caller can fail one input without failing its batch-mates:
:meth:`ClipModel.prepare_image` / :meth:`ClipModel.prepare_text` turn one input into a tensor
(raising :class:`kernel.errors.Invalid` for that input alone); :meth:`ClipModel.encode_images` /
:meth:`ClipModel.encode_texts` run one forward pass over a stacked batch. Every method here is
blocking CPU/GPU work: call it from a worker thread, never from the event loop.

A pretrained tag that is not in the local cache makes open_clip ask the hub; where hubs are
unreachable, run with ``HF_HUB_OFFLINE=1`` so that fails at once instead of retrying for ~46 s
(huggingface_hub reads it at import, so it must be in the environment before start).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.transformer import text_global_pool
from PIL import Image, UnidentifiedImageError

from kernel.errors import Invalid
from ml.tiny import TINY_MODEL, register_tiny

if TYPE_CHECKING:
    from kernel.config import Settings

ImageInput = Image.Image | bytes
"""A decoded image, or the bytes of an encoded one (JPEG, PNG, WebP…), decoded when prepared."""

RANDOM_INIT_QUALITY = "random-init: plumbing only, no semantic quality"


@dataclass(frozen=True)
class ClipSource:
    """Which model to build and where its weights come from."""

    model: str = "ViT-B-32"
    pretrained: str | None = None
    """An open_clip pretrained tag; needs the weights in the local cache (hubs are unreachable)."""
    checkpoint: Path | None = None
    """A local checkpoint file (a state dict for ``model``); wins over ``pretrained``."""
    cpu_threads: int = 0
    """Torch threads on a CPU; 0 = one per core but one (see :func:`pick_device`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ClipSource:
        return cls(
            settings.clip_model, settings.clip_pretrained, settings.clip_checkpoint, settings.clip_cpu_threads
        )

    @property
    def embed_dim(self) -> int:
        """The model's output dimension, read from its configuration (no weights are loaded)."""
        if self.model == TINY_MODEL:
            register_tiny()
        config = open_clip.get_model_config(self.model)
        if config is None:
            raise ValueError(f"unknown CLIP model {self.model!r}; known: {', '.join(open_clip.list_models())}")
        return int(config["embed_dim"])

    @property
    def quality(self) -> str:
        """What the vectors are worth, in words operators and the README can repeat."""
        if self.checkpoint is not None:
            return f"checkpoint {self.checkpoint.name}"
        if self.pretrained:
            return f"pretrained {self.pretrained}"
        return RANDOM_INIT_QUALITY


class ClipModel:
    """One loaded CLIP model: both towers, its preprocessing, its tokenizer, its device."""

    def __init__(
        self,
        source: ClipSource,
        model: CLIP,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        device: torch.device,
    ) -> None:
        self.source = source
        self.name = source.model
        self.quality = source.quality
        self.device = device
        self._model = model.eval()
        self._dtype = next(model.parameters()).dtype
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self.dim: int = source.embed_dim

    # ----------------------------------------------------------------- one input at a time

    def prepare_image(self, image: ImageInput) -> torch.Tensor:
        """Decode (if bytes) and preprocess one image into a ``(3, H, W)`` float tensor on the CPU."""
        if isinstance(image, bytes | bytearray | memoryview):
            try:
                with Image.open(io.BytesIO(image)) as decoded:
                    decoded.load()
                    image = decoded.copy()
            except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
                raise Invalid(f"not a decodable image: {exc}") from exc
        if not isinstance(image, Image.Image):
            raise Invalid(f"expected an image or its bytes, got {type(image).__name__}")
        return self._preprocess(image)

    def prepare_text(self, text: str) -> torch.Tensor:
        """Tokenize one text (truncated to the model's context length) into a 1-D token tensor."""
        if not isinstance(text, str):
            raise Invalid(f"expected text, got {type(text).__name__}")
        return self._tokenizer([text])[0]

    # ----------------------------------------------------------------- one forward pass per batch

    def encode_images(self, batch: torch.Tensor) -> np.ndarray:
        """One forward pass of the image tower: ``(n, 3, H, W)`` → ``(n, dim)`` float32 unit rows."""
        with torch.inference_mode():
            out = self._model.encode_image(batch.to(self.device, self._dtype), normalize=True)
        return _unit_rows(out)

    def encode_texts(self, batch: torch.Tensor) -> np.ndarray:
        """One forward pass of the text tower: ``(n, context)`` tokens → ``(n, dim)`` unit rows."""
        with torch.inference_mode():
            tokens = batch.to(self.device)
            if _truncatable(self._model):
                out = F.normalize(_encode_text_truncated(self._model, tokens), dim=-1)
            else:
                out = self._model.encode_text(tokens, normalize=True)
        return _unit_rows(out)

    # ----------------------------------------------------------------- conveniences

    def embed_images(self, images: Sequence[ImageInput]) -> np.ndarray:
        """Prepare and encode ``images`` in one pass (any bad input raises :class:`Invalid`)."""
        return self.encode_images(torch.stack([self.prepare_image(i) for i in images]))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_texts(torch.stack([self.prepare_text(t) for t in texts]))


def _truncatable(model: torch.nn.Module) -> bool:
    """An open_clip ``CLIP`` whose text tower is causal and pools at the end-of-text token."""
    return (
        isinstance(model, CLIP)
        and getattr(model, "text_pool_type", None) == "argmax"
        and getattr(model, "attn_mask", None) is not None
    )


def _encode_text_truncated(model: CLIP, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text`` over the tokens up to the batch's last end-of-text token only.

    Captions and queries are short (a handful of tokens) but are padded to the context length
    (77): with a causal mask, nothing after the end-of-text token reaches its features, so cutting
    the padding gives the same vectors for a fraction of the work (a one-line query: ~10 times less
    on a CPU). Mirrors ``open_clip.model.CLIP.encode_text``; a test checks they agree.
    """
    length = int(tokens.argmax(dim=-1).max()) + 1  # argmax pooling: end-of-text has the top id
    tokens = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = text_global_pool(model.ln_final(x), tokens, model.text_pool_type)
    if isinstance(model.text_projection, torch.nn.Linear):
        return model.text_projection(x)
    return x if model.text_projection is None else x @ model.text_projection


def _unit_rows(out: torch.Tensor) -> np.ndarray:
    # Normalised again in float32: half-precision rows (CUDA) are only unit to ~1e-3.
    rows = out.float().cpu().numpy()
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def pick_device(cpu_threads: int = 0) -> torch.device:
    """CUDA when present; otherwise the CPU with ``cpu_threads`` torch threads.

    0 means one per core but one: inference shares the machine with the event loop and the
    database, and a forward pass on every core starves them (measured: fan-out p99 225 → 305 ms on
    2 cores while posts were being indexed).
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(cpu_threads or max(1, (os.cpu_count() or 1) - 1))
    return torch.device("cpu")


def load_clip(source: ClipSource, device: torch.device | None = None) -> ClipModel:
    """Build the model ``source`` names (blocking: seconds for ViT-B-32; run it in a thread).

    Half precision on CUDA (CLIP inference loses nothing that matters; twice the throughput),
    float32 on the CPU (half is slower there).
    """
    device = device or pick_device(source.cpu_threads)
    if source.model == TINY_MODEL:
        register_tiny()
    weights = str(source.checkpoint) if source.checkpoint is not None else source.pretrained
    if source.checkpoint is not None and not source.checkpoint.is_file():
        raise FileNotFoundError(f"CLIP checkpoint not found: {source.checkpoint}")
    model, _, preprocess = open_clip.create_model_and_transforms(
        source.model,
        pretrained=weights,
        device=device,
        precision="fp16" if device.type == "cuda" else "fp32",
    )
    return ClipModel(source, model, preprocess, open_clip.get_tokenizer(source.model), device)
