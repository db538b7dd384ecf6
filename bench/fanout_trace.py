"""Diagnostic launcher: ``viora serve`` with timing probes on the fan-out path (``--trace``).

    VIORA_FANOUT_TRACE=trace.jsonl python -m bench.fanout_trace serve

Why a launcher instead of timing code in the server: the benchmark must not change what it
measures, and a profiler's sampling (py-spy) says where CPU goes but not *when* within one
fan-out the followers wait. The probes wrap, from outside, the steps a post goes through —
the FeedActor taking the post, the store reads, the timeline append, the bus publish (the loop
that hands the push to every online session), the sessions encoding and queueing the frames —
and the garbage collector's pauses; each writes ``time.monotonic()`` instants, the clock the
benchmark's clients use, so the bench can line them up with the author's acknowledgement.

Cost: a few microseconds per wrapped call; ``SessionActor._deliver`` (2,000 calls per post) is the
only hot one, and it only bumps counters.
"""

from __future__ import annotations

import contextvars
import functools
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

TRACE_ENV = "VIORA_FANOUT_TRACE"
_IN_FANOUT: contextvars.ContextVar[bool] = contextvars.ContextVar("in_fanout", default=False)
"""True inside a FeedActor's handling of a post: the same store calls made elsewhere (the author's
own streams, other requests) must not overwrite the fan-out's instants."""


class Tracer:
    """Per-post step instants, written as one JSON line per post when its fan-out ends."""

    def __init__(self, path: str) -> None:
        self._out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
        self.current: dict[str, Any] | None = None
        self._gc_started = 0.0
        self.gc_pauses: list[tuple[float, float, int]] = []

    def mark(self, step: str) -> None:
        if self.current is not None:
            self.current[step] = time.monotonic()

    def gc_callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.monotonic()
        else:
            self.gc_pauses.append((self._gc_started, time.monotonic(), info["generation"]))

    def flush(self) -> None:
        """Write the current post's line with the GC pauses that began since its fan-out did."""
        if self.current is not None:
            start = self.current["feed_start"]
            self.current["gc"] = [
                [a, round((b - a) * 1000, 2), gen] for a, b, gen in self.gc_pauses if a >= start
            ]
            self._out.write(json.dumps(self.current) + "\n")
            self.current = None
        self.gc_pauses.clear()


def install(tracer: Tracer) -> None:
    """Wrap the fan-out path's steps; called before the server is imported and started."""
    from actors.feed.actor import FanOut, FeedActor
    from actors.session.actor import SessionActor
    from stores.bus import InProcessBus
    from stores.postgres.social import PostgresSocialStore
    from stores.postgres.timeline import PostgresTimelineStore

    handle = FeedActor.handle

    async def traced_handle(self: FeedActor, message: Any) -> None:
        if isinstance(message, FanOut):
            # A post's line is written when the next one starts (or at exit): its sessions push
            # after this handler has returned, so the line cannot be closed here.
            tracer.flush()
            tracer.current = {"post_id": message.post.id, "feed_start": time.monotonic()}
        token = _IN_FANOUT.set(True)
        try:
            await handle(self, message)
        finally:
            _IN_FANOUT.reset(token)
            tracer.mark("feed_end")

    FeedActor.handle = traced_handle  # type: ignore[method-assign]

    def around(cls: type, name: str, before: str, after: str) -> None:
        original: Callable[..., Any] = getattr(cls, name)

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _IN_FANOUT.get():
                return await original(*args, **kwargs)
            tracer.mark(before)
            try:
                return await original(*args, **kwargs)
            finally:
                tracer.mark(after)

        setattr(cls, name, wrapper)

    around(PostgresSocialStore, "get_posts", "get_posts_start", "get_posts_end")
    around(PostgresSocialStore, "follower_ids", "followers_start", "followers_end")
    around(PostgresTimelineStore, "append", "append_start", "append_end")
    around(InProcessBus, "publish", "publish_start", "publish_end")

    deliver = SessionActor._deliver

    def traced_deliver(self: SessionActor, stream: str, event: Any) -> None:
        deliver(self, stream, event)
        current = tracer.current
        if current is not None and stream == "home":
            now = time.monotonic()
            current.setdefault("first_session_push", now)
            current["last_session_push"] = now
            current["delivered"] = current.get("delivered", 0) + 1

    SessionActor._deliver = traced_deliver  # type: ignore[method-assign]
    gc.callbacks.append(tracer.gc_callback)


def main() -> int:
    path = os.environ.get(TRACE_ENV)
    if not path:
        sys.exit(f"set {TRACE_ENV} to the file the trace goes to")
    tracer = Tracer(path)
    install(tracer)
    from viora import cli

    try:
        return cli.main()
    finally:
        tracer.flush()


if __name__ == "__main__":
    sys.exit(main())
