"""Which posts still await their fan-out: the ledger that makes fan-out at least once."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class FanoutLedger(Protocol):
    async def done(self, post_id: int) -> None:
        """Every home stream the post belongs in has it (or it is pushed live, for big accounts)."""

    async def claim_stuck(self, *, older_than_s: float, lease_s: float, limit: int) -> list[int]:
        """Posts still pending ``older_than_s`` after their creation and not claimed in the last
        ``lease_s``, oldest first; claimed for ``lease_s``, so that of several processes sweeping at
        once only one fans each out again."""

    async def clock(self) -> datetime:
        """The time on the clock that stamps posts' creation and claims (a fence for
        :meth:`claim_orphans`: the server's clock, not this process's)."""

    async def claim_orphans(self, *, before: datetime, limit: int) -> list[int]:
        """Posts still pending that were created before ``before`` and not claimed since, oldest
        first, claimed now — whatever their age or older claim. Only for a caller that knows every
        process alive at ``before`` is gone: their posts and their sweepers' claims are orphans."""
