"""``viora load`` against one server process, then two, on the same database and Redis (issue 6).

    python -m bench.load_processes --pg-dsn postgresql://postgres@127.0.0.1:5432/viora_load \\
        --redis-url redis://127.0.0.1:6379/0 --users 400 --rate 200 --duration 30

Each phase starts fresh ``viora serve`` processes (own port and data dir, shared PostgreSQL and
Redis, as README's "Several processes" describes), seeds the same users and follow graph, runs the
same plan with users spread round robin over the processes, prints both summaries and a
comparison, and writes them to ``bench/results/load-processes-<time>.json``. Deliveries between
users on different processes go through Redis pub/sub, so the two-process phase pays for that hop.

The load tester, the servers, PostgreSQL and Redis all share this machine's cores: on a 2-core box a
second server process has no idle core to use, which the figures show rather than hide.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import trio

from bench.ws_server import spawned_server
from viora.load.command import plan_from_args
from viora.load.progress import Progress, render_summary
from viora.load.runner import LoadPlan, SocketTarget, run_load
from viora.load.seed import seed_population

RESULTS = Path(__file__).resolve().parent / "results"


def ensure_database(dsn: str) -> None:
    """Create the benchmark's database on its server when it does not exist yet."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    name = info.get("dbname")
    admin = psycopg.conninfo.make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def run_phase(args: argparse.Namespace, processes: int, plan: LoadPlan) -> dict[str, Any]:
    admin_token = secrets.token_urlsafe(24)
    env = {
        "VIORA_PG_DSN": args.pg_dsn,
        "VIORA_REDIS_URL": args.redis_url,
        "VIORA_REDIS_PREFIX": f"viora-load-{secrets.token_hex(4)}",
        "VIORA_ADMIN_TOKEN": admin_token,
    }
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                spawned_server(
                    RESULTS / f"load-processes-data-{n}", RESULTS / f"load-processes-server-{n}.log", env=env
                )
            )
            for n in range(processes)
        ]
        tokens = seed_population(args.pg_dsn, args.prefix, plan.users, args.follows, plan.seed)
        target = SocketTarget([s.ws_url for s in servers], admin_token)
        print(f"\n== {processes} process(es) ==", flush=True)
        summary = trio.run(run_load, plan, target, tokens, Progress())
    print(render_summary(summary), flush=True)
    return summary


def comparison(one: dict[str, Any], two: dict[str, Any]) -> str:
    lines = [
        "",
        f"{'':<16}{'1 process':>14}{'2 processes':>14}",
        f"{'held':<16}{one['connections']['held']:>14}{two['connections']['held']:>14}",
        f"{'ops/s':<16}{one['ops_per_s']:>14}{two['ops_per_s']:>14}",
    ]
    for name in one["operations"]:
        a, b = one["operations"][name], two["operations"].get(name, {})
        if a.get("p99_ms") is not None:
            lines.append(f"{name + ' p99 ms':<16}{a['p99_ms']:>14}{b.get('p99_ms')!s:>14}")
    for name in one["deliveries"]:
        a, b = one["deliveries"][name], two["deliveries"].get(name, {})
        lines.append(f"{name + ' p99':<16}{a['p99_ms']!s:>14}{b.get('p99_ms')!s:>14}")
    errors_one, errors_two = sum(one["errors"].values()), sum(two["errors"].values())
    lines.append(f"{'errors':<16}{errors_one:>14}{errors_two:>14}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-dsn", required=True, help="a PostgreSQL server both processes share")
    parser.add_argument("--redis-url", required=True, help="the Redis both processes share")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--mix", help="operation weights, as for `viora load`")
    parser.add_argument("--follows", type=int, default=20)
    parser.add_argument("--prefix", default="lp")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    plan = plan_from_args(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    ensure_database(args.pg_dsn)
    one = run_phase(args, 1, plan)
    two = run_phase(args, 2, plan)
    print(comparison(one, two))
    out = RESULTS / f"load-processes-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"command": sys.argv, "one": one, "two": two}, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
