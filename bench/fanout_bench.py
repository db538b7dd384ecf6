"""Fan-out benchmark (issue 4): one author, 10,000 followers, 2,000 of them online.

    python -m bench.fanout_bench --spawn-server --followers 10000 --online 2000 --posts 10

What it measures, per post and over all posts:

* **delivery latency**: from the author's acknowledgement (the ``post.create`` reply arriving at the
  author's client) to each online follower receiving the ``post.created`` push on ``home``;
  p50 / p99 / max. Every client runs on this machine and reads the same system-wide monotonic
  clock, so the two instants are comparable across processes.
* **timeline writes per second**: the FeedActor appends the post to 10,001 ``home`` streams (the
  followers and the author) in one transaction *before* it publishes the live delivery, so the
  first follower to receive the push bounds that write phase from above: writes / (first arrival
  - ack). The count of writes comes from the FeedActors' ``timeline_writes`` in ``/admin/tree``.
* **server loop lag** during each fan-out: ``/admin/stats`` peak, reset just before each post.

Why the users are seeded with SQL: see :mod:`bench.fanout_seed` (argon2 would take 20 minutes).

``--spawn-server`` runs a fresh ``viora serve`` whose embedded PostgreSQL keeps its data dir under
``bench/results/`` between runs; the bench connects to that PostgreSQL through its socket to seed.
Against servers that are already running, give ``--urls`` (followers are spread over them round
robin; the author uses the first), ``--admin-token`` and ``--pg-dsn`` (or ``--data-dir`` of a server
with an embedded PostgreSQL). That is the two-process + Redis set-up: both processes must share the
database and the event bus.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import trio
from trio_websocket import open_websocket_url

from bench.common import ms, quantile, split
from bench.fanout_seed import Seeded, embedded_dsn, seed
from bench.fanout_trace import TRACE_ENV
from bench.fanout_worker import FollowerPlan, Received, follower_main
from bench.ws_server import ServerHandle, fetch_stats, http_url_of, spawned_server
from bench.ws_worker import Socket

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class PostRecord:
    """The author's side of one post: when it was sent and acknowledged, and the loop lag around it."""

    post_id: int
    sent: float
    acked: float
    loop_lag_ms: list[dict[str, float]] = field(default_factory=list)
    """``/admin/stats`` loop lag of each server, read just before the next post."""


@dataclass
class Run:
    """Everything one run collected, before it is reduced to figures."""

    followers: int
    online: int
    urls: list[str]
    connected: int = 0
    connect_errors: Counter[str] = field(default_factory=Counter)
    connect_s: float = 0.0
    seed_s: float = 0.0
    posts: list[PostRecord] = field(default_factory=list)
    received: Received = field(default_factory=Received)
    tree_before: dict[str, int] = field(default_factory=dict)
    tree_after: dict[str, int] = field(default_factory=dict)
    stats_after_connect: list[dict[str, Any]] = field(default_factory=list)
    trace: dict[int, dict[str, Any]] = field(default_factory=dict)
    """``--trace``: per post id, the server-side instants written by ``bench.fanout_trace``."""


# --------------------------------------------------------------------------- admin API


def tree_counters(servers: list[ServerHandle]) -> dict[str, int]:
    """FeedActor counters summed over every server's ``/admin/tree`` (and actors' dropped messages)."""
    totals: Counter[str] = Counter()
    for server in servers:
        _walk(_get_json(f"{server.http_url}/admin/tree", server.admin_token), totals)
    return dict(totals)


def _walk(node: Any, totals: Counter[str]) -> None:
    if isinstance(node, dict):
        for key in ("timeline_writes", "posts_fanned_out"):
            if isinstance(node.get(key), int):
                totals[key] += node[key]
        if isinstance(node.get("dropped"), int):
            totals["actor_messages_dropped"] += node["dropped"]
        for value in node.values():
            _walk(value, totals)
    elif isinstance(node, list):
        for value in node:
            _walk(value, totals)


