"""HTTP routes (quart-trio): health for load balancers, the live tree and figures for operators."""

from __future__ import annotations

import hmac
import resource
import time
from typing import Any

import trio
from prometheus_client import CONTENT_TYPE_LATEST
from quart import Response, jsonify, request
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
    return app


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response
