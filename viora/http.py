"""HTTP routes (quart-trio): health for load balancers, the live tree and figures for operators,
and the web app (the built ``web/dist``) at ``/``."""

from __future__ import annotations

import hmac
import resource
import time
from pathlib import Path, PurePosixPath
from typing import Any

import trio
from prometheus_client import CONTENT_TYPE_LATEST
from quart import Response, jsonify, request, send_from_directory
from quart_trio import QuartTrio

from stores.errors import StoreUnavailable
from viora.media_http import register_media_routes
from viora.metrics import RuntimeMetrics
from viora.runtime import Runtime

READY_DB_TIMEOUT_S = 2.0


def process_rss_bytes() -> int:
    """Current resident set size (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_http_app(runtime: Runtime) -> QuartTrio:
    app = QuartTrio("viora")
    started = time.time()

    def admin_refusal() -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "unauthenticated", "send Authorization: Bearer <admin token>")
        if not hmac.compare_digest(token.encode(), runtime.admin_token.encode()):
            return _error(403, "forbidden", "wrong admin token")
        return None

    @app.get("/healthz")
    async def healthz() -> Any:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Any:
        problems = []
        if not runtime.root.running.is_set():
            problems.append("supervision tree not running")
        try:
            with trio.fail_after(READY_DB_TIMEOUT_S):
                await runtime.stores.db.query(lambda conn: conn.execute("select 1").fetchone())
        except (StoreUnavailable, trio.TooSlowError):
            problems.append("database unreachable")
        status = 503 if problems else 200
        return jsonify({"status": "unready" if problems else "ready", "problems": problems}), status

    @app.get("/admin/tree")
    async def admin_tree() -> Any:
        if (refusal := admin_refusal()) is not None:
            return refusal
        return jsonify(runtime.root.inspect())

    @app.get("/admin/stats")
    async def admin_stats() -> Any:
        if (refusal := admin_refusal()) is not None:
            return refusal
        services = runtime.services
        figures = {
            "uptime_s": round(time.time() - started, 3),
            "connections": len(services.sockets),
            "online_users": services.sessions.online_users(),
            "rss_bytes": process_rss_bytes(),
            **runtime.probe.figures(),
        }
        if request.args.get("reset_peak_lag") == "1":
            runtime.probe.reset_peak()
        return jsonify(figures)

    metrics = RuntimeMetrics(runtime)

    @app.get("/metrics")
    async def prometheus_metrics() -> Any:
        """Prometheus text format. It needs the admin token like ``/admin/*``: this port also serves
        the public websocket, and per-actor series name online users (``user:<id>``). Prometheus
        sends the token with ``authorization: {credentials_file: ...}`` in its scrape config."""
        if (refusal := admin_refusal()) is not None:
            return refusal
        return Response(metrics.render(), content_type=CONTENT_TYPE_LATEST)

    register_media_routes(app, runtime)
    register_web_routes(app, runtime.settings.web_root)
    return app


# --------------------------------------------------------------------------- the web app

WEB_ASSETS = "assets"
"""Vite's output folder for content-hashed files: cached for a year, never revalidated."""
IMMUTABLE = "public, max-age=31536000, immutable"
RESERVED_PREFIXES = frozenset({"ws", "media", "admin", "healthz", "readyz", "metrics"})
"""First path segments that belong to the server: an unknown path under them is a 404, not the app."""
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
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
            return _error(404, "not_found", "no such route")
        if not await trio.Path(root / "index.html").is_file():
            return Response(NOT_BUILT.format(root=root), 503, content_type="text/html; charset=utf-8")
        if parts and "." in parts[-1]:  # a file of the build (a client route has no dot in its last part)
            response = await send_from_directory(root, path)
            response.headers["Cache-Control"] = IMMUTABLE if parts[0] == WEB_ASSETS else "no-cache"
        else:
            response = await send_from_directory(root, "index.html")
            response.headers["Cache-Control"] = "no-cache"
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.pop("Expires", None)  # Cache-Control says it all
        return response


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response
