"""Percentiles and units for reports, shared by ``viora load`` and the benchmark drivers."""

from __future__ import annotations

from collections.abc import Sequence


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of an already sorted sequence (nearest rank); ``None`` when empty."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else None


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds rounded for a report; ``None`` passes through (no data)."""
    return None if seconds is None else round(seconds * 1000, 2)


def latency_figures(values: Sequence[float]) -> dict[str, float | None]:
    """Count and p50 / p99 / max in milliseconds of latencies given in seconds."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": ms(quantile(ordered, 0.50)),
        "p99_ms": ms(quantile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }
