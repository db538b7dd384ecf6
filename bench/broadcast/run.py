"""Side-by-side broadcast benchmark (issue 6, item 2): Viora vs Node Socket.IO vs python-socketio.

    python -m bench.broadcast.run                       # defaults: 1,000 clients; ~4 minutes on 2 cores
    python -m bench.broadcast.run --clients 100 --fanout-clients 100 --duration 5 --profile

One run, one machine, the same load driver (``clients.mjs``, one Node process) and the same
128-byte payload for the three servers, one after the other:

* **viora** - a fresh ``viora serve`` on embedded defaults. The broadcast is the product's real path:
  one account followed by every receiver; the sender sends ``post.create`` with the payload as the
  post's text, and each receiver gets the ``post.created`` push on its ``home`` stream (after
  ``auth.resume`` + ``stream.resume``). **Ours does more work per message than an in-memory
  Socket.IO broadcast**: the post is stored, appended to every follower's durable, sequence-numbered
  home stream in PostgreSQL (so a client that drops can resume without loss) before it is pushed,
  each push carries its sequence number, and the post is queued for content indexing.
* **node-socketio** - ``socketio_server.mjs``: ``socket.broadcast.emit`` of each ``msg`` (in memory).
* **python-socketio** - ``python_socketio_server.py``: ``AsyncServer`` (ASGI) on uvicorn, the same relay.

The rule is the same for all three: every message goes to every receiver, not back to the sender.
Two workloads per server, each with its own freshly connected clients:

* **broadcast**: ``--clients`` receivers; the sender keeps ``--window`` messages in flight (sent, not
  yet received by everyone) for ``--duration`` seconds, then waits for the last ones. Deliveries/s =
  messages received by all clients / elapsed; latency = send -> receipt, per delivery.
* **fan-out**: ``--fanout-clients`` receivers (1,000); one message, wait until every client has it,
  pause, ``--fanout-count`` times. Per-delivery latency and time to the last delivery.

Server CPU (user + system) is read around each workload from the server's process tree, and for ours
from its embedded PostgreSQL too (see :mod:`bench.broadcast.servers`), giving deliveries per
server-CPU-second ("per core"). The clients and every server share this machine's cores, so the
deliveries/s of a fast server is bounded by the load driver (its CPU is printed too); deliveries
per server-CPU-second is the figure that compares the servers themselves.

For the bench, our server runs with ``VIORA_RATE_PER_S`` / ``VIORA_RATE_BURST`` raised (the sender
would otherwise be held to 50 posts/s) and with ``VIORA_CLIP_MODEL=viora-tiny`` (and the vector
store's ``VIORA_VECTOR_DIM`` to match) so that the content indexing every post triggers costs what a
small model costs (``--viora-clip-model ViT-B-32`` keeps the default model: ~60 ms of CPU per post).
Both are printed with the results. Indexing runs after each post's fan-out; what is still queued
when a workload ends is waited for and its CPU counted in that workload's figures.

``--profile`` adds a py-spy pass over a broadcast on our server (not counted in the table) and
summarises where its time goes (see :mod:`bench.broadcast.profile`). Results also go to
``bench/results/broadcast-<timestamp>.json``; the peers' packages live in
``bench/results/broadcast-peers/`` (installed there on first use, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.broadcast.driver import Credentials, Workload, cpu_figures, run_workload
from bench.broadcast.peers import Peers, prepare
from bench.broadcast.profile import py_spy_record, split_threads, summarise, thread_cpu_seconds
from bench.broadcast.servers import (
    CpuSample,
    Server,
    node_socketio_server,
    python_socketio_server,
    viora_server,
)
from bench.fanout_seed import seed

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
SERVERS = ("viora", "node-socketio", "python-socketio")
INDEXER_SETTLE_S = 120.0


# --------------------------------------------------------------------------- workloads


def broadcast_workload(args: argparse.Namespace) -> Workload:
    return Workload(
        workload="broadcast",
        clients=args.clients,
        payload_bytes=args.payload_bytes,
        duration_s=args.duration,
        window=args.window,
        rate=args.rate,
        count=0,
        pause_ms=0,
        connect_concurrency=args.connect_concurrency,
        stall_ms=args.stall_s * 1000,
    )


def workloads(args: argparse.Namespace) -> list[Workload]:
    """The workloads asked for, in order: broadcast, then fan-out (the same knobs where they apply)."""
    broadcast = broadcast_workload(args)
    fanout = replace(
        broadcast,
        workload="fanout",
        clients=args.fanout_clients,
        count=args.fanout_count,
        pause_ms=args.pause_ms,
    )
    return [w for w in (broadcast, fanout) if w.workload in args.workloads]


# --------------------------------------------------------------------------- ours


def viora_env(args: argparse.Namespace) -> dict[str, str]:
    """What the spawned server gets on top of its embedded defaults (printed with the results).

    The vector store's dimension must match the model's output, or every post's indexing fails
    (and the run would not pay for it): the tiny model's 64 comes from its own configuration.
    """
    env = {
        "VIORA_RATE_PER_S": str(args.viora_rate),
        "VIORA_RATE_BURST": str(args.viora_rate),
        "VIORA_CLIP_MODEL": args.viora_clip_model,
    }
    from ml.tiny import TINY_CONFIG, TINY_MODEL  # here: it imports open_clip (and torch)

    if args.viora_clip_model == TINY_MODEL:
        env["VIORA_VECTOR_DIM"] = str(TINY_CONFIG["embed_dim"])
    return env


def bench_viora(peers: Peers, args: argparse.Namespace) -> dict[str, Any]:
    env = viora_env(args)
    with viora_server(peers.scratch, env) as server:
        print(f"  {server.description}, pid {server.pid}", flush=True)
        figures: dict[str, Any] = {"server": server.description, "env": env}
        for workload in workloads(args):
            result = run_workload(peers, server, workload, credentials(server, args, workload.clients))
            figures[workload.workload] = with_indexing(server, result)
            print_progress(workload, result)
        if args.profile:
            figures["profile"] = profile_broadcast(peers, server, args)
    return figures


def credentials(server: Server, args: argparse.Namespace, clients: int) -> Credentials:
    """Seed (SQL, see :mod:`bench.fanout_seed`): ``clients`` followers of one author, all with tokens."""
    assert server.dsn is not None
    seeded = seed(server.dsn, args.user_prefix, clients, clients)
    return Credentials(seeded.author_token, [token for _, token in seeded.online])


def with_indexing(server: Server, result: dict[str, Any]) -> dict[str, Any]:
    """Add the CPU of the content indexing still queued when the workload ended to its figures.

    The indexer runs after each post's fan-out, off the delivery path, so the last posts of a
    workload are indexed after the driver reports ``done``. That work belongs to the workload (it is
    part of what our server does per message), and left alone it would run, unmeasured, during the
    next one: wait for the queue to empty, and count its CPU in.
    """
    started = time.monotonic()
    before = server.cpu()
    indexer = indexer_node(server)
    while indexer_backlog(indexer) and time.monotonic() - started < INDEXER_SETTLE_S:
        time.sleep(0.5)
        indexer = indexer_node(server)
    drained = server.cpu() - before
    in_window = CpuSample(result["server_cpu_process_s"], result["server_cpu_database_s"])
    result["server_cpu_in_window_s"] = result["server_cpu_s"]
    result.update(cpu_figures(in_window + drained, result))
    result["after"] = {
        "indexer_backlog_left": indexer_backlog(indexer),
        "indexer_jobs_done": indexer.get("jobs_done"),
        "indexer_jobs_failed": indexer.get("jobs_failed"),
        "indexer_drain_s": round(time.monotonic() - started, 2),
        "indexer_drain_cpu_s": round(drained.total_s, 3),
        "dropped_by_actors": dropped_messages(server.tree()),
    }
    return result


def indexer_node(server: Server) -> dict[str, Any]:
    """The indexer's node in ``/admin/tree`` (mailbox depth, jobs done); empty if not found."""
    return _find(server.tree(), lambda n: n.get("path") == "/viora/indexer") or {}


