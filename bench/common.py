"""Small helpers shared by the benchmark drivers (``ws_load``, ``fanout_bench``).

Kept apart so that each driver imports figures and work-splitting from one place rather than from
another driver's private names.
"""

from __future__ import annotations

from collections.abc import Sequence


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` contiguous slices whose sizes differ by at most one."""
    bounds = [n * i // parts for i in range(parts + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(parts)]


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of an already sorted sequence (nearest rank); ``None`` when empty."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else None


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds rounded for a report; ``None`` passes through (no data)."""
    return None if seconds is None else round(seconds * 1000, 2)
