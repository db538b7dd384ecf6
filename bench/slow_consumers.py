"""Slow consumers: 1,000 followers that stop reading under a flood of large posts (issue 17).

    python -m bench.slow_consumers                        # defaults: 1,000 silent, 10 readers, 500 x 20 kB
    python -m bench.slow_consumers --silent 200 --posts 200

A fresh ``viora serve`` (embedded defaults, tiny CLIP, the sender's rate limit raised) gets one author
followed by ``--silent`` followers that sign in, subscribe to ``home`` and then never read again
(their sockets keep a 4 KiB receive buffer, so the server's writes block as on a stalled phone), and
by ``--readers`` followers that read everything. The author posts ``--posts`` posts of ``--post-kb``
kB of text (4-byte characters, the largest a post may be) as fast as the server acknowledges them.

Printed: the server's RSS before the flood, its peak during it and after (sampled every 100 ms from
``/proc``), how many silent sockets the server shed (``heartbeats.shed_slow`` in ``/admin/tree``) and
when — from the flood's start until the last one was shed, against the time at which their outbox
budgets could first have run out — and whether every reader got every post, with p50/p99 latency
from acknowledgement to receipt. The bound to expect: RSS grows by at most the process's shared
outbox budget (``VIORA_OUTBOX_TOTAL_MAX_BYTES``, 256 MiB by default) plus the posts themselves.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import trio
import wsproto
import wsproto.events as ws_events
from trio_websocket import open_websocket_url

from bench.common import ms, quantile
from bench.fanout_seed import embedded_dsn, seed
from bench.ws_server import ServerHandle, spawned_server
from bench.ws_worker import Socket
from protocol.codec import decode_server_frame, encode_request

RESULTS = Path(__file__).resolve().parent / "results"
RECEIVE_BUFFER = 4096
SAMPLE_S = 0.1


@dataclass
class Flood:
    acked: dict[int, float] = field(default_factory=dict)
    """post id -> when the author's client got the acknowledgement."""
    received: list[dict[int, float]] = field(default_factory=list)
    """per reader: post id -> when it arrived."""
    rss: list[tuple[float, int]] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0


async def silent_follower(host: str, port: int, token: str) -> trio.SocketStream:
    """Sign in, subscribe to ``home``, and return the stream, which nobody reads again."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    await sock.connect((host, port))
    stream = trio.SocketStream(sock)
    ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    await stream.send_all(ws.send(ws_events.Request(host=f"{host}:{port}", target="/ws")))
    pending = [("auth.resume", {"token": token}), ("stream.resume", {"stream": "home"})]
    accepted = False
    waiting_for: int | None = None
    while True:
        if accepted and waiting_for is None:
            if not pending:
                return stream
            type_, body = pending.pop(0)
            waiting_for = len(pending) + 1
            await stream.send_all(ws.send(ws_events.BytesMessage(encode_request(type_, body, waiting_for))))
            continue
        ws.receive_data(await stream.receive_some(65536))
        for event in ws.events():
            if isinstance(event, ws_events.AcceptConnection):
                accepted = True
            elif isinstance(event, ws_events.BytesMessage):
                frame = decode_server_frame(bytes(event.data))
                if frame.kind == "error":
                    raise RuntimeError(f"silent follower: {frame.body}")
                if frame.id == waiting_for:
                    waiting_for = None


async def reader(
    url: str, token: str, received: dict[int, float], expected: int, subscribed: trio.Event, done: trio.Event
) -> None:
    async with open_websocket_url(url, max_message_size=1 << 22) as ws:
        sock = Socket(ws)
        await sock.request("auth.resume", {"token": token})
        await sock.request("stream.resume", {"stream": "home"})
        subscribed.set()
        while len(received) < expected:
            frame = decode_server_frame(await ws.get_message())
            if frame.kind == "push" and frame.type == "post.created":
                received[frame.body["post"]["id"]] = time.monotonic()
    done.set()


async def author(url: str, token: str, posts: int, text: str, flood: Flood) -> None:
    async with open_websocket_url(url) as ws:
        sock = Socket(ws)
        await sock.request("auth.resume", {"token": token})
        flood.started = time.monotonic()
        for _ in range(posts):
            reply = await sock.request("post.create", {"text": text})
            flood.acked[reply["post"]["id"]] = time.monotonic()
        flood.ended = time.monotonic()


async def sample_rss(pid: int, flood: Flood) -> None:
    process = psutil.Process(pid)
    while True:
        flood.rss.append((time.monotonic(), process.memory_info().rss))
        await trio.sleep(SAMPLE_S)


def admin_json(handle: ServerHandle, path: str) -> Any:
    request = urllib.request.Request(
        f"{handle.http_url}{path}", headers={"Authorization": f"Bearer {handle.admin_token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def socket_stats(handle: ServerHandle) -> dict[str, Any]:
    """The ``heartbeats`` child's figures (sockets open, shed, queued bytes) from the live tree."""

    def find(node: dict[str, Any]) -> dict[str, Any] | None:
        if node.get("name") == "heartbeats":
            return node
        for child in node.get("children", []):
            found = find(child)
            if found is not None:
                return found
        return None

    node = find(admin_json(handle, "/admin/tree"))
    assert node is not None, "no heartbeats child in the tree"
    return node