def _get_json(url: str, admin_token: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {admin_token}"})
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.load(response)


# --------------------------------------------------------------------------- followers


@contextmanager
def started_followers(
    args: argparse.Namespace, servers: list[ServerHandle], seeded: Seeded
) -> Iterator[list[Pipe]]:
    """Follower processes, each with a slice of the online followers; follower *i* connects to
    server ``i % len(servers)``, so every server holds its share of them."""
    context = multiprocessing.get_context("spawn")
    assigned = [(servers[i % len(servers)].ws_url, token) for i, (_, token) in enumerate(seeded.online)]
    processes, pipes = [], []
    for part in split(len(assigned), args.procs):
        plan = FollowerPlan([assigned[i] for i in part], max(1, args.connect_concurrency // args.procs))
        parent_end, child_end = context.Pipe()
        process = context.Process(target=follower_main, args=(plan, child_end), daemon=True)
        process.start()
        processes.append(process)
        pipes.append(parent_end)
    try:
        yield pipes
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()


def wait_connected(pipes: list[Pipe], run: Run) -> None:
    started = time.monotonic()
    for pipe in pipes:
        _, connected, errors = pipe.recv()
        run.connected += connected
        run.connect_errors.update(errors)
    run.connect_s = time.monotonic() - started


def collect(pipes: list[Pipe], run: Run) -> None:
    for pipe in pipes:
        pipe.send(("collect",))
    for pipe in pipes:
        _, received = pipe.recv()
        for post_id, times in received.arrivals.items():
            for at in times:
                run.received.note(post_id, at)
        run.received.errors.update(received.errors)
        run.received.held += received.held


# --------------------------------------------------------------------------- the author


async def author_posts(args: argparse.Namespace, servers: list[ServerHandle], token: str, run: Run) -> None:
    """Sign the author in on the first server and post ``--posts`` times, ``--spacing`` apart.

    Each post is bracketed by ``/admin/stats``: the loop-lag peak is reset just before it is
    sent and read just before the next one, so each post gets the lag of its own fan-out.
    """
    async with open_websocket_url(servers[0].ws_url, connect_timeout=60) as ws:
        sock = Socket(ws)
        await sock.request("auth.resume", {"token": token})
        next_post = time.monotonic()
        for n in range(args.posts):
            await trio.sleep(max(0.0, next_post - time.monotonic()))
            await trio.to_thread.run_sync(_reset_lag, servers)
            sent = time.monotonic()
            reply = await sock.request("post.create", {"text": f"fan-out bench post {n + 1} of {args.posts}"})
            record = PostRecord(reply["post"]["id"], sent, time.monotonic())
            run.posts.append(record)
            next_post = sent + args.spacing
            await trio.sleep(max(0.0, next_post - 0.05 - time.monotonic()))
            record.loop_lag_ms = await trio.to_thread.run_sync(_read_lag, servers)


def _reset_lag(servers: list[ServerHandle]) -> None:
    for server in servers:
        fetch_stats(server.http_url, server.admin_token, reset_peak_lag=True)


def _read_lag(servers: list[ServerHandle]) -> list[dict[str, float]]:
    return [fetch_stats(server.http_url, server.admin_token)["loop_lag_ms"] for server in servers]


# --------------------------------------------------------------------------- the run


def run_bench(args: argparse.Namespace, servers: list[ServerHandle], dsn: str) -> Run:
    run = Run(args.followers, args.online, [s.ws_url for s in servers])
    started = time.monotonic()
    seeded = seed(dsn, args.user_prefix, args.followers, args.online)
    run.seed_s = time.monotonic() - started
    print(f"seeded {args.followers} followers ({args.online} with tokens) in {run.seed_s:.1f} s", flush=True)
    with started_followers(args, servers, seeded) as pipes:
        wait_connected(pipes, run)
        print(f"{run.connected} followers online after {run.connect_s:.1f} s", flush=True)
        run.stats_after_connect = [fetch_stats(s.http_url, s.admin_token) for s in servers]
        run.tree_before = tree_counters(servers)
        with profiled(args, servers, args.posts * args.spacing + args.drain):
            trio.run(author_posts, args, servers, seeded.author_token, run)
            time.sleep(args.drain)
        collect(pipes, run)
        run.tree_after = tree_counters(servers)
    return run


@contextmanager
def profiled(args: argparse.Namespace, servers: list[ServerHandle], duration_s: float) -> Iterator[None]:
    """With ``--py-spy FILE``: sample the (first) server with py-spy while the posts fan out.

    ``--nonblocking`` so the sampler does not pause the server it measures."""
    if not args.py_spy or servers[0].pid is None:
        yield
        return
    command = [
        "py-spy", "record", "--pid", str(servers[0].pid), "--rate", "200", "--nonblocking",
        "--format", "raw", "--output", str(args.py_spy), "--duration", str(int(duration_s) + 1),
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    time.sleep(1.0)  # let it attach
    try:
        yield
    finally:
        spy.wait(duration_s + 30)


# --------------------------------------------------------------------------- figures


def summary(run: Run) -> dict[str, Any]:
    posts = []
    all_latencies: list[float] = []
    for record in run.posts:
        arrivals = sorted(run.received.arrivals.get(record.post_id, []))
        lat = [at - record.acked for at in arrivals]
        all_latencies.extend(lat)
        posts.append(
            {
                "post_id": record.post_id,
                "ack_ms": ms(record.acked - record.sent),
                "received": len(lat),
                "first_ms": ms(lat[0] if lat else None),
                "p50_ms": ms(quantile(lat, 0.50)),
                "p99_ms": ms(quantile(lat, 0.99)),
                "max_ms": ms(lat[-1] if lat else None),
                "server_peak_lag_ms": max((lag["peak"] for lag in record.loop_lag_ms), default=None),
            }
        )
    all_latencies.sort()
    steps = trace_steps(run)
    writes = run.tree_after.get("timeline_writes", 0) - run.tree_before.get("timeline_writes", 0)
    fanned = run.tree_after.get("posts_fanned_out", 0) - run.tree_before.get("posts_fanned_out", 0)
    writes_per_post = writes / fanned if fanned else None
    firsts = [p["first_ms"] for p in posts if p["first_ms"] is not None]
    lags = [p["server_peak_lag_ms"] for p in posts if p["server_peak_lag_ms"] is not None]
    spans = [p["max_ms"] - p["first_ms"] for p in posts if p["first_ms"] is not None]
    return {
        "followers": run.followers,
        "online_target": run.online,
        "servers": run.urls,
        "seed_s": round(run.seed_s, 1),
        "online_connected": run.connected,
        "connect_errors": dict(run.connect_errors),
        "connect_and_subscribe_s": round(run.connect_s, 1),
        "server_rss_mib_after_connect": [round(s["rss_bytes"] / 2**20, 1) for s in run.stats_after_connect],
        "posts": len(run.posts),
        "deliveries_expected": run.connected * len(run.posts),
        "deliveries_received": len(all_latencies),
        "receive_errors": dict(run.received.errors),
        "sockets_held_at_end": run.received.held,
        "delivery_ms": {
            "p50": ms(quantile(all_latencies, 0.50)),
            "p99": ms(quantile(all_latencies, 0.99)),
            "max": ms(all_latencies[-1] if all_latencies else None),
        },
        "ack_ms_median": round(statistics.median(p["ack_ms"] for p in posts), 2) if posts else None,
        "timeline_writes": writes,
        "posts_fanned_out": fanned,
        "timeline_writes_per_post": writes_per_post,
        "write_phase_ms_median": round(statistics.median(firsts), 2) if firsts else None,
        "timeline_writes_per_s": (
            round(writes_per_post / (statistics.median(firsts) / 1000))
            if writes_per_post and firsts
            else None
        ),
        "push_span_ms_median": round(statistics.median(spans), 2) if spans else None,
        "actor_messages_dropped": run.tree_after.get("actor_messages_dropped", 0)
        - run.tree_before.get("actor_messages_dropped", 0),
        "server_peak_lag_ms": {"median": round(statistics.median(lags), 2), "max": max(lags)}
        if lags
        else None,
        "server_steps_ms_after_ack": steps,
        "per_post": posts,
    }


TRACE_STEPS = (
    "feed_start",
    "get_posts_end",
    "followers_start",
    "followers_end",
    "append_start",
    "append_end",
    "publish_start",
    "publish_end",
    "first_session_push",
    "last_session_push",
)


def trace_steps(run: Run) -> dict[str, Any] | None:
    """Median instant of each traced server step, in ms after the author's ack, and GC pauses."""
    if not run.trace:
        return None
    offsets: dict[str, list[float]] = {step: [] for step in TRACE_STEPS}
    gc_pauses: list[float] = []
    for record in run.posts:
        line = run.trace.get(record.post_id)
        if line is None:
            continue
        for step in TRACE_STEPS:
            if step in line:
                offsets[step].append((line[step] - record.acked) * 1000)
        gc_pauses.extend(ms_ for _, ms_, _ in line.get("gc", []))
    figures: dict[str, Any] = {
        step: round(statistics.median(values), 1) for step, values in offsets.items() if values
    }
    figures["gc_pauses_ms"] = {
        "count_per_post": round(len(gc_pauses) / max(1, len(run.posts)), 1),
        "max": max(gc_pauses, default=0.0),
        "total_per_post": round(sum(gc_pauses) / max(1, len(run.posts)), 1),
    }
    return figures


def print_summary(s: dict[str, Any]) -> None:
    print(f"\nfan-out: 1 author, {s['followers']} followers, {s['online_connected']} online ({s['servers']})")
    print(
        f"  connect + auth.resume + stream.resume: {s['connect_and_subscribe_s']} s, errors {s['connect_errors'] or 'none'}"
    )
    print(
        f"  deliveries: {s['deliveries_received']} of {s['deliveries_expected']}, errors {s['receive_errors'] or 'none'}, held at end {s['sockets_held_at_end']}"
    )
    d = s["delivery_ms"]
    print(f"  ack -> push, all posts: p50 {d['p50']} ms, p99 {d['p99']} ms, max {d['max']} ms")
    print(f"  post.create ack (median): {s['ack_ms_median']} ms")
    print(
        f"  timeline writes: {s['timeline_writes']} for {s['posts_fanned_out']} posts; write phase (ack -> first push, median)"
        f" {s['write_phase_ms_median']} ms -> {s['timeline_writes_per_s']} writes/s"
    )
    print(
        f"  first -> last push (median span): {s['push_span_ms_median']} ms; actor messages dropped {s['actor_messages_dropped']}"
    )
    print(f"  server peak loop lag per post: {s['server_peak_lag_ms']}")
    if s["server_steps_ms_after_ack"]:
        print(f"  server steps, ms after the ack (median): {s['server_steps_ms_after_ack']}")
    print("  post      ack   first     p50     p99     max   lag(ms)  received")
    for p in s["per_post"]:
        print(
            f"  {p['post_id']:>5} {p['ack_ms']:>7} {p['first_ms']!s:>7} {p['p50_ms']!s:>7} {p['p99_ms']!s:>7}"
            f" {p['max_ms']!s:>7} {p['server_peak_lag_ms']!s:>8}  {p['received']}"
        )  # fmt: skip


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.fanout_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_argument_group("which server")
    where.add_argument(
        "--spawn-server", action="store_true", help="start a fresh `viora serve` on a free port for this run"
    )
    where.add_argument(
        "--server-data-dir",
        type=Path,
        default=RESULTS / "fanout-server",
        help="data dir of the spawned server; kept, so the seeded users are reused",
    )
    where.add_argument("--url", help="websocket URL of one running server (same as --urls with one URL)")
    where.add_argument(
        "--urls",
        help="comma-separated websocket URLs of running servers sharing one database and event bus; "
        "followers are spread over them, the author posts on the first",
    )
    where.add_argument(
        "--admin-token", help="admin token of the running server(s) (/admin/stats, /admin/tree)"
    )
    where.add_argument(
        "--data-dir", type=Path, help="a running server's data dir: admin.token and embedded PostgreSQL"
    )
    where.add_argument(
        "--pg-dsn", help="PostgreSQL of the running server(s), to seed users (else from --data-dir)"
    )
    p.add_argument("--followers", type=int, default=10_000, help="followers of the author")
    p.add_argument("--online", type=int, default=2_000, help="followers connected during the posts")
    p.add_argument("--posts", type=int, default=10, help="posts by the author")
    p.add_argument("--spacing", type=float, default=3.0, help="seconds between posts (each fan-out settles)")
    p.add_argument(
        "--drain", type=float, default=2.0, help="seconds to wait for pushes after the last post's window"
    )
    p.add_argument("--procs", type=int, default=2, help="follower processes")
    p.add_argument(
        "--connect-concurrency", type=int, default=200, help="followers signing in at once (all processes)"
    )
    p.add_argument(
        "--user-prefix", default="fanout_", help="benchmark usernames: <prefix>author, <prefix>f<6 digits>"
    )
    p.add_argument(
        "--py-spy", type=Path, help="record the (first) server with py-spy during the posts (raw format)"
    )
    p.add_argument(
        "--trace",
        action="store_true",
        help="with --spawn-server: run it under bench.fanout_trace and break each fan-out into steps",
    )
    p.add_argument("--json-out", type=Path, help="also write the figures as JSON here")
    return p.parse_args(argv)


def running_servers(args: argparse.Namespace) -> list[ServerHandle]:
    urls = [u.strip() for u in (args.urls or args.url or "ws://127.0.0.1:8080/ws").split(",") if u.strip()]
    token = args.admin_token
    if token is None and args.data_dir is not None:
        token = (args.data_dir / "admin.token").read_text().strip()
    if token is None:
        sys.exit("need --admin-token or --data-dir (to read <data dir>/admin.token), or --spawn-server")
    return [ServerHandle(url, http_url_of(url), token, None) for url in urls]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.spawn_server:
        RESULTS.mkdir(parents=True, exist_ok=True)
        trace_path = RESULTS / "fanout-trace.jsonl"
        trace_path.unlink(missing_ok=True)
        launcher = {"module": "bench.fanout_trace", "env": {TRACE_ENV: str(trace_path)}} if args.trace else {}
        with spawned_server(args.server_data_dir, RESULTS / "fanout-server.log", **launcher) as server:
            print(f"server pid {server.pid} at {server.ws_url}", flush=True)
            run = run_bench(args, [server], args.pg_dsn or embedded_dsn(args.server_data_dir))
        if args.trace:
            run.trace = {
                line["post_id"]: line for line in map(json.loads, trace_path.read_text().splitlines())
            }
    else:
        servers = running_servers(args)
        if args.pg_dsn:
            dsn = args.pg_dsn
        elif args.data_dir:
            dsn = embedded_dsn(args.data_dir)
        else:
            dsn = os.environ.get("VIORA_PG_DSN") or sys.exit("need --pg-dsn or --data-dir to seed the users")
        run = run_bench(args, servers, dsn)
    figures = summary(run)
    print_summary(figures)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
