"""Semantic quality, with a real pretrained CLIP: ranking photographs by text, and alignment.

These need pretrained weights. None can be downloaded on these machines (model hubs are
unreachable) and none ship with the project, so they are skipped unless a checkpoint is given.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from skimage import data

from kernel.config import Settings
from ml.clip import ClipModel, ClipSource, load_clip
from services.intelligence import alignment_score

pytestmark = pytest.mark.skipif(
    not (os.environ.get("VIORA_CLIP_CHECKPOINT") or os.environ.get("VIORA_CLIP_PRETRAINED")),
    reason="no pretrained CLIP weights here (hubs unreachable, none shipped): set VIORA_CLIP_CHECKPOINT "
    "to a local open_clip checkpoint, or VIORA_CLIP_PRETRAINED to a tag in the local cache, to run",
)

PHOTOS = {"cat": "chelsea", "coffee": "coffee", "rocket": "rocket", "astronaut": "astronaut"}
QUERIES = {
    "cat": "a photo of a cat",
    "coffee": "a cup of coffee on a saucer",
    "rocket": "a rocket on the launch pad",
    "astronaut": "an astronaut in a space suit",
}


@pytest.fixture(scope="module")
def model() -> ClipModel:
    return load_clip(ClipSource.from_settings(Settings.from_env()))


@pytest.fixture(scope="module")
def photo_vectors(model: ClipModel) -> dict[str, np.ndarray]:
    images = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in PHOTOS.values()]
    return dict(zip(PHOTOS, model.embed_images(images), strict=True))


@pytest.mark.parametrize("subject", list(QUERIES))
def test_text_search_ranks_the_right_photograph_first(
    model: ClipModel, photo_vectors: dict[str, np.ndarray], subject: str
) -> None:
    (query,) = model.embed_texts([QUERIES[subject]])
    ranked = sorted(photo_vectors, key=lambda name: float(query @ photo_vectors[name]), reverse=True)
    assert ranked[0] == subject


def test_a_true_caption_aligns_better_than_a_false_one(
    model: ClipModel, photo_vectors: dict[str, np.ndarray]
) -> None:
    true_caption, false_caption = model.embed_texts([QUERIES["coffee"], QUERIES["rocket"]])
    coffee = photo_vectors["coffee"]
    assert alignment_score(float(true_caption @ coffee)) > alignment_score(float(false_caption @ coffee))
