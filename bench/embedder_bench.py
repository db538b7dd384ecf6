"""Embedder benchmark: is the actor's batching real, and what does it buy on this machine?

    HF_HUB_OFFLINE=1 python -m bench.embedder_bench [--models viora-tiny ViT-B-32] [--seconds 6]

For each model (random init: the real architecture and compute, no semantic quality) and each
kind (images: scikit-image photographs at 256x256, preprocessed by the model; texts: captions):

1. the model alone, in this thread: inputs per second at batch 1 and at batch 32 (preparation and
   one forward pass) — the ceiling the actor is judged against;
2. the actor under ``--callers`` concurrent closed-loop callers for ``--seconds``, with max batch
   32 and max batch 1: inputs per second, request latency p50 / p99, mean batch size, and the
   event-loop lag (a LoopLagProbe every 5 ms in this Trio loop) while inference runs.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import trio
from PIL import Image
from skimage import data

from actors.embedder import EmbedderService, Kind
from bench.common import ms, quantile
from kernel.config import Settings
from kernel.probe import LoopLagProbe
from ml.clip import ClipModel, ClipSource, load_clip
from ml.tiny import TINY_MODEL
from supervisor import ChildSpec, Supervisor

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")
CAPTIONS = (
    "a cat on a chair",
    "a cup of coffee",
    "a rocket on its launch pad",
    "an astronaut",
    "a motorbike",
)
PROBE_INTERVAL_S = 0.005


def sample_inputs(kind: Kind, n: int) -> list[Any]:
    if kind is Kind.TEXT:
        return [f"{CAPTIONS[i % len(CAPTIONS)]}, take {i}" for i in range(n)]
    photos = [Image.fromarray(getattr(data, name)()).convert("RGB").resize((256, 256)) for name in PHOTOS]
    return [photos[i % len(photos)] for i in range(n)]


def model_rate(model: ClipModel, kind: Kind, batch: int, seconds: float) -> float:
    """Inputs per second of the model alone at ``batch`` (after one warm-up pass)."""
    embed: Callable[[list[Any]], Any] = model.embed_images if kind is Kind.IMAGE else model.embed_texts
    inputs = sample_inputs(kind, batch)
    embed(inputs)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        embed(inputs)
        done += batch
    return done / (time.perf_counter() - started)


@dataclass
class ActorRun:
    model: str
    kind: str
    max_batch: int
    per_s: float
    p50_ms: float | None
    p99_ms: float | None
    mean_batch: float
    loop_lag_p99_ms: float | None
    loop_lag_peak_ms: float | None


async def actor_rate(model: ClipModel, kind: Kind, max_batch: int, callers: int, seconds: float) -> ActorRun:
    settings = Settings(embedder_max_batch=max_batch, embedder_queue=max(256, callers))
    service = EmbedderService(settings, load=lambda: model)
    probe = LoopLagProbe(PROBE_INTERVAL_S)
    supervisor = Supervisor("bench", [ChildSpec("loop-probe", probe.run), service.child_spec()])
    inputs = sample_inputs(kind, callers)
    embed = service.client.embed_image if kind is Kind.IMAGE else service.client.embed_text
    latencies: list[float] = []

    async def caller(i: int, deadline: float) -> None:
        while trio.current_time() < deadline:
            started = trio.current_time()
            await embed(inputs[i], timeout=120)
            latencies.append(trio.current_time() - started)

    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        async with trio.open_nursery() as warm:  # one batch, so no first-call cost is measured
            for i in range(min(callers, max_batch)):
                warm.start_soon(embed, inputs[i])
        batches, items = service.metrics.batches, service.metrics.items_embedded
        probe.samples.clear()
        probe.reset_peak()
        started = trio.current_time()
        async with trio.open_nursery() as load:
            for i in range(callers):
                load.start_soon(caller, i, started + seconds)
        elapsed = trio.current_time() - started
        lags = sorted(probe.samples)
        await supervisor.shutdown()
    latencies.sort()
    return ActorRun(
        model=model.name,
        kind=str(kind),
        max_batch=max_batch,
        per_s=round(len(latencies) / elapsed, 1),
        p50_ms=ms(quantile(latencies, 0.5)),
        p99_ms=ms(quantile(latencies, 0.99)),
        mean_batch=round((service.metrics.items_embedded - items) / (service.metrics.batches - batches), 1),
        loop_lag_p99_ms=ms(quantile(lags, 0.99)),
        loop_lag_peak_ms=ms(probe.peak_s),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=[TINY_MODEL, "ViT-B-32"])
    parser.add_argument("--kinds", nargs="+", default=[str(k) for k in Kind], choices=[str(k) for k in Kind])
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=6.0, help="per actor run")
    parser.add_argument("--model-seconds", type=float, default=3.0, help="per model-alone measurement")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    report: list[dict[str, Any]] = []
    for name in args.models:
        model = load_clip(ClipSource(name))
        print(f"# {name}: dim {model.dim}, {model.device}, {model.quality}", flush=True)
        for kind in map(Kind, args.kinds):
            alone = {b: round(model_rate(model, kind, b, args.model_seconds), 1) for b in (1, 32)}
            runs = [trio.run(actor_rate, model, kind, b, args.callers, args.seconds) for b in (32, 1)]
            batched, single = runs
            entry = {
                "model": name,
                "kind": str(kind),
                "model_alone_per_s": alone,
                "actor": [asdict(r) for r in runs],
                "batched_over_batch1": round(batched.per_s / single.per_s, 2),
                "actor_over_model_batch32": round(batched.per_s / alone[32], 3),
            }
            report.append(entry)
            print(json.dumps(entry), flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
