"""What both Qdrant backends share: the filter as backend-neutral clauses, unit vectors, and the
worker-thread gate for blocking engine calls."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import trio

from stores.vectors import VectorFilter

T = TypeVar("T")


@dataclass(frozen=True)
class Match:
    """The field's value is one of ``values``."""

    key: str
    values: tuple[int | str, ...]

    def typed_values(self) -> list[int] | list[str]:
        """The values as Qdrant's ``MatchAny`` takes them: all integers or all strings."""
        if all(isinstance(v, int) for v in self.values):
            return [int(v) for v in self.values]
        return [str(v) for v in self.values]


@dataclass(frozen=True)
class Range:
    """``gte <= field < lt``; a bound of ``None`` is open."""

    key: str
    gte: float | None
    lt: float | None


Clause = Match | Range


def clauses(f: VectorFilter | None) -> tuple[list[Clause], list[Clause]]:
    """``(must, must_not)`` for ``f``: each backend only maps these two shapes onto its own models,
    so what a filter means is decided once, here."""
    must: list[Clause] = []
    must_not: list[Clause] = []
    if f is None:
        return must, must_not
    if f.kinds is not None:
        must.append(Match("kind", tuple(f.kinds)))
    if f.author_ids is not None:
        must.append(Match("author_id", tuple(f.author_ids)))
    if f.visibilities is not None:
        must.append(Match("visibility", tuple(f.visibilities)))
    if f.moderation_ok_only:
        must.append(Match("moderation", ("ok",)))
    if f.since is not None or f.until is not None:
        must.append(Range("created_at", f.since, f.until))
    if f.exclude_author_ids:
        must_not.append(Match("author_id", tuple(f.exclude_author_ids)))
    if f.exclude_post_ids:
        must_not.append(Match("post_id", tuple(f.exclude_post_ids)))
    return must, must_not


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1. Qdrant normalises stored vectors and nearest-neighbour
    queries for cosine, but not the examples of a recommend query: un-normalised examples of
    different lengths would weigh unequally against each other."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0:
        raise ValueError("a zero vector has no direction")
    return [x / norm for x in vector]


class Blocking:
    """Runs blocking engine calls in worker threads, at most ``threads`` at once, so the event
    loop keeps serving while Qdrant computes (and a burst of queries cannot take every thread)."""

    def __init__(self, threads: int) -> None:
        self._limiter = trio.CapacityLimiter(threads)

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await trio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self._limiter)
