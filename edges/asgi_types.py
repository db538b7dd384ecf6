"""The ASGI shapes our own ASGI code is written against: plain dicts.

hypercorn and Quart type scopes and events as unions of TypedDicts, which our handlers would have
to narrow at every key; ours read the few keys they need from a dict. :func:`from_framework` and
:func:`to_framework` are the two places where one view is taken for the other — the same objects
at run time, so they are casts, made once, here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from hypercorn.typing import ASGIFramework

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def from_framework(app: object) -> ASGIApp:
    """A framework's ASGI callable (Quart's app, ``app.asgi_app``) seen as our dict-typed one."""
    return cast(ASGIApp, app)


def to_framework(app: ASGIApp) -> ASGIFramework:
    """Our ASGI callable as hypercorn and Quart type theirs."""
    return cast(ASGIFramework, app)
