"""What a load run observed: latencies by operation, live-push delivery latencies, errors by code.

Everything is recorded by tasks of one Trio run, so plain containers suffice (no locks). Latencies
are kept whole (a float per operation: a few MB for a long run) so the summary's percentiles are
exact rather than bucketed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import trio

from viora.load.figures import latency_figures, quantile


@dataclass
class Recorder:
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """Per operation type: seconds from sending a request to its reply (successes only)."""
    deliveries: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """Per push type: seconds from the sender sending to a recipient receiving the push."""
    errors: Counter[str] = field(default_factory=Counter)
    """``"<operation>:<code>"`` → count."""
    issued: Counter[str] = field(default_factory=Counter)
    """Operations started, by type (fire-and-forget ones have no latency but are counted here)."""
    measuring: bool = False
    """Set during the measured phase; set-up traffic is not recorded."""

    _delivery_seen: trio.Event = field(default_factory=trio.Event)

    async def next_delivery(self) -> None:
        """Wait until the next delivery is recorded."""
        self._delivery_seen = trio.Event()
        await self._delivery_seen.wait()

    def operation(self, name: str, seconds: float) -> None:
        if self.measuring:
            self.latencies[name].append(seconds)

    def started(self, name: str) -> None:
        if self.measuring:
            self.issued[name] += 1

    def failed(self, name: str, code: str) -> None:
        if self.measuring:
            self.errors[f"{name}:{code}"] += 1

    def delivered(self, push_type: str, seconds: float) -> None:
        if self.measuring:
            self.deliveries[push_type].append(seconds)
            self._delivery_seen.set()

    def totals(self) -> tuple[int, int, int]:
        """Operations started, errors and deliveries so far (for the progress line)."""
        return (
            sum(self.issued.values()),
            sum(self.errors.values()),
            sum(len(v) for v in self.deliveries.values()),
        )

    def recent_p99_ms(self, since: dict[str, int]) -> float:
        """p99 over the replies recorded since the per-type list lengths ``since``."""
        recent = [x for name, values in self.latencies.items() for x in values[since.get(name, 0) :]]
        return (quantile(sorted(recent), 0.99) or 0.0) * 1000

    def marks(self) -> dict[str, int]:
        return {name: len(values) for name, values in self.latencies.items()}

    def summary(self, duration_s: float) -> dict[str, Any]:
        operations = {
            name: {
                "per_s": round(self.issued[name] / duration_s, 1),
                **latency_figures(self.latencies.get(name, [])),
            }
            for name in sorted(self.issued)
        }
        return {
            "operations": operations,
            "deliveries": {name: latency_figures(v) for name, v in sorted(self.deliveries.items())},
            "errors": dict(self.errors.most_common()),
        }
