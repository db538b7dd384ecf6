"""CLIP zero-shot moderation math on constructed vectors (no model: the embedder lives elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from ml.moderation import (
    NSFW_PROMPTS,
    SAFE_PROMPTS,
    ZERO_SHOT_LABEL,
    ZERO_SHOT_PROMPTS,
    ImageVerdict,
    combine,
    zero_shot_nsfw_score,
)

DIM = 32


def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIM, np.float32)
    vector[i] = 1.0
    return vector


PROMPTS = {prompt: axis(i) for i, prompt in enumerate(ZERO_SHOT_PROMPTS)}
"""Orthonormal prompt vectors: the NSFW prompts first, then the benign ones."""


def test_prompts_are_distinct_and_cover_both_sides() -> None:
    assert len(set(ZERO_SHOT_PROMPTS)) == len(NSFW_PROMPTS) + len(SAFE_PROMPTS)
    assert NSFW_PROMPTS and SAFE_PROMPTS


def test_an_image_at_an_nsfw_prompt_scores_near_one_and_at_a_benign_prompt_near_zero() -> None:
    assert zero_shot_nsfw_score(axis(0), PROMPTS) > 0.999
    assert zero_shot_nsfw_score(axis(len(NSFW_PROMPTS)), PROMPTS) < 0.001


def test_an_unrelated_image_spreads_evenly() -> None:
    unrelated = axis(DIM - 1)
    expected = len(NSFW_PROMPTS) / len(ZERO_SHOT_PROMPTS)
    assert zero_shot_nsfw_score(unrelated, PROMPTS) == pytest.approx(expected)


def test_lengths_do_not_matter_but_the_temperature_does() -> None:
    image = 0.3 * axis(0) + axis(len(NSFW_PROMPTS))  # mostly benign, a little NSFW
    score = zero_shot_nsfw_score(image, PROMPTS)
    assert zero_shot_nsfw_score(7.0 * image, {k: 3.0 * v for k, v in PROMPTS.items()}) == pytest.approx(score)
    soft = zero_shot_nsfw_score(image, PROMPTS, logit_scale=1.0)
    assert score < soft < 0.5  # CLIP's scale of 100 is sharper; both lean benign


def test_unknown_prompts_compete_as_benign() -> None:
    prompts = {NSFW_PROMPTS[0]: axis(0), "a photo of a cathedral": axis(1)}
    assert zero_shot_nsfw_score(axis(1), prompts) < 0.001


@pytest.mark.parametrize(
    "prompts",
    [{p: axis(i) for i, p in enumerate(NSFW_PROMPTS)}, {p: axis(i) for i, p in enumerate(SAFE_PROMPTS)}],
)
def test_both_sides_are_required(prompts: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="both"):
        zero_shot_nsfw_score(axis(0), prompts)


def test_a_zero_vector_is_refused() -> None:
    with pytest.raises(ValueError, match="zero vector"):
        zero_shot_nsfw_score(np.zeros(DIM), PROMPTS)


CLEAN = ImageVerdict(False, 0.1, {"FACE_MALE": 0.8}, "exposed nudity scored 0.10, below the threshold 0.50")
FLAGGED = ImageVerdict(True, 0.7, {"BUTTOCKS_EXPOSED": 0.7}, "BUTTOCKS_EXPOSED scored 0.70, ...")


def test_no_zero_shot_score_leaves_the_verdict_alone() -> None:
    assert combine(CLEAN, None, threshold=0.9) is CLEAN


def test_an_unconfident_zero_shot_score_is_recorded_but_does_not_flag() -> None:
    verdict = combine(CLEAN, 0.6, threshold=0.9)
    assert not verdict.flagged and verdict.score == CLEAN.score and verdict.reason == CLEAN.reason
    assert verdict.labels == {"FACE_MALE": 0.8, ZERO_SHOT_LABEL: 0.6}


def test_a_confident_zero_shot_score_flags_on_its_own() -> None:
    verdict = combine(CLEAN, 0.95, threshold=0.9)
    assert verdict.flagged and verdict.score == 0.95
    assert verdict.reason.startswith("CLIP zero-shot nudity scored 0.95")


def test_the_detector_flag_stands_whatever_clip_says() -> None:
    assert combine(FLAGGED, 0.01, threshold=0.9).flagged
    both = combine(FLAGGED, 0.92, threshold=0.9)
    assert both.flagged and both.score == 0.92
    assert both.reason.startswith(FLAGGED.reason) and "CLIP" in both.reason
