"""Image and text moderation with the real models (both ship in their packages and run offline).

No NSFW image ships with the tests, so the flagging path is shown two honest ways instead: the label
policy on constructed detections, and the real detector on clean photos with the threshold forced to
0 (or below), where the same comparison that flags nudity must flag them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
import trio
from PIL import Image
from skimage import data

from kernel.config import Settings
from ml.moderation import (
    ImageModerator,
    ImageVerdict,
    Moderation,
    TextModerator,
    merge_frames,
    verdict_from_detections,
)
from ml.moderation._lazy import Lazy
from ml.moderation.image import SHARED_DETECTOR, to_bgr

SETTINGS = Settings()
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket"]
PROFANE = ["fuck you", "shut the fuck up asshole", "you are a stupid bitch", "this is bullshit"]
ORDINARY = [
    "Have a lovely day at the beach!",
    "The coffee here is great, see you tomorrow.",
    "What a beautiful sunset over the mountains",
    "Breast cancer awareness month starts today",
]


def photo(name: str) -> np.ndarray:
    return getattr(data, name)()


@pytest.fixture(scope="module")
def images() -> ImageModerator:
    return ImageModerator(SETTINGS.moderation_image_threshold)


@pytest.fixture(scope="module")
def texts() -> TextModerator:
    return TextModerator(SETTINGS.moderation_text_threshold)


# --- images: the real detector ------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_clean_photos_are_not_flagged(images: ImageModerator, name: str) -> None:
    verdict = images.classify(Image.fromarray(photo(name)))
    assert not verdict.flagged
    assert verdict.score == 0.0  # not merely under the threshold: no NSFW label was detected at all
    assert "below the threshold" in verdict.reason


def test_the_detector_really_runs(images: ImageModerator) -> None:
    detections = images.detect(photo("astronaut"))
    assert detections and all(set(d) == {"class", "score", "box"} for d in detections)
    verdict = images.classify(photo("astronaut"))
    assert verdict.labels.get("FACE_FEMALE", 0.0) > 0.5  # a face is found, and a face is benign
    assert not verdict.flagged


def test_pil_modes_and_arrays_give_the_same_verdict(images: ImageModerator) -> None:
    rgb = photo("astronaut")
    expected = images.classify(rgb)
    assert images.classify(Image.fromarray(rgb)) == expected
    assert images.classify(Image.fromarray(rgb).convert("RGBA")) == expected


def test_arrays_are_handed_to_nudenet_as_bgr() -> None:
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255
    bgr = to_bgr(red)
    assert bgr[0, 0].tolist() == [0, 0, 255] and bgr.flags.c_contiguous
    with pytest.raises(ValueError, match="RGB uint8"):
        to_bgr(np.zeros((2, 2), np.uint8))


@pytest.mark.parametrize("threshold", [0.0, -1.0])
def test_a_threshold_at_or_below_zero_flags_a_clean_photo(threshold: float) -> None:
    """The real model and the real comparison, pushed to where a clean image must be flagged."""
    verdict = ImageModerator(threshold).classify(photo("chelsea"))
    assert verdict.flagged
    assert "at or above the threshold" in verdict.reason


def test_a_video_is_judged_on_all_its_frames(images: ImageModerator) -> None:
    verdict = images.classify_frames([photo("rocket"), photo("astronaut"), photo("coffee")])
    assert not verdict.flagged
    assert "FACE_FEMALE" in verdict.labels  # from the second frame


# --- images: the label policy -------------------------------------------------------------


def detection(label: str, score: float) -> dict[str, Any]:
    return {"class": label, "score": score, "box": [0, 0, 10, 10]}


def test_benign_labels_never_flag_however_confident() -> None:
    benign = [
        detection(label, 0.99) for label in ("FACE_FEMALE", "FEMALE_BREAST_COVERED", "MALE_BREAST_EXPOSED")
    ]
    verdict = verdict_from_detections(benign, threshold=0.5)
    assert not verdict.flagged and verdict.score == 0.0
    assert verdict.labels["FACE_FEMALE"] == 0.99


def test_an_exposed_label_flags_at_the_threshold() -> None:
    found = [
        detection("FACE_FEMALE", 0.9),
        detection("BUTTOCKS_EXPOSED", 0.3),
        detection("BUTTOCKS_EXPOSED", 0.6),
    ]
    verdict = verdict_from_detections(found, threshold=0.6)
    assert verdict.flagged and verdict.score == 0.6
    assert verdict.labels == {"FACE_FEMALE": 0.9, "BUTTOCKS_EXPOSED": 0.6}
    assert verdict.reason.startswith("BUTTOCKS_EXPOSED scored 0.60")
    assert not verdict_from_detections(found, threshold=0.61).flagged


def test_one_flagged_frame_flags_the_video() -> None:
    clean = ImageVerdict(False, 0.0, {"FACE_MALE": 0.8}, "clean")
    explicit = ImageVerdict(True, 0.7, {"ANUS_EXPOSED": 0.7}, "ANUS_EXPOSED scored 0.70")
    verdict = merge_frames([clean, clean, explicit, clean])
    assert verdict.flagged and verdict.score == 0.7
    assert verdict.labels == {"FACE_MALE": 0.8, "ANUS_EXPOSED": 0.7}
    assert verdict.reason == "frame 3 of 4: ANUS_EXPOSED scored 0.70"
    with pytest.raises(ValueError):
        merge_frames([])


# --- text ---------------------------------------------------------------------------------


def test_profanity_is_flagged_and_ordinary_sentences_are_not(texts: TextModerator) -> None:
    assert all(texts.classify(text).flagged for text in PROFANE)
    assert not any(texts.classify(text).flagged for text in ORDINARY)


def test_a_batch_equals_one_by_one(texts: TextModerator) -> None:
    batch = texts.classify_many(PROFANE + ORDINARY)
    assert [v.flagged for v in batch] == [True] * len(PROFANE) + [False] * len(ORDINARY)
    for text, verdict in zip(PROFANE + ORDINARY, batch, strict=True):
        single = texts.classify(text)
        assert single.flagged == verdict.flagged and single.score == pytest.approx(verdict.score)
    assert texts.classify_many([]) == []


def test_the_text_threshold_works_both_ways() -> None:
    assert TextModerator(0.0).classify(ORDINARY[0]).flagged
    assert not TextModerator(1.01).classify(PROFANE[0]).flagged


# --- loading ------------------------------------------------------------------------------


def test_a_lazy_value_is_built_once_across_threads() -> None:
    calls = 0

    def build() -> object:
        nonlocal calls
        calls += 1
        time.sleep(0.05)  # long enough for every thread to arrive while the first one builds
        return object()

    lazy: Lazy[object] = Lazy(build)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(lazy.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == 1 and lazy.loaded
    assert len({id(r) for r in results}) == 1


def test_a_failed_load_is_tried_again() -> None:
    attempts = iter([RuntimeError("disk hiccup"), "model"])

    def build() -> str:
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    lazy = Lazy(build)
    with pytest.raises(RuntimeError):
        lazy.get()
    assert not lazy.loaded and lazy.get() == "model"


def test_moderators_share_one_detector(images: ImageModerator) -> None:
    images.load()
    other = ImageModerator(0.9)
    other.load()
    assert SHARED_DETECTOR.loaded
    assert images._detector is other._detector is SHARED_DETECTOR


# --- the async wrapper --------------------------------------------------------------------


class SlowDetector:
    """Records which threads run it and how many at once."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.running = self.most = 0
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[dict[str, Any]]:
        with self._lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        return []


async def test_moderation_runs_models_in_worker_threads_behind_the_limiter() -> None:
    detector = SlowDetector()
    moderation = Moderation(
        ImageModerator(0.5, Lazy(lambda: detector)),
        TextModerator(SETTINGS.moderation_text_threshold),
        zero_shot_threshold=0.9,
        limiter=trio.CapacityLimiter(1),
    )
    image = photo("chelsea")
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(moderation.classify_image, image)
    assert detector.most == 1
    assert threading.get_ident() not in detector.threads


async def test_moderation_from_settings_end_to_end() -> None:
    moderation = Moderation.from_settings(SETTINGS)
    await moderation.warm_up()
    assert not (await moderation.classify_image(photo("coffee"))).flagged
    assert not (await moderation.classify_frames([photo("rocket"), photo("chelsea")])).flagged
    assert (await moderation.classify_text(PROFANE[0])).flagged
    assert [v.flagged for v in await moderation.classify_texts([PROFANE[1], ORDINARY[1]])] == [True, False]
    clean = await moderation.classify_image(photo("astronaut"))
    assert moderation.combine(clean, 0.95).flagged and not moderation.combine(clean, 0.5).flagged
