"""The scripted operation mix: what a simulated user does, and how often relative to the rest.

Each operation is one protocol request (``typing`` is fire-and-forget) chosen at random by weight.
Posts and direct messages carry the sender's send instant (``time.monotonic()``, one clock for the
whole run, since every simulated user lives in this process), so the recipients' clients measure
the *delivery latency* of the live push from sender to recipient.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from viora.client import Client

DEFAULT_MIX = {
    "timeline": 40.0,
    "like": 20.0,
    "post": 10.0,
    "comment": 8.0,
    "dm": 10.0,
    "typing": 8.0,
    "search": 4.0,
}
"""Read-heavy, as social traffic is: reads, then reactions, then writes."""

STAMP_PREFIX = "⏱"
FILLER = " Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt."
SEARCH_QUERIES = (
    "sunset at the beach",
    "a cat on a sofa",
    "city lights at night",
    "mountain lake",
    "birthday cake",
)
RECENT_POSTS = 2000


@dataclass
class SharedState:
    """What simulated users learn from each other: posts they can like and comment on."""

    rng: random.Random
    recent_posts: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_POSTS))

    def some_post(self) -> int | None:
        return self.rng.choice(self.recent_posts) if self.recent_posts else None


@dataclass
class SimUser:
    user_id: int
    token: str
    client: Client | None = None
    conversation_id: int | None = None
    """The one-to-one conversation with this user's partner (set during set-up)."""


def stamped(text: str) -> str:
    """``text`` prefixed with the send instant, for the recipient to measure delivery latency."""
    return f"{STAMP_PREFIX}{time.monotonic():.6f} {text}"


def stamp_age(text: Any) -> float | None:
    """Seconds since ``text`` was stamped by :func:`stamped`; ``None`` for other text."""
    if not isinstance(text, str) or not text.startswith(STAMP_PREFIX):
        return None
    try:
        return time.monotonic() - float(text[len(STAMP_PREFIX) :].split(" ", 1)[0])
    except ValueError:
        return None


Operation = Callable[[SimUser, Client, SharedState], Awaitable[None]]


async def read_timeline(user: SimUser, client: Client, shared: SharedState) -> None:
    await client.request("timeline.home", {"limit": 20})


async def create_post(user: SimUser, client: Client, shared: SharedState) -> None:
    reply = await client.request("post.create", {"text": stamped(f"post by {user.user_id}.{FILLER}")})
    shared.recent_posts.append(reply["post"]["id"])


async def like_post(user: SimUser, client: Client, shared: SharedState) -> None:
    post_id = shared.some_post()
    if post_id is None:
        await read_timeline(user, client, shared)
        return
    await client.request("post.like", {"post_id": post_id})


async def comment_post(user: SimUser, client: Client, shared: SharedState) -> None:
    post_id = shared.some_post()
    if post_id is None:
        await read_timeline(user, client, shared)
        return
    await client.request("comment.create", {"post_id": post_id, "text": f"nice one, from {user.user_id}"})


async def send_dm(user: SimUser, client: Client, shared: SharedState) -> None:
    if user.conversation_id is not None:
        await client.request(
            "dm.send", {"conversation_id": user.conversation_id, "text": stamped(f"hi from {user.user_id}")}
        )


async def send_typing(user: SimUser, client: Client, shared: SharedState) -> None:
    if user.conversation_id is not None:
        await client.send("typing", {"conversation_id": user.conversation_id})


async def search(user: SimUser, client: Client, shared: SharedState) -> None:
    await client.request("search", {"query": shared.rng.choice(SEARCH_QUERIES), "limit": 10})


OPERATIONS: dict[str, Operation] = {
    "timeline": read_timeline,
    "post": create_post,
    "like": like_post,
    "comment": comment_post,
    "dm": send_dm,
    "typing": send_typing,
    "search": search,
}
FIRE_AND_FORGET = frozenset({"typing"})
"""Operations that get no reply, so they have no latency (they are counted)."""


def parse_mix(spec: str | None) -> dict[str, float]:
    """``"timeline=4,post=1"`` → weights; operations not named are left out. ``None``: the default."""
    if not spec:
        return dict(DEFAULT_MIX)
    weights: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}")
        weights[name] = float(weight or 1)
        if weights[name] < 0:
            raise ValueError(f"negative weight for {name}")
    if not any(weights.values()):
        raise ValueError("the mix needs at least one operation with a positive weight")
    return weights
