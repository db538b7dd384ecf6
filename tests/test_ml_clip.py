"""ml/clip.py: models built for real (tiny random-init here), their own preprocessing and tokenizer,
unit vectors, local checkpoints, and the quality each configuration admits to."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from media_samples import photo_jpeg
from PIL import Image
from skimage import data

from kernel.config import Settings
from kernel.errors import Invalid
from ml.clip import RANDOM_INIT_QUALITY, ClipModel, ClipSource, _truncatable, load_clip
from ml.tiny import TINY_CONFIG, TINY_MODEL
from viora.runtime import check_vector_dim

TINY = ClipSource(TINY_MODEL)


@pytest.fixture(scope="module")
def tiny() -> ClipModel:
    return load_clip(TINY)


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_tiny_model_builds_in_well_under_a_second() -> None:
    started = time.perf_counter()
    model = load_clip(TINY)
    assert time.perf_counter() - started < 1.0
    assert model.dim == TINY_CONFIG["embed_dim"]
    assert model.quality == RANDOM_INIT_QUALITY
    assert model.device.type in {"cpu", "cuda"}


def test_images_and_texts_embed_to_unit_vectors(tiny: ClipModel) -> None:
    images = [Image.fromarray(data.astronaut()), photo_jpeg("coffee")]  # decoded, and encoded bytes
    assert_unit_rows(tiny.embed_images(images), 2, tiny.dim)
    texts = tiny.embed_texts(["a cat", "a rocket on its launch pad " * 20])  # truncated, not refused
    assert_unit_rows(texts, 2, tiny.dim)
    assert not np.allclose(texts[0], texts[1])


def test_bad_inputs_are_refused_one_by_one(tiny: ClipModel) -> None:
    with pytest.raises(Invalid):
        tiny.prepare_image(b"not an image at all")
    with pytest.raises(Invalid):
        tiny.prepare_image(photo_jpeg("chelsea")[:200])  # truncated JPEG
    with pytest.raises(Invalid):
        tiny.prepare_text(42)  # type: ignore[arg-type]


def test_a_local_checkpoint_loads_its_weights(tiny: ClipModel, tmp_path: Path) -> None:
    path = tmp_path / "tiny.pt"
    torch.save(tiny._model.state_dict(), path)
    loaded = load_clip(ClipSource(TINY_MODEL, checkpoint=path))
    assert loaded.quality == "checkpoint tiny.pt"
    np.testing.assert_allclose(loaded.embed_texts(["hello"]), tiny.embed_texts(["hello"]), atol=1e-6)
    fresh = load_clip(TINY)  # another random init: different weights, different vectors
    assert not np.allclose(fresh.embed_texts(["hello"]), tiny.embed_texts(["hello"]), atol=1e-3)
    with pytest.raises(FileNotFoundError):
        load_clip(ClipSource(TINY_MODEL, checkpoint=tmp_path / "missing.pt"))


def test_settings_name_the_source() -> None:
    assert ClipSource.from_settings(Settings()) == ClipSource("ViT-B-32", None, None)
    settings = Settings.from_env(
        {"VIORA_CLIP_MODEL": "ViT-B-16", "VIORA_CLIP_PRETRAINED": "openai", "VIORA_CLIP_CHECKPOINT": "w.pt"}
    )
    source = ClipSource.from_settings(settings)
    assert source == ClipSource("ViT-B-16", "openai", Path("w.pt"))
    assert source.quality == "checkpoint w.pt"
    assert ClipSource("ViT-B-16", "openai").quality == "pretrained openai"


def test_the_runtime_refuses_a_vector_dimension_its_model_does_not_make() -> None:
    assert ClipSource(model="ViT-B-32").embed_dim == 512
    check_vector_dim(Settings(clip_model=TINY_MODEL, vector_dim=TINY_CONFIG["embed_dim"]))
    with pytest.raises(ValueError, match="set VIORA_VECTOR_DIM=64"):
        check_vector_dim(Settings(clip_model=TINY_MODEL, vector_dim=512))
    with pytest.raises(ValueError, match="unknown CLIP model"):
        check_vector_dim(Settings(clip_model="no-such-model"))


def test_texts_are_encoded_without_their_padding_to_the_same_vectors(tiny: ClipModel) -> None:
    texts = ["a cat", "sunset at the beach", "a long caption " * 3, ""]
    tokens = torch.stack([tiny.prepare_text(t) for t in texts])
    assert _truncatable(tiny._model), "the tiny model takes the truncated path"
    with torch.inference_mode():
        full = tiny._model.encode_text(tokens, normalize=True).numpy()
    assert np.allclose(tiny.encode_texts(tokens), full, atol=1e-5)
