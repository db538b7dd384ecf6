"""Websocket load test: hold N signed-in clients on one Viora server and time echo round trips.

    python -m bench.ws_load --spawn-server --clients 1000 --duration 20 --saturate

Phases: connect and sign in every client (bounded concurrency, so the accept backlog is not
flooded), hold them; *paced*: every client sends one ``echo`` per ``--interval`` (staggered), the
latency at a realistic load; *saturation* (``--saturate``): a closed loop on a subset of clients,
the most round trips per second the server manages. Server figures come from ``/admin/stats``:
RSS before and after connecting, and the peak event-loop lag, reset before each phase.

Clients run in ``--procs`` worker processes (see ``bench.ws_worker``). Client and server share
the machine's cores, so on a small box every figure here is a lower bound for the server alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from bench.common import ms as _ms
from bench.common import quantile as _quantile
from bench.common import split
from bench.ws_server import ServerHandle, fetch_stats, http_url_of, spawned_server
from bench.ws_worker import PhaseResult, WorkerPlan, worker_main

RESULTS = Path(__file__).resolve().parent / "results"
PHASE_START_DELAY_S = 1.0
"""Lead time between announcing a phase and its start, so every worker process starts together."""


@dataclass
class Worker:
    process: multiprocessing.process.BaseProcess
    pipe: Pipe
    clients: int


@dataclass
class PhaseFigures:
    name: str
    clients: int
    duration_s: float
    result: PhaseResult
    loop_lag_ms: dict[str, float]
    held_after: int

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.result.latencies)
        return {
            "clients": self.clients,
            "round_trips": len(lat),
            "round_trips_per_s": round(len(lat) / self.duration_s, 1),
            "p50_ms": _ms(_quantile(lat, 0.50)),
            "p99_ms": _ms(_quantile(lat, 0.99)),
            "max_ms": _ms(lat[-1] if lat else None),
            "errors": dict(self.result.errors),
            "late_sends": self.result.late_sends,
            "server_loop_lag_ms": self.loop_lag_ms,
            "connections_held_after": self.held_after,
        }


@dataclass
class Report:
    clients: int
    procs: int
    connected: int = 0
    connect_errors: Counter[str] = field(default_factory=Counter)
    connect_s: float = 0.0
    stats_before: dict[str, Any] = field(default_factory=dict)
    stats_after_connect: dict[str, Any] = field(default_factory=dict)
    phases: list[PhaseFigures] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        rss_delta = self.stats_after_connect["rss_bytes"] - self.stats_before["rss_bytes"]
        return {
            "clients": self.clients,
            "procs": self.procs,
            "connected": self.connected,
            "connect_errors": dict(self.connect_errors),
            "connect_and_sign_in_s": round(self.connect_s, 1),
            "server_connections": self.stats_after_connect["connections"],
            "server_online_users": self.stats_after_connect["online_users"],
            "server_rss_before_mib": round(self.stats_before["rss_bytes"] / 2**20, 1),
            "server_rss_after_connect_mib": round(self.stats_after_connect["rss_bytes"] / 2**20, 1),
            "server_rss_per_connection_kib": round(rss_delta / max(1, self.connected) / 1024, 1),
            "server_loop_lag_ms_while_connecting": self.stats_after_connect["loop_lag_ms"],
            "phases": {phase.name: phase.summary() for phase in self.phases},
        }


# --------------------------------------------------------------------------- token cache


def load_tokens(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Write atomically: a run killed mid-write must not lose every cached token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(tokens))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- workers


@contextmanager
def started_workers(args: argparse.Namespace, url: str, tokens: dict[str, str]) -> Iterator[list[Worker]]:
    """One process per slice of the clients; terminated on the way out if they did not exit."""
    context = multiprocessing.get_context("spawn")
    workers = []
    for part in split(args.clients, args.procs):
        usernames = [f"{args.user_prefix}{i:05d}" for i in part]
        plan = WorkerPlan(
            url,
            usernames,
            {u: tokens[u] for u in usernames if u in tokens},
            max(1, args.connect_concurrency // args.procs),
            args.interval,
        )
        parent_end, child_end = context.Pipe()
        process = context.Process(target=worker_main, args=(plan, child_end), daemon=True)
        process.start()
        workers.append(Worker(process, parent_end, len(part)))
    try:
        yield workers
    finally:
        for worker in workers:
            worker.process.join(10)
            if worker.process.is_alive():
                worker.process.terminate()


def connect_all(workers: list[Worker], report: Report, tokens: dict[str, str], tokens_path: Path) -> None:
    """Wait until every worker has connected (or failed) all its clients; cache new tokens."""
    started = time.monotonic()
    for worker in workers:
        _, connected, errors, new_tokens = worker.pipe.recv()
        report.connected += connected
        report.connect_errors.update(errors)
        tokens.update(new_tokens)
    report.connect_s = time.monotonic() - started
    save_tokens(tokens_path, tokens)


def run_phase(
    workers: list[Worker], server: ServerHandle, name: str, duration_s: float, participants: list[int]
) -> PhaseFigures:
    """Start a phase in every worker at one instant, gather results, read the loop-lag peak."""
    fetch_stats(server.http_url, server.admin_token, reset_peak_lag=True)
    wall_start = time.time() + PHASE_START_DELAY_S
    for worker, count in zip(workers, participants, strict=True):
        worker.pipe.send((name, wall_start, duration_s, count))
    merged = PhaseResult()
    held = 0
    for worker in workers:
        _, result, worker_held = worker.pipe.recv()
        merged.latencies.extend(result.latencies)
        merged.errors.update(result.errors)
        merged.late_sends += result.late_sends
        held += worker_held
    lag = fetch_stats(server.http_url, server.admin_token)["loop_lag_ms"]
    return PhaseFigures(name, sum(participants), duration_s, merged, lag, held)


def close_all(workers: list[Worker]) -> None:
    for worker in workers:
        worker.pipe.send(("close",))
    for worker in workers:
        worker.pipe.recv()


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, server: ServerHandle) -> Report:
    report = Report(args.clients, args.procs)
    tokens = load_tokens(args.tokens)
    report.stats_before = fetch_stats(server.http_url, server.admin_token, reset_peak_lag=True)
    with started_workers(args, server.ws_url, tokens) as workers:
        connect_all(workers, report, tokens, args.tokens)
        report.stats_after_connect = fetch_stats(server.http_url, server.admin_token)
        report.phases.append(run_phase(workers, server, "paced", args.duration, [w.clients for w in workers]))
        if args.saturate:
            subset = min(args.saturate_clients, args.clients)
            shares = [len(part) for part in split(subset, len(workers))]
            report.phases.append(run_phase(workers, server, "saturation", args.duration, shares))
        close_all(workers)
    return report


def print_report(summary: dict[str, Any]) -> None:
    errors = summary["connect_errors"] or "none"
    print(f"\nclients {summary['clients']} in {summary['procs']} process(es)")
    print(f"  connected and signed in: {summary['connected']}  (failed: {errors})")
    print(f"  connect + sign-in took:  {summary['connect_and_sign_in_s']} s")
    print(
        f"  server sees:             {summary['server_connections']} sockets, "
        f"{summary['server_online_users']} online users"
    )
    print(
        f"  server RSS:              {summary['server_rss_before_mib']} -> "
        f"{summary['server_rss_after_connect_mib']} MiB, "
        f"{summary['server_rss_per_connection_kib']} KiB per connection"
    )
    print(f"  loop lag while connecting (ms): {summary['server_loop_lag_ms_while_connecting']}")
    for name, p in summary["phases"].items():
        print(
            f"  {name}: {p['clients']} clients, {p['round_trips_per_s']} round trips/s, "
            f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, max {p['max_ms']} ms"
        )
        print(
            f"    errors {p['errors'] or 'none'}, late sends {p['late_sends']}, "
            f"server loop lag (ms) {p['server_loop_lag_ms']}, held after {p['connections_held_after']}"
        )


def admin_token(args: argparse.Namespace) -> str:
    if args.admin_token:
        return args.admin_token
    if args.data_dir:
        return (args.data_dir / "admin.token").read_text().strip()
    sys.exit("need --admin-token or --data-dir (to read <data dir>/admin.token), or --spawn-server")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.ws_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--url", default="ws://127.0.0.1:8080/ws", help="websocket URL of a running server")
    p.add_argument("--admin-token", help="admin token for /admin/stats")
    p.add_argument("--data-dir", type=Path, help="the server's data dir, to read admin.token from")
    p.add_argument(
        "--spawn-server",
        action="store_true",
        help="start a fresh `viora serve` on a free port for this run (ignores --url)",
    )
    p.add_argument(
        "--server-data-dir",
        type=Path,
        default=RESULTS / "ws-server",
        help="data dir of the spawned server; kept so its users and tokens are reused",
    )
    p.add_argument("-n", "--clients", type=int, default=1000, help="concurrent websocket clients")
    p.add_argument("--interval", type=float, default=1.0, help="paced phase: seconds between echoes")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured phase")
    p.add_argument("--saturate", action="store_true", help="also run the closed-loop saturation phase")
    p.add_argument(
        "--saturate-clients",
        type=int,
        default=200,
        help="clients in the closed loop (each stays under the server's per-socket rate limit)",
    )
    p.add_argument("--procs", type=int, default=1, help="client worker processes")
    p.add_argument(
        "--connect-concurrency",
        type=int,
        default=200,
        help="connections being opened and signed in at once (all processes together)",
    )
    p.add_argument("--tokens", type=Path, default=RESULTS / "ws_tokens.json", help="session token cache")
    p.add_argument("--user-prefix", default="wsbench_", help="benchmark usernames are <prefix><5 digits>")
    p.add_argument("--json-out", type=Path, help="also write the figures as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.spawn_server:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with spawned_server(args.server_data_dir, RESULTS / "ws-server.log") as server:
            print(f"server pid {server.pid} at {server.ws_url}", flush=True)
            report = run(args, server)
    else:
        report = run(args, ServerHandle(args.url, http_url_of(args.url), admin_token(args), None))
    summary = report.summary()
    print_report(summary)
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
