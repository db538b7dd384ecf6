"""Per-connection inbound policy: rate limiting and tolerance for malformed frames.

Sans-IO: the caller passes the current time (``trio.current_time()`` in the server, plain
numbers in tests), so the policy is deterministic and testable without a clock.

Signalling style, shared with the rest of the package: methods return ``None`` when the
frame may proceed, raise :class:`ProtocolError` when the frame is refused but the
connection lives on, and raise :class:`CloseConnection` when the socket must be closed.
"""

from __future__ import annotations

from collections import deque

from protocol.errors import CloseCode, CloseConnection, ErrorCode, ProtocolError, RequestId

REJECTION_FACTOR = 5
"""A client is abusive once it collects more than this many bursts' worth of rate-limit
rejections within the window: a well-behaved client backs off after the first one."""


class _SlidingCount:
    """Counts events within the last ``window_s`` seconds, remembering at most ``limit + 1``
    of them: once the count exceeds ``limit`` the connection is closed, so older events
    never matter and memory stays bounded."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._window_s = window_s
        self._times: deque[float] = deque(maxlen=limit + 1)
        self._limit = limit

    def exceeded_after(self, now: float) -> bool:
        """Record an event at ``now``; True when more than ``limit`` fall within the window."""
        times = self._times
        times.append(now)
        horizon = now - self._window_s
        while times[0] <= horizon:
            times.popleft()
        return len(times) > self._limit


class InboundGuard:
    """Token bucket (``rate_per_s`` sustained, ``burst`` at once) plus two sliding windows
    of ``malformed_window_s`` seconds: one for malformed frames, one for rate-limit
    rejections. Tokens are consumed only by admitted frames."""

    def __init__(
        self, rate_per_s: float, burst: int, malformed_limit: int, malformed_window_s: float
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or malformed_limit < 0 or malformed_window_s <= 0:
            raise ValueError("rate, burst and window must be positive; malformed_limit not negative")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.rejected = 0
        """Frames refused with ``rate_limited`` over the connection's life (for metrics)."""
        self.malformed = 0
        """Malformed frames recorded over the connection's life (for metrics)."""
        self._tokens = float(burst)
        self._last: float | None = None
        self._malformed = _SlidingCount(malformed_limit, malformed_window_s)
        self._rejections = _SlidingCount(REJECTION_FACTOR * burst, malformed_window_s)

    def admit(self, now: float, ref: RequestId = None) -> None:
        """Spend a token for one inbound frame at time ``now``.

        Raises ``ProtocolError(rate_limited)`` carrying ``ref`` and the seconds until a
        token is available, or ``CloseConnection(RATE_ABUSE)`` when the client keeps
        hammering regardless.
        """
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return
        self.rejected += 1
        if self._rejections.exceeded_after(now):
            raise CloseConnection(CloseCode.RATE_ABUSE, "kept sending while rate limited")
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"more than {self.rate_per_s:g} requests per second",
            ref=ref,
            retry_after=(1.0 - self._tokens) / self.rate_per_s,
        )

    def record_malformed(self, now: float) -> None:
        """Note a frame that failed to decode; raises ``CloseConnection(TOO_MANY_MALFORMED)``
        once more than ``malformed_limit`` fall within the window."""
        self.malformed += 1
        if self._malformed.exceeded_after(now):
            raise CloseConnection(CloseCode.TOO_MANY_MALFORMED, "too many malformed frames")
