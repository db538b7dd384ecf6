"""The web app (the built ``web/dist``) at ``/`` and every client route."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import trio
from quart import Response, send_from_directory
from quart_trio import QuartTrio

from edges.http.errors import error_response

WEB_ASSETS = "assets"
"""Vite's output folder for content-hashed files: cached for a year, never revalidated."""
IMMUTABLE = "public, max-age=31536000, immutable"
RESERVED_PREFIXES = frozenset({"ws", "media", "admin", "healthz", "readyz", "metrics"})
"""First path segments that belong to the server: an unknown path under them is a 404, not the app."""
# ``connect-src 'self'`` covers the app's own websocket (CSP 3: 'self' matches ws:/wss: of the
# same host) and nothing else: an injected script could not send data to another host.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Viora: the web app is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The web app is not built yet</h1>
<p>This Viora server is running (the websocket is at <code>/ws</code>), but it found no built web app
in <code>{root}</code>.</p>
<p>Build it with <code>./scripts/serve</code> (which builds it before starting the server), or by hand:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>. Node.js 20.19 or later is needed.</p>
</body></html>
"""


def register_web_routes(app: QuartTrio, root: Path) -> None:
    """Serve the single-page app: its files, and ``index.html`` for ``/`` and every client route
    (``/u/alice``, ``/messages/3``…), so links and reloads work. Hashed assets are immutable;
    ``index.html`` is revalidated on every load, so a new build is picked up at once."""

    @app.get("/")
    @app.get("/<path:path>")
    async def web_app(path: str = "") -> Any:
        parts = PurePosixPath(path).parts
        if parts and parts[0] in RESERVED_PREFIXES:
            return error_response(404, "not_found", "no such route")
        if not await trio.Path(root / "index.html").is_file():
            return Response(NOT_BUILT.format(root=root), 503, content_type="text/html; charset=utf-8")
        if parts and "." in parts[-1]:  # a file of the build (a client route has no dot in its last part)
            response = await send_from_directory(root, path)
            response.headers["Cache-Control"] = IMMUTABLE if parts[0] == WEB_ASSETS else "no-cache"
        else:
            response = await send_from_directory(root, "index.html")
            response.headers["Cache-Control"] = "no-cache"
        response.headers.pop("Expires", None)  # Cache-Control says it all
        return response

    @app.after_request
    async def security_headers(response: Response) -> Response:
        """Every answer of this app — pages, files, errors, the not-built page — gets these; an
        HTML one also the Content-Security-Policy, whichever route produced it."""
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if (response.content_type or "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
