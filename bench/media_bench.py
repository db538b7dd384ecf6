"""Media pipeline benchmark: thumbnail throughput, transcode speed, event-loop lag under load.

    python -m bench.media_bench [--photos 8] [--clip-s 10] [--jobs 12]

1. thumbnails: a 12-megapixel JPEG (scikit-image's astronaut upscaled to 4000x3000) through the image
   pipeline (decode, orientation, three WebP thumbnails, placeholder): photos per second on one
   thread, and with one thread per core;
2. transcode: a 10 s 1280x720 30 fps H.264+AAC clip through the video pipeline (720p H.264/AAC,
   poster, thumbnails, frame samples): seconds of video per second of work (x real time);
3. loop lag: a whole server (embedded PostgreSQL, the media pool) takes ``--jobs`` uploads over
   HTTP, a mix of the photo and the clip, and the LoopLagProbe's peak while the pool is saturated
   is read from ``runtime.probe`` (also served at /admin/stats). Target: under 20 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import trio
from PIL import Image
from skimage import data

from actors.media.results import MediaLimits
from actors.media.stills import process_image
from actors.media.video import process_video
from kernel.config import Settings
from viora.server import serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from media_client import bearer, call
from media_samples import video_mp4


def twelve_megapixel_jpeg(path: Path) -> Path:
    image = Image.fromarray(data.astronaut()).resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


def run_photo(photo: Path, limits: MediaLimits, scratch: Path, i: int) -> None:
    out = scratch / f"p{i}"
    out.mkdir()
    process_image(photo, out, limits, lambda _f: None)


def bench_thumbnails(photo: Path, limits: MediaLimits, scratch: Path, count: int, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(partial(run_photo, photo, limits, scratch), range(count)))
    return count / (time.perf_counter() - start)


def bench_transcode(clip: Path, limits: MediaLimits, scratch: Path, seconds: float) -> float:
    out = scratch / "clip-out"
    out.mkdir()
    start = time.perf_counter()
    process_video(clip, out, limits, lambda _f: None)
    return seconds / (time.perf_counter() - start)


async def bench_loop_lag(photo: Path, clip: Path, jobs: int, data_dir: Path) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir, port=0, admin_token="bench")
    async with trio.open_nursery() as nursery:
        runtime = await nursery.start(partial(serve, settings, handle_signals=False))
        signed = await runtime.services.accounts.register("bench", "correct horse battery", None)
        auth = bearer(signed.token)
        bodies = [(clip if i % 3 == 2 else photo).read_bytes() for i in range(jobs)]
        runtime.probe.reset_peak()
        start = trio.current_time()
        ids = []
        for body in bodies:
            reply = await trio.to_thread.run_sync(
                partial(call, runtime.http_url, "POST", "/media", body, **auth)
            )
            ids.append(reply.json()["media_id"])
        while True:  # the benchmark watches from outside the pipeline, as an operator would
            states = [(await runtime.media.store.get_media(i)).state for i in ids]
            if all(s in ("ready", "failed") for s in states):
                break
            await trio.sleep(0.25)
        elapsed = trio.current_time() - start
        figures = runtime.probe.figures()["loop_lag_ms"]
        nursery.cancel_scope.cancel()
    return {
        "jobs": jobs,
        "states": sorted(set(states)),
        "elapsed_s": round(elapsed, 2),
        "loop_lag_ms": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--clip-s", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=12)
    args = parser.parse_args()
    settings = Settings()
    limits = MediaLimits.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="viora-media-bench-") as tmp:
        scratch = Path(tmp)
        photo = twelve_megapixel_jpeg(scratch / "photo.jpg")
        clip = video_mp4(scratch / "clip.mp4", seconds=args.clip_s, size=(1280, 720), preset="veryfast")
        results: dict[str, Any] = {"cores": settings.media_workers, "photo_bytes": photo.stat().st_size}
        (scratch / "t1").mkdir()
        results["thumbnails_per_s_1_thread"] = round(
            bench_thumbnails(photo, limits, scratch / "t1", args.photos, 1), 2
        )
        (scratch / "tn").mkdir()
        results[f"thumbnails_per_s_{settings.media_workers}_threads"] = round(
            bench_thumbnails(photo, limits, scratch / "tn", args.photos, settings.media_workers), 2
        )
        results["transcode_x_realtime_720p"] = round(bench_transcode(clip, limits, scratch, args.clip_s), 2)
        results["server"] = trio.run(bench_loop_lag, photo, clip, args.jobs, scratch / "server")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
