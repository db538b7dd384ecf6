"""InboundGuard: token bucket, malformed-frame window and the close signals, driven by
explicit timestamps instead of a clock."""

from __future__ import annotations

import pytest

from protocol.errors import CloseCode, CloseConnection, ErrorCode, ProtocolError
from protocol.guard import REJECTION_FACTOR, InboundGuard


def guard(rate: float = 10.0, burst: int = 5, malformed: int = 3, window: float = 10.0) -> InboundGuard:
    return InboundGuard(rate_per_s=rate, burst=burst, malformed_limit=malformed, malformed_window_s=window)


def limited(g: InboundGuard, now: float, ref: int | str | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        g.admit(now, ref)
    assert info.value.code == ErrorCode.RATE_LIMITED
    return info.value


def test_a_full_burst_is_admitted_at_once_then_limited() -> None:
    g = guard()
    for _ in range(5):
        g.admit(100.0)
    error = limited(g, 100.0, ref="r7")
    assert error.ref == "r7"
    assert error.retry_after == pytest.approx(0.1)
    assert g.rejected == 1


def test_tokens_refill_at_the_sustained_rate() -> None:
    g = guard()
    for _ in range(5):
        g.admit(0.0)
    for _ in range(3):
        g.admit(0.3)
    error = limited(g, 0.3)
    assert error.retry_after == pytest.approx(0.1)
    g.admit(0.3 + error.retry_after)


def test_partial_tokens_shorten_retry_after() -> None:
    g = guard()
    for _ in range(5):
        g.admit(0.0)
    assert limited(g, 0.04).retry_after == pytest.approx(0.06)


def test_a_long_idle_period_refills_only_up_to_the_burst() -> None:
    g = guard()
    g.admit(0.0)
    for _ in range(5):
        g.admit(1000.0)
    limited(g, 1000.0)


def test_a_clock_going_backwards_mints_no_tokens() -> None:
    g = guard()
    for _ in range(5):
        g.admit(50.0)
    limited(g, 10.0)
    limited(g, 50.0)


def test_hammering_after_rejections_closes_the_connection() -> None:
    g = guard(rate=0.001, burst=2)
    g.admit(0.0)
    g.admit(0.0)
    for _ in range(REJECTION_FACTOR * 2):
        limited(g, 0.0)
    with pytest.raises(CloseConnection) as info:
        g.admit(0.0)
    assert info.value.code == CloseCode.RATE_ABUSE
    assert g.rejected == REJECTION_FACTOR * 2 + 1


def test_rejections_spread_beyond_the_window_are_tolerated() -> None:
    g = guard(rate=0.001, burst=1, window=10.0)
    g.admit(0.0)
    for step in range(100):
        limited(g, 3.0 * step)
    assert g.rejected == 100


def test_too_many_malformed_frames_close_the_connection() -> None:
    g = guard(malformed=3)
    for now in (0.0, 1.0, 2.0):
        g.record_malformed(now)
    with pytest.raises(CloseConnection) as info:
        g.record_malformed(3.0)
    assert info.value.code == CloseCode.TOO_MANY_MALFORMED
    assert g.malformed == 4


def test_the_malformed_window_slides() -> None:
    g = guard(malformed=3, window=10.0)
    for now in (0.0, 1.0, 2.0):
        g.record_malformed(now)
    g.record_malformed(10.0)  # the frame at 0.0 is exactly one window old: forgotten
    g.record_malformed(11.5)
    with pytest.raises(CloseConnection):
        g.record_malformed(11.6)  # 2.0, 10.0, 11.5 and 11.6 are within 10 s


def test_zero_tolerance_closes_on_the_first_malformed_frame() -> None:
    with pytest.raises(CloseConnection):
        guard(malformed=0).record_malformed(0.0)


@pytest.mark.parametrize("kwargs", [{"rate": 0.0}, {"burst": 0}, {"malformed": -1}, {"window": 0.0}])
def test_nonsensical_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        guard(**kwargs)  # type: ignore[arg-type]