async def run(args: argparse.Namespace, handle: ServerHandle, tokens: dict[str, Any]) -> dict[str, Any]:
    host, port = "127.0.0.1", int(handle.http_url.rsplit(":", 1)[1])
    text = "\U0001f600" * (args.post_kb * 1000 // 4)  # 5,000 characters at most
    flood = Flood(received=[{} for _ in range(args.readers)])
    silent: list[trio.SocketStream] = []
    finished: list[trio.Event] = []
    async with trio.open_nursery() as nursery:
        limiter = trio.CapacityLimiter(50)

        async def connect_silent(token: str) -> None:
            async with limiter:
                silent.append(await silent_follower(host, port, token))

        async with trio.open_nursery() as connecting:
            for token in tokens["silent"]:
                connecting.start_soon(connect_silent, token)
        for n, token in enumerate(tokens["readers"]):
            subscribed, done = trio.Event(), trio.Event()
            finished.append(done)
            nursery.start_soon(reader, handle.ws_url, token, flood.received[n], args.posts, subscribed, done)
            await subscribed.wait()
        before = socket_stats(handle)
        assert handle.pid is not None
        rss_before = psutil.Process(handle.pid).memory_info().rss
        nursery.start_soon(sample_rss, handle.pid, flood)
        await author(handle.ws_url, tokens["author"], args.posts, text, flood)
        with trio.move_on_after(args.drain_s):
            for done in finished:
                await done.wait()
        after = socket_stats(handle)
        nursery.cancel_scope.cancel()
    for stream in silent:
        await stream.aclose()
    latencies = sorted(at - flood.acked[post_id] for r in flood.received for post_id, at in r.items())
    post_bytes = len(text.encode())
    peak = max(rss for _, rss in flood.rss)
    return {
        "silent": args.silent,
        "readers": args.readers,
        "posts": args.posts,
        "post_bytes": post_bytes,
        "flood_s": round(flood.ended - flood.started, 2),
        "posts_per_s": round(args.posts / (flood.ended - flood.started), 1),
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_peak_mib": round(peak / 2**20, 1),
        "rss_after_mib": round(flood.rss[-1][1] / 2**20, 1),
        "shed": after.get("shed_slow", 0) - before.get("shed_slow", 0),
        "sockets_before": before.get("sockets"),
        "sockets_after": after.get("sockets"),
        "queued_mib_after": round(after.get("queued_bytes", 0) / 2**20, 2),
        "readers_complete": sum(len(r) == args.posts for r in flood.received),
        "latency_p50_ms": ms(statistics.median(latencies)) if latencies else None,
        "latency_p99_ms": ms(quantile(latencies, 0.99)) if latencies else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--silent", type=int, default=1000)
    p.add_argument("--readers", type=int, default=10)
    p.add_argument("--posts", type=int, default=500)
    p.add_argument("--post-kb", type=int, default=20, help="post size in kB (at most 20: 5,000 characters)")
    p.add_argument("--drain-s", type=float, default=60.0, help="how long readers may take after the flood")
    args = p.parse_args()
    from ml.tiny import TINY_CONFIG, TINY_MODEL  # here: it imports open_clip (and torch)

    env = {
        "VIORA_RATE_PER_S": "100000",
        "VIORA_RATE_BURST": "100000",
        "VIORA_CLIP_MODEL": TINY_MODEL,
        "VIORA_VECTOR_DIM": str(TINY_CONFIG["embed_dim"]),
    }
    data_dir = RESULTS / "slow-consumers-data"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with spawned_server(data_dir, RESULTS / "slow-consumers-server.log", env=env) as handle:
        seeded = seed(embedded_dsn(data_dir), "slow", args.silent + args.readers, args.silent + args.readers)
        online = [token for _, token in seeded.online]
        tokens = {
            "author": seeded.author_token,
            "silent": online[: args.silent],
            "readers": online[args.silent :],
        }
        figures = trio.run(run, args, handle, tokens)
    figures["env"] = env
    print(json.dumps(figures, indent=2))
    out = RESULTS / f"slow-consumers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
