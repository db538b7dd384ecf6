"""Serve Viora on one port inside the supervision tree: ``/ws`` on our websocket transport, the
rest of HTTP on hypercorn (``edges.port``)."""

from __future__ import annotations

import gc
import logging
import signal
from functools import partial

import trio
from hypercorn.config import Config

from edges.asgi_types import from_framework, to_framework
from edges.http.app import build_http_app
from edges.port import PublicPort
from kernel.config import Settings
from protocol.errors import CloseCode
from supervisor import ChildContext
from viora.runtime import Runtime, open_runtime

log = logging.getLogger("viora")


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.backlog = 4096
    config.graceful_timeout = settings.shutdown_drain_s
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our logging, not raw stderr
    return config


async def run_http(runtime: Runtime, ctx: ChildContext) -> None:
    """The ``http`` child: serves until asked to stop, then closes every socket with 1001."""
    http_app = to_framework(from_framework(build_http_app(runtime)))
    port = PublicPort(runtime, http_app, hypercorn_config(runtime.settings))

    async def stopped() -> None:
        await ctx.stop_requested.wait()
        runtime.services.sockets.close_all(CloseCode.GOING_AWAY, "server shutting down")

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(port.serve, shutdown_trigger=stopped))
        runtime.http_url = binds[0]
        log.info("viora listening on %s (websocket: %s/ws)", binds[0], binds[0].replace("http", "ws", 1))
        ctx.started()


GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """Fewer, cheaper garbage collections: the cure for our worst event-loop stalls.

    With thousands of sockets the heap holds millions of long-lived objects; CPython's default
    thresholds (700, 10, 10) run full collections over all of them often enough to stall the loop
    for 100+ ms (measured: see BENCHMARKS.md). Freezing what start-up allocated takes it out of
    every later collection, and higher thresholds make collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(
    settings: Settings,
    *,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the server until cancelled (or, with ``handle_signals``, SIGINT/SIGTERM), then shut the
    tree down in reverse order: sockets closed with 1001, sessions drained, stores closed."""
    async with open_runtime(settings, http=run_http) as runtime:
        tune_gc()
        task_status.started(runtime)
        if not handle_signals:
            await trio.sleep_forever()
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("received %s: shutting down", signal.Signals(signum).name)
                break
