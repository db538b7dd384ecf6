"""The async face of moderation: every model call in a worker thread, behind one limiter.

The models are CPU-bound and blocking (an image ~15-40 ms, a text call ~3 ms): called on the Trio
loop they would stall every socket. ``trio.to_thread.run_sync`` moves them off it, and the
:class:`trio.CapacityLimiter` (``moderation_threads``, default 1) bounds how many run at once:
onnxruntime already spreads one inference over all the cores, so more would only contend with
each other and with the media workers. A cancelled caller waits for its call to finish (tens of
milliseconds an image) rather than leaving a model call running unaccounted for behind the limiter.
Texts are classified in batches gathered across requests (:mod:`ml.moderation.batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import trio

from kernel.config import Settings
from ml.moderation.batch import TextBatcher
from ml.moderation.image import ImageInput, ImageModerator, ImageVerdict
from ml.moderation.text import TextModerator, TextVerdict
from ml.moderation.zero_shot import combine

T = TypeVar("T")


class Moderation:
    """What the actors call: the moderators, run off the event loop, and the zero-shot policy."""

    def __init__(
        self,
        image: ImageModerator,
        text: TextModerator,
        *,
        zero_shot_threshold: float,
        limiter: trio.CapacityLimiter,
    ) -> None:
        self.image = image
        self.text = text
        self.zero_shot_threshold = zero_shot_threshold
        self._limiter = limiter
        self.texts = TextBatcher(lambda texts: self._run(self.text.classify_many, texts))
        """Texts waiting are classified together: one call for all (see ``ml.moderation.batch``)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Moderation:
        return cls(
            ImageModerator(settings.moderation_image_threshold),
            TextModerator(settings.moderation_text_threshold),
            zero_shot_threshold=settings.moderation_zero_shot_threshold,
            limiter=trio.CapacityLimiter(settings.moderation_threads),
        )

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(work, *args, limiter=self._limiter)

    async def warm_up(self) -> None:
        """Load both models now (at start-up) rather than on the first user's upload."""
        await self._run(self.image.load)
        await self._run(self.text.load)

    async def classify_image(self, image: ImageInput) -> ImageVerdict:
        return await self._run(self.image.classify, image)

    async def classify_frames(self, frames: Sequence[ImageInput]) -> ImageVerdict:
        """A video's sampled frames in one worker-thread call, so one video takes one limiter slot
        (~20-40 ms a frame) instead of many round trips to the loop."""
        return await self._run(self.image.classify_frames, frames)

    async def classify_text(self, text: str) -> TextVerdict:
        return (await self.texts.classify([text]))[0]

    async def classify_texts(self, texts: Sequence[str]) -> list[TextVerdict]:
        return await self.texts.classify(texts)

    def combine(self, primary: ImageVerdict, zero_shot: float | None) -> ImageVerdict:
        """:func:`ml.moderation.zero_shot.combine` at the configured threshold (pure: no thread)."""
        return combine(primary, zero_shot, threshold=self.zero_shot_threshold)
