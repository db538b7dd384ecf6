"""Image and video-frame moderation with NudeNet's detector (the 320n ONNX model its wheel ships).

NudeNet is an object detector, not a classifier: it returns boxes of body parts, each with a label
and a score, whether the part is exposed or covered. Which labels make an image NSFW is therefore our
policy, and it is :data:`NSFW_LABELS`: exposed genitalia, anus, buttocks and female breasts. Every
other label is benign and only reported: faces (the detector finds them in ordinary portraits), feet,
armpits, belly, an exposed male chest (beaches, sport) and every ``*_COVERED`` label (swimwear,
underwear, clothing). An image's score is the highest score of an NSFW detection (0 when there is
none); it is flagged when that score reaches the threshold (``moderation_image_threshold``).

The work is CPU-bound and blocking (~15-40 ms an image on CPU, the ONNX run spread over the cores):
callers on the event loop must go through :class:`ml.moderation.service.Moderation`, which runs it in
a worker thread behind a limiter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ml.moderation._lazy import Lazy

NSFW_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
"""NudeNet labels that count as sexual nudity; all its other labels are benign (see the module doc)."""

Detection = Mapping[str, Any]
"""One NudeNet detection: ``{"class": label, "score": float, "box": [x, y, w, h]}``."""

ImageInput = Image.Image | np.ndarray
"""A PIL image (any mode) or an RGB ``uint8`` array of shape (height, width, 3)."""


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[dict[str, Any]]:
        """Detections in a BGR ``uint8`` image (OpenCV's channel order, which NudeNet expects)."""
        ...


def _load_detector() -> Detector:
    # Imported here: onnxruntime and OpenCV are heavy, and only moderation needs them.
    from nudenet import NudeDetector

    return NudeDetector()  # the model file inside the wheel; nothing is downloaded


SHARED_DETECTOR: Lazy[Detector] = Lazy(_load_detector)
"""One detector per process: the ONNX session is thread-safe, so every moderator shares it."""


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    flagged: bool
    score: float
    """Highest NSFW-label score, 0-1 (0 when nothing NSFW was detected)."""
    labels: dict[str, float]
    """Every label detected (benign ones too) with its highest score: what a reviewer sees."""
    reason: str
    """A sentence for the author and the admin review list."""


def verdict_from_detections(detections: Iterable[Detection], threshold: float) -> ImageVerdict:
    """The label policy, apart from the model so that it can be tested on constructed detections."""
    labels: dict[str, float] = {}
    for detection in detections:
        label, score = str(detection["class"]), float(detection["score"])
        labels[label] = max(labels.get(label, 0.0), score)
    exposed = {label: score for label, score in labels.items() if label in NSFW_LABELS}
    worst = max(exposed, key=exposed.__getitem__, default=None)
    score = exposed[worst] if worst else 0.0
    flagged = score >= threshold
    subject = worst or "exposed nudity"
    relation = "at or above" if flagged else "below"
    return ImageVerdict(
        flagged, score, labels, f"{subject} scored {score:.2f}, {relation} the threshold {threshold:.2f}"
    )


def merge_frames(verdicts: Sequence[ImageVerdict]) -> ImageVerdict:
    """A video's verdict from its frames': flagged if any frame is, scored by its worst frame.

    One explicit frame is enough to flag a video, so frames are never averaged (which would let a
    long clean video hide a short explicit scene).
    """
    if not verdicts:
        raise ValueError("a video verdict needs at least one frame")
    worst_index = max(range(len(verdicts)), key=lambda i: verdicts[i].score)
    worst = verdicts[worst_index]
    labels: dict[str, float] = {}
    for verdict in verdicts:
        for label, score in verdict.labels.items():
            labels[label] = max(labels.get(label, 0.0), score)
    return ImageVerdict(
        flagged=any(v.flagged for v in verdicts),
        score=worst.score,
        labels=labels,
        reason=f"frame {worst_index + 1} of {len(verdicts)}: {worst.reason}",
    )


def to_bgr(image: ImageInput) -> np.ndarray:
    """The contiguous BGR ``uint8`` array NudeNet reads, with no temporary file.

    NudeNet accepts a path, encoded bytes or an array, and treats an array as OpenCV's BGR: fed RGB
    it sees wrong colours (skimage's coffee cup then scores 0.30 as ``BUTTOCKS_EXPOSED``). Alpha is
    dropped, not composited: content hidden under transparent pixels is still judged.
    """
    if isinstance(image, Image.Image):
        rgb = np.asarray(image.convert("RGB"))
    else:
        rgb = image
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 array (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb[..., ::-1])


class ImageModerator:
    """Blocking: run it in a worker thread (:class:`ml.moderation.service.Moderation` does)."""

    def __init__(self, threshold: float, detector: Lazy[Detector] = SHARED_DETECTOR) -> None:
        self.threshold = threshold
        self._detector = detector

    def load(self) -> None:
        """Load the detector now instead of on the first image."""
        self._detector.get()

    def detect(self, image: ImageInput) -> list[dict[str, Any]]:
        """NudeNet's raw detections (the model loads on the first call)."""
        return self._detector.get().detect(to_bgr(image))

    def classify(self, image: ImageInput) -> ImageVerdict:
        return verdict_from_detections(self.detect(image), self.threshold)

    def classify_frames(self, frames: Iterable[ImageInput]) -> ImageVerdict:
        """Every frame is run (NudeNet's ``detect_batch`` is no faster on CPU), so the score is the
        worst frame's even when an earlier frame already flagged the video."""
        return merge_frames([self.classify(frame) for frame in frames])
