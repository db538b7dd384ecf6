"""The ``viora`` command: ``viora serve`` runs the server, ``viora tree`` shows its live supervision
tree, ``viora moderators grant|revoke USERNAME`` gives or takes an account's moderation rights,
``viora load`` drives simulated users against it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from kernel.config import Settings
from supervisor import render_tree
from viora.load.command import add_arguments as add_load_arguments
from viora.load.command import run_command as run_load_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="viora", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the server (embedded stores unless VIORA_PG_DSN is set)")
    tree = commands.add_parser("tree", help="print the live supervision tree of a running server")
    _add_server_arguments(tree)
    tree.add_argument("--json", action="store_true", help="print the raw JSON")
    tree.add_argument(
        "--watch", type=float, nargs="?", const=2.0, metavar="SECONDS", help="refresh every N seconds"
    )
    moderators = commands.add_parser("moderators", help="grant or revoke an account's moderation rights")
    moderators.add_argument("action", choices=("grant", "revoke"))
    moderators.add_argument("username", help="an existing account")
    _add_server_arguments(moderators)
    load = commands.add_parser("load", help="drive simulated users against a running server (or in process)")
    add_load_arguments(load)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "tree":
        return show_tree(settings, args)
    if args.command == "moderators":
        return change_moderator(settings, args)
    if args.command == "load":
        return run_load_command(settings, args, settings.admin_token or _read_token_file(settings))
    return run_server(settings)


def run_server(settings: Settings) -> int:
    import trio

    from viora.logging_setup import configure_logging
    from viora.server import serve

    configure_logging(settings.log_format)
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command it runs at INFO
    trio.run(serve, settings)
    return 0


def show_tree(settings: Settings, args: argparse.Namespace) -> int:
    url = (args.url or settings.server_url).rstrip("/") + "/admin/tree"
    token = _admin_token(settings, args)
    if not token:
        return 2
    while True:
        tree = _admin_call(url, token)
        if tree is None:
            return 1
        text = json.dumps(tree, indent=2) if args.json else render_tree(tree)
        if args.watch is None:
            print(text)
            return 0
        print("\033[2J\033[H" + time.strftime("%H:%M:%S ") + url + "\n" + text, flush=True)
        time.sleep(args.watch)


def change_moderator(settings: Settings, args: argparse.Namespace) -> int:
    """Through the running server's admin API (any database, the embedded one included), so the
    right counts at once on every process."""
    url = (args.url or settings.server_url).rstrip("/") + f"/admin/moderators/{args.username}"
    token = _admin_token(settings, args)
    if not token:
        return 2
    answer = _admin_call(url, token, method="PUT" if args.action == "grant" else "DELETE")
    if answer is None:
        return 1
    state = "a moderator" if answer["moderator"] else "not a moderator"
    print(f"{answer['username']} is {state}{'' if answer['changed'] else ' (already so)'}")
    return 0


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="server base URL (default: from VIORA_HOST / VIORA_PORT)")
    parser.add_argument(
        "--token", help="admin token (default: VIORA_ADMIN_TOKEN or the data dir's admin.token)"
    )


def fetch_json(url: str, token: str, method: str = "GET") -> Any:
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return json.load(response)


def _admin_call(url: str, token: str, method: str = "GET") -> Any:
    """The admin API's JSON answer, or None once the failure is told on stderr."""
    try:
        return fetch_json(url, token, method=method)
    except urllib.error.HTTPError as error:
        print(f"{url}: HTTP {error.code} {error.read().decode(errors='replace')}", file=sys.stderr)
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
    return None


def _admin_token(settings: Settings, args: argparse.Namespace) -> str | None:
    """``--token``, else VIORA_ADMIN_TOKEN, else the data dir's token file; None (said why) if none."""
    token = args.token or settings.admin_token or _read_token_file(settings)
    if not token:
        print(
            f"no admin token: set VIORA_ADMIN_TOKEN or pass --token ({settings.admin_token_path} not found)"
        )
    return token


def _read_token_file(settings: Settings) -> str | None:
    try:
        return settings.admin_token_path.read_text().strip()
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
