"""Small helpers shared by the benchmark drivers (``ws_load``, ``fanout_bench``).

Kept apart so that each driver imports figures and work-splitting from one place rather than from
another driver's private names.
"""

from __future__ import annotations

from viora.load.figures import ms, quantile

__all__ = ["ms", "quantile", "split"]


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` contiguous slices whose sizes differ by at most one."""
    bounds = [n * i // parts for i in range(parts + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(parts)]
