"""The media subtree and what the rest of the server uses of it.

::

    media                 one_for_one
      worker:0..N-1       MediaActors (mailbox of 1: the dispatcher only feeds idle ones); each
                          decodes in a child process of its own per job
      dispatcher          claims durable jobs, feeds the workers, pushes progress
      janitor             deletes abandoned uploads and the files of removed media

The dispatcher starts last, so every worker it feeds is running; it stops first, so no job is
handed to a worker that is shutting down.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from actors.actor import actor_spec
from actors.media.actor import MediaActor
from actors.media.dispatcher import Dispatcher, Push
from actors.media.intake import Intake
from actors.media.isolation import Isolation
from actors.media.janitor import MediaJanitor
from actors.media.results import MediaLimits
from kernel.config import Settings
from stores.blobs import MediaBlobs
from stores.media import MediaStore
from supervisor import ChildSpec, Strategy, Supervisor

FILES_URL_PREFIX = "/media/files"

RESTART_INTENSITY = (10, 60.0)
"""A worker may crash this often (restarts, seconds) before the subtree gives up and escalates."""


class MediaService:
    def __init__(
        self,
        settings: Settings,
        store: MediaStore,
        push: Push,
        on_ready: Callable[[int], object] = lambda media_id: None,
    ) -> None:
        self.store = store
        self.blobs = MediaBlobs.local(settings.media_root, FILES_URL_PREFIX)
        # One limiter for all decoding: jobs and upload probes share the cores, and the event loop
        # keeps its share because no more decoder processes run than there are workers.
        isolation = Isolation(trio.CapacityLimiter(settings.media_workers), settings.media_job_memory_bytes)
        limits = MediaLimits.from_settings(settings)
        scratch = settings.media_root / "scratch"
        timeout_s = settings.media_job_timeout_s
        specs: list[ChildSpec] = []
        refs = []
        for i in range(settings.media_workers):
            spec, ref = actor_spec(
                f"worker:{i}",
                lambda: MediaActor(self.blobs, limits, isolation, scratch, timeout_s),
                capacity=1,
            )
            specs.append(spec)
            refs.append(ref)
        self.dispatcher = Dispatcher(store, refs, settings, push, on_ready)
        specs.append(ChildSpec("dispatcher", self.dispatcher.run, shutdown_s=settings.shutdown_drain_s))
        self.intake = Intake(settings, store, self.blobs, isolation, self.dispatcher.wake)
        self.janitor = MediaJanitor(settings, store, self.intake, self.blobs)
        specs.append(ChildSpec("janitor", self.janitor.run))
        intensity, period_s = RESTART_INTENSITY
        self.supervisor = Supervisor(
            "media", specs, strategy=Strategy.ONE_FOR_ONE, intensity=intensity, period_s=period_s
        )
        self._drain_s = settings.shutdown_drain_s

    def child_spec(self) -> ChildSpec:
        return self.supervisor.child_spec(shutdown_s=self._drain_s)