def indexer_backlog(indexer: dict[str, Any]) -> int:
    return int(indexer.get("mailbox", {}).get("depth", 0))


def dropped_messages(tree: Any) -> int:
    return sum(int(n.get("dropped", 0)) for n in _nodes(tree) if isinstance(n.get("dropped"), int))


def _find(tree: Any, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    return next((node for node in _nodes(tree) if match(node)), None)


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


def profile_broadcast(peers: Peers, server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """An extra broadcast under py-spy (the sampler takes CPU from the box: its figures are not in
    the table), with the event loop's thread and the worker threads' CPU read from the kernel."""
    if peers.py_spy is None:
        print("  py-spy is not installed: no profile (see /admin/stats in the results)", flush=True)
        return {"error": "py-spy not installed", "stats": server.stats()}
    py_spy = peers.py_spy
    output = RESULTS / f"broadcast-{args.stamp}-viora.speedscope.json"
    workload = replace(broadcast_workload(args), duration_s=args.profile_duration)
    threads: dict[str, float] = {}

    @contextmanager
    def sampled() -> Iterator[None]:
        with py_spy_record(py_spy, server.pid, output):
            before = thread_cpu_seconds(server.pid)
            yield
            threads.update(split_threads(server.pid, before, thread_cpu_seconds(server.pid)))

    run = run_workload(peers, server, workload, credentials(server, args, workload.clients), sampled)
    process_us = run["server_cpu_process_s"] * 1e6 / run["deliveries"] if run["deliveries"] else None
    summary = summarise(output, ROOT, process_us)
    print(f"  profile: {summary['sampled_s']} s sampled -> {output.relative_to(ROOT)}", flush=True)
    return {
        "speedscope": str(output.relative_to(ROOT)),
        "run": run,
        "process_cpu_us_per_delivery": round(process_us, 1) if process_us else None,
        "database_cpu_us_per_delivery": (
            round(run["server_cpu_database_s"] * 1e6 / run["deliveries"], 1) if run["deliveries"] else None
        ),
        "threads_cpu_s": threads,
        **summary,
    }


# --------------------------------------------------------------------------- the peers


def bench_peer(
    peers: Peers, args: argparse.Namespace, start: Callable[[Peers], AbstractContextManager[Server]]
) -> dict[str, Any]:
    with start(peers) as server:
        print(f"  {server.description}, pid {server.pid}", flush=True)
        figures: dict[str, Any] = {"server": server.description}
        for workload in workloads(args):
            figures[workload.workload] = result = run_workload(peers, server, workload)
            print_progress(workload, result)
        return figures


def bench_server(name: str, peers: Peers, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {name}", flush=True)
    if name == "viora":
        return bench_viora(peers, args)
    start = node_socketio_server if name == "node-socketio" else python_socketio_server
    return bench_peer(peers, args, start)


# --------------------------------------------------------------------------- figures


def ratios(servers: dict[str, Any]) -> dict[str, Any]:
    """ours / peer for each comparable figure (>1: ours is higher - faster for rates, slower for latencies)."""
    ours = servers.get("viora")
    if not ours:
        return {}
    figures = {
        "broadcast": [
            ("deliveries_per_s",),
            ("deliveries_per_cpu_s",),
            ("latency_ms", "p50"),
            ("latency_ms", "p99"),
        ],
        "fanout": [
            ("latency_ms", "p50"),
            ("latency_ms", "p99"),
            ("time_to_last_ms", "p50"),
            ("time_to_last_ms", "p99"),
            ("deliveries_per_cpu_s",),
        ],
    }
    out: dict[str, Any] = {}
    for peer in (n for n in servers if n != "viora"):
        for workload, keys in figures.items():
            if workload not in ours or workload not in servers[peer]:
                continue
            for key in keys:
                label = f"{workload}.{'.'.join(key)}"
                out.setdefault(f"viora/{peer}", {})[label] = _ratio(
                    _get(ours[workload], key), _get(servers[peer][workload], key)
                )
    return out


def _get(figures: dict[str, Any], key: tuple[str, ...]) -> float | None:
    value: Any = figures
    for part in key:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def print_progress(workload: Workload, r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    print(
        f"  {workload.workload}: {r['connected']} clients, {r['deliveries']} of {r['expected_deliveries']}"
        f" deliveries in {r['elapsed_s']} s, p50 {lat['p50']} / p99 {lat['p99']} ms,"
        f" server CPU {r['server_cpu_s']} s, errors {r['errors'] or 'none'}"
        + (" (STALLED)" if r["stalled"] else ""),
        flush=True,
    )


def _n(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def print_tables(results: dict[str, Any]) -> None:
    servers, config = results["servers"], results["config"]
    if any("broadcast" in s for s in servers.values()):
        print(
            f"\nbroadcast: {config['clients']} clients, 1 sender, closed loop (window {config['window']}),"
            f" {config['payload_bytes']}-byte payload, {config['duration']} s"
        )
        print(
            f"{'server':<16} {'deliv/s':>9} {'deliv/CPU-s':>11} {'CPU µs/deliv':>12} {'srv cores':>9}"
            f" {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'frame B':>7} {'client CPU':>10}"
        )
        for name, s in servers.items():
            b = s.get("broadcast")
            if b:
                lat = b["latency_ms"]
                print(
                    f"{name:<16} {_n(b['deliveries_per_s']):>9} {_n(b['deliveries_per_cpu_s']):>11}"
                    f" {_n(b['server_cpu_us_per_delivery'], '.1f'):>12} {_n(b['server_cpu_busy'], '.2f'):>9}"
                    f" {_n(lat['p50'], '.1f'):>8} {_n(lat['p99'], '.1f'):>8} {_n(lat['max'], '.1f'):>8}"
                    f" {_n(b['frame_bytes'], 'd'):>7} {_n(b['client_cpu_s'], '.1f'):>9}s"
                )
    if any("fanout" in s for s in servers.values()):
        print(
            f"\nfan-out: 1 message to {config['fanout_clients']} clients, {config['fanout_count']} times,"
            f" {config['pause_ms']} ms apart"
        )
        print(
            f"{'server':<16} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'last p50':>9} {'last p99':>9}"
            f" {'CPU ms/fan-out':>14} {'deliv/CPU-s':>11}"
        )
        for name, s in servers.items():
            f = s.get("fanout")
            if f:
                lat, last = f["latency_ms"], f["time_to_last_ms"]
                per_fanout = f["server_cpu_s"] * 1000 / f["sent"] if f["sent"] else None
                print(
                    f"{name:<16} {_n(lat['p50'], '.1f'):>8} {_n(lat['p99'], '.1f'):>8} {_n(lat['max'], '.1f'):>8}"
                    f" {_n(last['p50'], '.1f'):>9} {_n(last['p99'], '.1f'):>9} {_n(per_fanout, '.1f'):>14}"
                    f" {_n(f['deliveries_per_cpu_s']):>11}"
                )
    print_ratios(results["ratios"])
    print_profile(results["servers"].get("viora", {}).get("profile"))
    print_notes(results)


def print_ratios(all_ratios: dict[str, Any]) -> None:
    for pair, figures in all_ratios.items():
        print(f"\n{pair} (ours / peer; rates: >1 = ours higher; latencies: >1 = ours slower)")
        for label, value in figures.items():
            print(f"  {label:<32} {_n(value, '.3f')}")


def print_profile(profile: dict[str, Any] | None) -> None:
    if not profile or "by_layer" not in profile:
        return
    run, threads = profile["run"], profile["threads_cpu_s"]
    print(
        f"\nviora profile (py-spy, {profile['sampled_s']} s sampled over a {run['elapsed_s']} s broadcast to"
        f" {run['connected']} clients): {run['server_cpu_us_per_delivery']} µs of server CPU per delivery ="
        f" {profile['process_cpu_us_per_delivery']} in the server process"
        f" + {profile['database_cpu_us_per_delivery']} in PostgreSQL"
    )
    print(
        f"  server process CPU {run['server_cpu_process_s']} s: event-loop thread"
        f" {threads.get('event_loop_thread_cpu_s')} s, other threads {threads.get('other_threads_cpu_s')} s"
    )
    for row in profile["by_layer"]:
        print(f"  {row.get('process_cpu_us_per_delivery', '-'):>6} µs  {row['share']:6.1%}  {row['name']}")


def print_notes(results: dict[str, Any]) -> None:
    viora = results["servers"].get("viora")
    print("\nnotes:")
    if viora:
        env = " ".join(f"{k}={v}" for k, v in viora["env"].items())
        print(
            f"  - viora ran with {env} (rate raised for the sender only;"
            " viora-tiny: cheap post indexing, its CPU included)."
        )
        print(
            "  - viora does more per message: the post is stored and appended to every follower's durable,"
            " sequence-numbered home stream in PostgreSQL before it is pushed (resumable after a drop);"
            " Socket.IO relays in memory. Its server CPU includes its embedded PostgreSQL."
        )
    print("  - the load driver (one Node process) and the server share the machine's cores;")
    print("    deliveries/s of a fast server is bounded by the driver: compare deliveries per server-CPU-s.")
    print("  - 'srv cores' = server CPU seconds per second of the workload (1.00 = one core busy).")
    print(
        "  - broadcast latencies are closed-loop queueing (about window x clients / deliveries/s);"
        " the fan-out table gives one message's latency on an otherwise idle server."
    )


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.broadcast.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    p.add_argument("--workloads", nargs="+", choices=("broadcast", "fanout"), default=["broadcast", "fanout"])
    p.add_argument("--clients", type=int, default=1000, help="receivers in the broadcast workload")
    p.add_argument(
        "--duration", type=float, default=15.0, help="seconds of sending in the broadcast workload"
    )
    p.add_argument("--window", type=int, default=8, help="broadcast: messages in flight (closed loop)")
    p.add_argument("--rate", type=float, default=0.0, help="broadcast: messages/s instead of the closed loop")
    p.add_argument("--fanout-clients", type=int, default=1000, help="receivers in the fan-out workload")
    p.add_argument("--fanout-count", type=int, default=30, help="fan-outs (one message each)")
    p.add_argument("--pause-ms", type=float, default=250.0, help="pause after each fan-out completes")
    p.add_argument("--payload-bytes", type=int, default=128, help="message size (characters of text)")
    p.add_argument("--connect-concurrency", type=int, default=200, help="clients connecting at once")
    p.add_argument(
        "--stall-s", type=float, default=15.0, help="give up when no delivery arrives for this long"
    )
    p.add_argument(
        "--viora-rate", type=int, default=100_000, help="VIORA_RATE_PER_S and _BURST of our server"
    )
    p.add_argument("--viora-clip-model", default="viora-tiny", help="VIORA_CLIP_MODEL of our server")
    p.add_argument("--user-prefix", default="bcast_", help="usernames of the seeded accounts (ours)")
    p.add_argument("--profile", action="store_true", help="add a py-spy pass over a broadcast on our server")
    p.add_argument("--profile-duration", type=float, default=10.0, help="seconds of that profiled broadcast")
    p.add_argument(
        "--scratch", type=Path, default=RESULTS / "broadcast-peers", help="where the peers install"
    )
    p.add_argument("--json-out", type=Path, help="results file (default bench/results/broadcast-<time>.json)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    peers = prepare(args.scratch)
    results: dict[str, Any] = {
        "started": args.stamp,
        "command": " ".join(["python -m bench.broadcast.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "config": {k: v for k, v in vars(args).items() if k not in {"scratch", "json_out", "stamp"}},
        "versions": peers.versions,
        "servers": {},
    }
    for name in args.servers:
        results["servers"][name] = bench_server(name, peers, args)
    results["ratios"] = ratios(results["servers"])
    print_tables(results)
    out = args.json_out or RESULTS / f"broadcast-{args.stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
