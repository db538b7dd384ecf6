"""The live progress line of ``viora load`` and its closing summary table.

On a terminal the line is redrawn in place every second; otherwise (CI logs, a pipe) a plain line
is printed every few seconds, so a log shows the run's shape without a flood.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

import trio

from viora.load.recorder import Recorder

TICK_S = 1.0
PLAIN_EVERY_S = 5.0


class Progress:
    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.interactive = out.isatty()

    def note(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def follow(self, recorder: Recorder, held: Callable[[], int], stop_at: float) -> None:
        """Report until ``stop_at`` (Trio time): connections held, operations per second over the
        last tick, p99 of those replies, errors and deliveries so far."""
        start = last = trio.current_time()
        issued_before, _, _ = recorder.totals()
        marks = recorder.marks()
        printed_at = start
        while (now := trio.current_time()) < stop_at:
            await trio.sleep_until(min(now + TICK_S, stop_at))
            now = trio.current_time()
            issued, errors, delivered = recorder.totals()
            rate = (issued - issued_before) / max(now - last, 1e-9)
            line = (
                f"[{now - start:6.1f}s] held {held():>6}  ops/s {rate:8.1f}  "
                f"p99 {recorder.recent_p99_ms(marks):7.1f} ms  errors {errors:>5}  deliveries {delivered:>8}"
            )
            issued_before, last, marks = issued, now, recorder.marks()
            if self.interactive:
                print("\r" + line, end="", file=self.out, flush=True)
            elif now - printed_at >= PLAIN_EVERY_S or now >= stop_at:
                print(line, file=self.out, flush=True)
                printed_at = now
        if self.interactive:
            print(file=self.out, flush=True)


def render_summary(summary: dict[str, Any]) -> str:
    """The summary as a few aligned tables, for people; ``--json`` writes the same figures."""
    c = summary["connections"]
    lines = [
        f"target       {summary['target']}",
        f"connections  {c['held']} held of {c['target']} ({c['failed']} failed to connect)",
        f"throughput   {summary['ops_per_s']} operations/s offered over {summary['plan']['duration_s']} s",
        "",
        f"{'operation':<12}{'per s':>9}{'replies':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name, op in summary["operations"].items():
        lines.append(
            f"{name:<12}{op['per_s']:>9}{op['count']:>9}{_num(op['p50_ms'])}{_num(op['p99_ms'])}{_num(op['max_ms'])}"
        )
    lines += ["", f"{'live push':<12}{'':>9}{'count':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"]
    for name, d in summary["deliveries"].items():
        lines.append(
            f"{name:<12}{'':>9}{d['count']:>9}{_num(d['p50_ms'])}{_num(d['p99_ms'])}{_num(d['max_ms'])}"
        )
    errors = summary["errors"]
    lines += ["", "errors       " + (", ".join(f"{k}: {v}" for k, v in errors.items()) if errors else "none")]
    for server in summary["server"]:
        lag = server["loop_lag_ms"]
        lines.append(f"server       {server['server']}: loop lag p99 {lag['p99']} ms, peak {lag['peak']} ms")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return f"{'-' if value is None else value:>9}"
