"""Counting simulated clients as they connect: the load tester's and the benchmark workers' roll call."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import trio


@dataclass
class ConnectTally:
    """How many of ``expected`` clients connected and why the others failed; ``settled`` is set once
    every one has tried, which is when a run may start."""

    expected: int
    connected: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    settled: trio.Event = field(default_factory=trio.Event)

    def settle(self, error: str | None = None) -> None:
        """Count one client as connected (``error`` is ``None``) or failed for ``error``."""
        if error is None:
            self.connected += 1
        else:
            self.errors[error] += 1
        if self.connected + self.errors.total() >= self.expected:
            self.settled.set()

    @property
    def failed(self) -> int:
        return self.errors.total()
