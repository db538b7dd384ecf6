"""The HTTP edge's app (quart-trio): health for load balancers, the live tree and figures for
operators, media, and the web app at ``/``. Each group of routes is registered by a function of
its own; domain errors raised by any route are answered through :mod:`edges.http.errors`."""

from __future__ import annotations

import hmac
import resource
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from quart import Response, jsonify, request
from quart_trio import QuartTrio

from edges.context import EdgeRuntime
from edges.http.errors import domain_error_response, error_response
from edges.http.media import register_media_routes
from edges.http.metrics import RuntimeMetrics
from edges.http.web import register_web_routes
from kernel.errors import DomainError

READY_DB_TIMEOUT_S = 2.0


def process_rss_bytes() -> int:
    """Current resident set size (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_http_app(runtime: EdgeRuntime) -> QuartTrio:
    app = QuartTrio("viora")

    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Response:
        return domain_error_response(error)

    register_health_routes(app, runtime)
    register_admin_routes(app, runtime)
    register_moderator_routes(app, runtime)
    register_media_routes(app, runtime.media, runtime.services.accounts)
    register_web_routes(app, runtime.settings.web_root)
    return app


def register_health_routes(app: QuartTrio, runtime: EdgeRuntime) -> None:
    """``/healthz`` (the process answers) and ``/readyz`` (the tree runs and the database answers)."""

    @app.get("/healthz")
    async def healthz() -> Any:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Any:
        problems = []
        if not runtime.root.running.is_set():
            problems.append("supervision tree not running")
        if not await runtime.stores.db.ping(READY_DB_TIMEOUT_S):
            problems.append("database unreachable")
        status = 503 if problems else 200
        return jsonify({"status": "unready" if problems else "ready", "problems": problems}), status


def admin_refusal(admin_token: str) -> Response | None:
    """Why this request may not use the admin routes, or None when it carries the admin token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return error_response(401, "unauthenticated", "send Authorization: Bearer <admin token>")
    if not hmac.compare_digest(token.encode(), admin_token.encode()):
        return error_response(403, "forbidden", "wrong admin token")
    return None


def register_moderator_routes(app: QuartTrio, runtime: EdgeRuntime) -> None:
    """``PUT`` / ``DELETE /admin/moderators/<username>``: grant or revoke an existing account's
    moderation rights (``viora moderators``), behind the admin token: the operator decides."""

    @app.route("/admin/moderators/<username>", methods=["PUT", "DELETE"])
    async def admin_moderator(username: str) -> Any:
        if (refusal := admin_refusal(runtime.admin_token)) is not None:
            return refusal
        moderator = request.method == "PUT"
        changed = await runtime.services.accounts.set_moderator(username, moderator)
        return jsonify({"username": username.lower(), "moderator": moderator, "changed": changed})


def register_admin_routes(app: QuartTrio, runtime: EdgeRuntime) -> None:
    """``/admin/tree``, ``/admin/stats`` and ``/metrics``, all behind the admin token."""
    started = time.time()
    metrics = RuntimeMetrics(runtime)

    @app.get("/admin/tree")
    async def admin_tree() -> Any:
        if (refusal := admin_refusal(runtime.admin_token)) is not None:
            return refusal
        return jsonify(runtime.root.inspect())

    @app.get("/admin/stats")
    async def admin_stats() -> Any:
        if (refusal := admin_refusal(runtime.admin_token)) is not None:
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

    @app.get("/metrics")
    async def prometheus_metrics() -> Any:
        """Prometheus text format. It needs the admin token like ``/admin/*``: this port also serves
        the public websocket, and per-actor series name online users (``user:<id>``). Prometheus
        sends the token with ``authorization: {credentials_file: ...}`` in its scrape config."""
        if (refusal := admin_refusal(runtime.admin_token)) is not None:
            return refusal
        return Response(metrics.render(), content_type=CONTENT_TYPE_LATEST)
