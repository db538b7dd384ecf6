"""The ``viora load`` command: seed the users, pick the target, run the plan, print the summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import trio

from kernel.config import Settings
from viora.load.mix import parse_mix
from viora.load.progress import Progress, render_summary
from viora.load.runner import InProcessTarget, LoadPlan, SocketTarget, Target, run_load
from viora.load.seed import embedded_dsn, seed_population

IN_PROCESS_DATA_DIR = Path("viora-data-load")
"""The in-process mode's own embedded database: never the data dir of a server that may be running."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        action="append",
        help="websocket URL of a server; repeat for several processes (default: from VIORA_HOST/PORT)",
    )
    parser.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    parser.add_argument("--rate", type=float, default=200.0, help="operations per second, all users together")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured load (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring (default 5)")
    parser.add_argument(
        "--mix", help="weights, e.g. timeline=40,like=20,post=10,comment=8,dm=10,typing=8,search=4"
    )
    parser.add_argument("--follows", type=int, default=20, help="accounts each user follows (default 20)")
    parser.add_argument("--prefix", default="load", help="username prefix of the seeded users")
    parser.add_argument("--seed", type=int, default=1, help="random seed (follow graph, operation choices)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help=f"no sockets: run the server's actors in this process (own data dir {IN_PROCESS_DATA_DIR}/ "
        "unless VIORA_PG_DSN is set) and drive session actors through memory pipes",
    )
    parser.add_argument(
        "--pg-dsn", help="the server's database, to seed users (default: VIORA_PG_DSN or the embedded one)"
    )
    parser.add_argument("--admin-token", help="to read the servers' loop lag (default: as for `viora tree`)")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON to this file")


def plan_from_args(args: argparse.Namespace) -> LoadPlan:
    """The plan that ``--users``, ``--rate``, ``--duration``, ``--warmup``, ``--mix`` and ``--seed`` name."""
    return LoadPlan(
        users=args.users,
        rate=args.rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        mix=parse_mix(args.mix),
        seed=args.seed,
    )


def run_command(settings: Settings, args: argparse.Namespace, admin_token: str | None) -> int:
    plan = plan_from_args(args)
    progress = Progress()
    if args.in_process:
        summary = trio.run(_in_process, settings, plan, args, progress)
    else:
        try:
            dsn = args.pg_dsn or settings.pg_dsn or embedded_dsn(settings.data_dir)
        except RuntimeError as exc:
            print(f"viora load: {exc}: start the server first, or pass --pg-dsn", file=sys.stderr)
            return 2
        tokens = _seed(dsn, args, progress)
        ws_url = settings.server_url.replace("http", "ws", 1) + "/ws"
        target = SocketTarget(args.url or [ws_url], args.admin_token or admin_token)
        summary = trio.run(run_load, plan, target, tokens, progress)
    print(render_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["connections"]["held"] else 1


async def _in_process(
    settings: Settings, plan: LoadPlan, args: argparse.Namespace, progress: Progress
) -> dict[str, Any]:
    from viora.runtime import open_runtime  # the ML stack loads only when it is needed
    from viora.server import tune_gc

    if settings.pg_dsn is None:
        settings = settings.with_(data_dir=IN_PROCESS_DATA_DIR)
    progress.note(f"starting the runtime in process ({settings.pg_dsn or settings.data_dir})")
    async with open_runtime(settings) as runtime:
        tune_gc()  # as `viora serve` does, or the figures would include stalls the server avoids
        tokens = await trio.to_thread.run_sync(_seed, runtime.stores.dsn, args, progress)
        target: Target = InProcessTarget(runtime)
        return await run_load(plan, target, tokens, progress)


def _seed(dsn: str, args: argparse.Namespace, progress: Progress) -> dict[int, str]:
    progress.note(f"seeding {args.users} users, each following {args.follows}")
    tokens = seed_population(dsn, args.prefix, args.users, args.follows, args.seed)
    if not tokens:
        sys.exit("no users to run")
    return tokens
