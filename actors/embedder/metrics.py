"""What the embedder reports in the live tree: is batching real, and where does a request's time go."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

WINDOW = 2048
"""Recent samples kept for the percentiles (a few minutes under load, bounded memory)."""


class Samples:
    """A window of recent durations in seconds, reported as milliseconds."""

    def __init__(self, window: int = WINDOW) -> None:
        self._values: deque[float] = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        self._values.append(seconds)

    def figures(self) -> dict[str, float | None]:
        ordered = sorted(self._values)

        def ms(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 2) if ordered else None

        return {"p50": ms(0.5), "p99": ms(0.99)}


class EmbedderMetrics:
    """Counters kept across restarts (they live in the service, not in one run of the actor)."""

    def __init__(self) -> None:
        self.batches = 0
        self.batch_sizes: Counter[int] = Counter()
        self.items_embedded = 0
        self.failed_inputs = 0
        self.dropped_cancelled = 0
        self.crashed_requests = 0
        self.queue_wait = Samples()
        """From a request's arrival to the start of its batch's inference."""
        self.inference = Samples()
        """One worker-thread call: preprocessing and one forward pass of one kind."""

    def record_batch(self, size: int) -> None:
        self.batches += 1
        self.batch_sizes[size] += 1

    def figures(self) -> dict[str, Any]:
        items = sum(size * n for size, n in self.batch_sizes.items())
        return {
            "batches": self.batches,
            "batch_size": {
                "mean": round(items / self.batches, 2) if self.batches else None,
                "histogram": {str(size): n for size, n in sorted(self.batch_sizes.items())},
            },
            "items_embedded": self.items_embedded,
            "failed_inputs": self.failed_inputs,
            "dropped_cancelled": self.dropped_cancelled,
            "crashed_requests": self.crashed_requests,
            "queue_wait_ms": self.queue_wait.figures(),
            "inference_ms": self.inference.figures(),
        }
