"""A tiny random-init open_clip configuration for plumbing tests and benchmarks.

It exercises every code path of the real models (preprocessing, the default BPE tokenizer, both
towers, normalisation) and builds in a fraction of a second, so tests can start fresh models
freely. Its vectors mean nothing. ``vocab_size`` stays 49408 so the default tokenizer fits it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import open_clip

TINY_MODEL = "viora-tiny"
"""The name the tiny configuration is registered under (usable as ``VIORA_CLIP_MODEL``)."""

TINY_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def register_tiny() -> str:
    """Register :data:`TINY_CONFIG` with open_clip (idempotent) and return its model name.

    open_clip only learns configurations from JSON files; it reads them at registration and keeps
    them in memory, so the file lives in a temporary folder only for that moment.
    """
    if TINY_MODEL not in open_clip.list_models():
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / f"{TINY_MODEL}.json").write_text(json.dumps(TINY_CONFIG))
            open_clip.add_model_config(folder)
    return TINY_MODEL
