"""Text moderation (captions, comments, DMs) with alt-profanity-check's linear model.

The model is a bag-of-words linear SVM calibrated to a probability that the text is profane or
offensive; it judges words, not intent. Its own cut is 0.5, but mild everyday sentences land between
0.6 and 0.9 ("this assignment is hard as hell" 0.60, "I'm going to kill it at the gym today" 0.79)
while outright profanity and insults score ~1.0, so the threshold (``moderation_text_threshold``)
defaults higher, to 0.8: a flagged comment is hidden from others, so a false positive costs more
than a missed mild word.

Blocking (~3 ms a call, ~6 µs a text in a batch): run it in a worker thread, via
:class:`ml.moderation.service.Moderation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ml.moderation._lazy import Lazy

Scorer = Callable[[Sequence[str]], np.ndarray]
"""Texts in, one profanity probability (0-1) per text out."""


def _load_scorer() -> Scorer:
    # Importing the package is what loads its vectorizer and model (~0.7 s), so it waits until needed.
    from profanity_check import predict_prob

    return predict_prob


SHARED_SCORER: Lazy[Scorer] = Lazy(_load_scorer)


@dataclass(frozen=True, slots=True)
class TextVerdict:
    flagged: bool
    score: float
    """Probability that the text is profane, 0-1."""
    reason: str


class TextModerator:
    """Blocking: run it in a worker thread (:class:`ml.moderation.service.Moderation` does)."""

    def __init__(self, threshold: float, scorer: Lazy[Scorer] = SHARED_SCORER) -> None:
        self.threshold = threshold
        self._scorer = scorer

    def load(self) -> None:
        """Load the model now instead of on the first text."""
        self._scorer.get()

    def classify(self, text: str) -> TextVerdict:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[TextVerdict]:
        """One vectorizer pass for all the texts: a batch costs little more than a single text."""
        if not texts:
            return []
        return [self._verdict(float(score)) for score in self._scorer.get()(list(texts))]

    def _verdict(self, score: float) -> TextVerdict:
        flagged = score >= self.threshold
        relation = "at or above" if flagged else "below"
        return TextVerdict(
            flagged, score, f"profanity scored {score:.2f}, {relation} the threshold {self.threshold:.2f}"
        )
