"""Content moderation: NudeNet for images and video frames, alt-profanity-check for text, and the
math for CLIP zero-shot prompts as a second image signal. Both models ship inside their packages and
run offline.

The moderators (:class:`ImageModerator`, :class:`TextModerator`) are blocking and meant for worker
threads; code on the Trio loop uses :class:`Moderation`, which runs them there behind a limiter.
"""

from ml.moderation.image import (
    NSFW_LABELS,
    ImageModerator,
    ImageVerdict,
    merge_frames,
    verdict_from_detections,
)
from ml.moderation.service import Moderation
from ml.moderation.text import TextModerator, TextVerdict
from ml.moderation.zero_shot import (
    NSFW_PROMPTS,
    SAFE_PROMPTS,
    ZERO_SHOT_LABEL,
    ZERO_SHOT_PROMPTS,
    combine,
    zero_shot_nsfw_score,
)

__all__ = [
    "NSFW_LABELS",
    "NSFW_PROMPTS",
    "SAFE_PROMPTS",
    "ZERO_SHOT_LABEL",
    "ZERO_SHOT_PROMPTS",
    "ImageModerator",
    "ImageVerdict",
    "Moderation",
    "TextModerator",
    "TextVerdict",
    "combine",
    "merge_frames",
    "verdict_from_detections",
    "zero_shot_nsfw_score",
]
