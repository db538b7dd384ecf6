"""Event-loop lag probe: the cheapest honest measure of whether anything blocks the loop.

It sleeps for a fixed interval, again and again, and records how late it wakes up. Work that
holds the event loop (a decode or an inference that forgot ``trio.to_thread``) shows up here as
lag, whatever it was.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio

from supervisor import ChildContext


class LoopLagProbe:
    def __init__(self, interval_s: float, window: int = 1200) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)
        """Recent lags in seconds (``window`` samples: one minute at the default 50 ms)."""
        self.peak_s = 0.0

    async def run(self, ctx: ChildContext) -> None:
        ctx.expose(self.figures)
        ctx.started()
        await ctx.run_until_stopped(self._measure_forever)

    async def _measure_forever(self) -> None:
        while True:
            before = trio.current_time()
            await trio.sleep(self.interval_s)
            self.record(trio.current_time() - before - self.interval_s)

    def record(self, lag_s: float) -> None:
        lag_s = max(0.0, lag_s)
        self.samples.append(lag_s)
        self.peak_s = max(self.peak_s, lag_s)

    def reset_peak(self) -> float:
        """Return the peak since the last reset and start a new one (benchmarks bracket runs)."""
        peak, self.peak_s = self.peak_s, 0.0
        return peak

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
        return {
            "loop_lag_ms": {
                "last": round(self.samples[-1] * 1000, 2) if self.samples else 0.0,
                "p99": round(p99 * 1000, 2),
                "peak": round(self.peak_s * 1000, 2),
            }
        }
