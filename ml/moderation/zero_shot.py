"""CLIP zero-shot prompts as a second moderation signal: the math and the prompts, no model.

The embedder (``ml/clip.py``) embeds :data:`ZERO_SHOT_PROMPTS` once and each image as it is indexed;
:func:`zero_shot_nsfw_score` turns the two into a probability that the image is NSFW, the way CLIP
classifies zero-shot: cosine similarity to each prompt, scaled by CLIP's logit scale (100), softmax,
and the probability mass of the NSFW prompts. The detector and CLIP fail differently (the detector
needs a visible body part; CLIP judges the whole scene, drawings included), so :func:`combine` flags
when *either* is confident rather than averaging, which would let one signal's miss cancel the
other's hit. Only meaningful with a pretrained CLIP: a random-init test model gives noise.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

import numpy as np

from ml.moderation.image import ImageVerdict

NSFW_PROMPTS: tuple[str, ...] = (
    "a photo of nudity",
    "explicit sexual content",
    "a photo of a naked person",
    "a pornographic image",
)
SAFE_PROMPTS: tuple[str, ...] = (
    "a photo of a person wearing clothes",
    "a photo of a person in swimwear",
    "a photo of people",
    "a photo of an animal",
    "a photo of food",
    "a photo of a landscape",
    "a photo of an object",
    "a screenshot of text",
)
"""Benign alternatives, swimwear among them: without a near miss to prefer, a beach photo's mass
would go to the nudity prompts."""
ZERO_SHOT_PROMPTS: tuple[str, ...] = NSFW_PROMPTS + SAFE_PROMPTS
"""What the embedder embeds, and the keys of ``prompt_vectors``."""

CLIP_LOGIT_SCALE = 100.0
"""CLIP's learned temperature (``logit_scale.exp()`` of the released models)."""
ZERO_SHOT_LABEL = "clip_zero_shot"
"""Key of the zero-shot probability in a combined verdict's labels."""


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("a zero vector has no direction to compare")
    return vectors / norms


def zero_shot_nsfw_score(
    image_vector: np.ndarray,
    prompt_vectors: Mapping[str, np.ndarray],
    *,
    nsfw_prompts: Collection[str] = NSFW_PROMPTS,
    logit_scale: float = CLIP_LOGIT_SCALE,
) -> float:
    """Softmax probability, over all the given prompts, that falls on the NSFW ones (0-1).

    Vectors need not be normalised. Every prompt not in ``nsfw_prompts`` competes as a benign one.
    """
    names = list(prompt_vectors)
    is_nsfw = np.array([name in nsfw_prompts for name in names])
    if is_nsfw.all() or not is_nsfw.any():
        raise ValueError("zero-shot moderation needs both NSFW and benign prompts")
    prompts = _unit(np.stack([np.asarray(prompt_vectors[name], np.float64) for name in names]))
    image = _unit(np.asarray(image_vector, np.float64))
    logits = logit_scale * (prompts @ image)
    weights = np.exp(logits - logits.max())  # shifted: exp(100) alone would overflow float32
    return float(weights[is_nsfw].sum() / weights.sum())


def combine(primary: ImageVerdict, zero_shot: float | None, *, threshold: float) -> ImageVerdict:
    """The detector's verdict, with the zero-shot probability added as a second signal.

    Flagged when the detector flagged it or the zero-shot probability reaches ``threshold``
    (``moderation_zero_shot_threshold``). The score is the strongest signal that flagged (so the
    review list ranks CLIP-only flags too), else the detector's. ``None`` (no CLIP vector yet)
    leaves the verdict as it is.
    """
    if zero_shot is None:
        return primary
    labels = {**primary.labels, ZERO_SHOT_LABEL: zero_shot}
    if zero_shot < threshold:
        return replace(primary, labels=labels)
    reason = f"CLIP zero-shot nudity scored {zero_shot:.2f}, at or above the threshold {threshold:.2f}"
    if primary.flagged:
        reason = f"{primary.reason}; {reason}"
    return ImageVerdict(True, max(primary.score, zero_shot), labels, reason)
