"""The batching embedder actor, with the tiny model: real batching, max wait, busy, cancellation,
per-input failures, crash and restart, and the default model's 512-d unit vectors."""

from __future__ import annotations

import math
import threading
from functools import partial
from typing import Any

import numpy as np
import pytest
import torch
import trio
import trio.testing
from media_samples import photo_jpeg
from PIL import Image
from skimage import data

from actors.embedder import EmbedderClient, EmbedderService
from edges.ws.errors import answer
from kernel.config import Settings
from kernel.errors import Busy, Fault, Invalid, TimedOut
from ml.clip import RANDOM_INIT_QUALITY, ClipModel, ClipSource, load_clip
from ml.tiny import TINY_MODEL
from protocol.errors import ErrorCode
from supervisor import Supervisor


@pytest.fixture(scope="module")
def tiny() -> ClipModel:
    return load_clip(ClipSource(TINY_MODEL))


class Gate:
    """Holds a forward pass in its worker thread until the test releases it."""

    def __init__(self) -> None:
        self.entered = trio.Event()
        self._release = threading.Event()

    def hold(self) -> None:
        trio.from_thread.run_sync(self.entered.set)
        self._release.wait(timeout=10)  # a guard against a hung test, not a synchronisation

    def release(self) -> None:
        self._release.set()


class Recording:
    """The tiny model, instrumented: records what reaches it, can hold a pass or fail on 'boom'."""

    def __init__(self, inner: ClipModel, gate: Gate | None = None) -> None:
        self.inner = inner
        self.name, self.quality, self.dim, self.device = inner.name, inner.quality, inner.dim, inner.device
        self.gate = gate
        self.texts: list[str] = []
        self.passes: list[int] = []
        """Batch size of every forward pass."""

    def prepare_image(self, image: Any) -> torch.Tensor:
        return self.inner.prepare_image(image)

    def prepare_text(self, text: str) -> torch.Tensor:
        tensor = self.inner.prepare_text(text)
        self.texts.append(text)
        return tensor

    def encode_images(self, batch: torch.Tensor) -> np.ndarray:
        self.passes.append(len(batch))
        return self.inner.encode_images(batch)

    def encode_texts(self, batch: torch.Tensor) -> np.ndarray:
        self.passes.append(len(batch))
        if self.gate is not None:
            self.gate.hold()
        if "boom" in self.texts:
            self.texts.clear()
            raise RuntimeError("the model broke")
        return self.inner.encode_texts(batch)


async def start(
    nursery: trio.Nursery, model: Any, **settings: Any
) -> tuple[EmbedderService, EmbedderClient, Supervisor]:
    loads: list[Any] = []

    def load() -> Any:
        loads.append(model)
        return model

    service = EmbedderService(Settings(**settings), load=load)
    supervisor = Supervisor("root", [service.child_spec()])
    await nursery.start(supervisor.run)
    return service, service.client, supervisor


def photos(n: int) -> list[Image.Image]:
    """``n`` different real images: the astronaut photo turned a little more each time."""
    base = Image.fromarray(data.astronaut()).resize((96, 96))
    return [base.rotate(7 * i) for i in range(n)]


async def test_64_concurrent_requests_are_served_in_a_few_batches(
    nursery: trio.Nursery, tiny: ClipModel
) -> None:
    model = Recording(tiny)
    service, client, supervisor = await start(nursery, model, embedder_max_batch=32)
    images, texts = photos(32), [f"caption number {i}" for i in range(32)]
    answers: dict[tuple[str, int], np.ndarray] = {}

    async def ask_image(i: int) -> None:
        answers["image", i] = await client.embed_image(images[i])

    async def ask_text(i: int) -> None:
        answers["text", i] = await client.embed_text(texts[i])

    async with trio.open_nursery() as callers:
        for i in range(32):
            callers.start_soon(ask_image, i)
            callers.start_soon(ask_text, i)

    assert service.metrics.batches <= 4
    assert len(model.passes) <= 8 and sum(model.passes) == 64  # one pass per kind per batch
    # Each caller got its own input's vector, as the model embeds it alone.
    expected_images, expected_texts = tiny.embed_images(images), tiny.embed_texts(texts)
    for i in range(32):
        np.testing.assert_allclose(answers["image", i], expected_images[i], atol=1e-4)
        np.testing.assert_allclose(answers["text", i], expected_texts[i], atol=1e-4)
    node = supervisor.inspect()["children"][0]
    assert node["items_embedded"] == 64
    assert node["batches"] == service.metrics.batches
    assert node["model"]["dim"] == tiny.dim
    assert node["queue_wait_ms"]["p99"] is not None and node["inference_ms"]["p50"] is not None


async def test_a_lone_request_is_flushed_after_max_wait(
    nursery: trio.Nursery, tiny: ClipModel, autojump_clock: trio.abc.Clock
) -> None:
    service, client, _ = await start(nursery, Recording(tiny), embedder_max_wait_ms=250)
    before = trio.current_time()
    vector = await client.embed_text("alone", timeout=math.inf)  # no caller deadline to jump to
    assert trio.current_time() - before == pytest.approx(0.250)  # waited max_wait, then ran
    assert vector.shape == (tiny.dim,)
    assert service.metrics.figures()["queue_wait_ms"]["p50"] == pytest.approx(250, abs=0.01)


async def test_a_full_queue_answers_busy_at_once(nursery: trio.Nursery, tiny: ClipModel) -> None:
    gate = Gate()
    service, client, _ = await start(nursery, Recording(tiny, gate), embedder_queue=2, embedder_max_batch=1)
    async with trio.open_nursery() as callers:
        callers.start_soon(client.embed_text, "in the model")
        await gate.entered.wait()
        callers.start_soon(client.embed_text, "queued 1")
        callers.start_soon(client.embed_text, "queued 2")
        await trio.testing.wait_all_tasks_blocked()
        assert service.queue.depth == 2
        with pytest.raises(Busy) as busy:
            await client.embed_text("one too many")
        assert answer(busy.value)[0] is ErrorCode.BUSY
        gate.release()
    assert service.figures()["busy_rejections"] == 1
    assert service.metrics.items_embedded == 3


async def test_an_interactive_request_goes_before_queued_background_work(
    nursery: trio.Nursery, tiny: ClipModel
) -> None:
    gate = Gate()
    model = Recording(tiny, gate)
    _, client, _ = await start(nursery, model, embedder_max_batch=1)
    async with trio.open_nursery() as callers:
        callers.start_soon(client.embed_text, "in the model")
        await gate.entered.wait()
        for n in range(3):
            callers.start_soon(client.embed_text, f"index post {n}")
        await trio.testing.wait_all_tasks_blocked()
        callers.start_soon(partial(client.embed_text, "sunset at the beach", interactive=True))
        await trio.testing.wait_all_tasks_blocked()
        gate.release()
    assert model.texts[:2] == ["in the model", "sunset at the beach"], "the search jumped the queue"
    assert sorted(model.texts[2:]) == ["index post 0", "index post 1", "index post 2"]


async def test_a_batch_started_by_an_interactive_request_is_not_filled_with_background_work(
    nursery: trio.Nursery, tiny: ClipModel
) -> None:
    gate = Gate()
    model = Recording(tiny, gate)
    _, client, _ = await start(nursery, model, embedder_max_batch=8)
    async with trio.open_nursery() as callers:
        callers.start_soon(client.embed_text, "in the model")
        await gate.entered.wait()
        callers.start_soon(client.embed_texts, [f"caption {n}" for n in range(5)])
        callers.start_soon(partial(client.embed_text, "a query", interactive=True))
        await trio.testing.wait_all_tasks_blocked()
        gate.release()
    assert model.passes == [1, 1, 5], "the query alone, then the captions together"


async def test_a_cancelled_or_timed_out_request_never_reaches_the_model(
    nursery: trio.Nursery, tiny: ClipModel
) -> None:
    gate = Gate()
    model = Recording(tiny, gate)
    service, client, _ = await start(nursery, model, embedder_max_batch=1)
    async with trio.open_nursery() as callers:
        callers.start_soon(client.embed_text, "first")
        await gate.entered.wait()
        async with trio.open_nursery() as impatient:
            impatient.start_soon(client.embed_text, "cancelled")
            await trio.testing.wait_all_tasks_blocked()
            assert service.queue.depth == 1
            impatient.cancel_scope.cancel()
        with pytest.raises(TimedOut):
            await client.embed_text("timed out", timeout=0.01)
        gate.release()
    assert await client.embed_text("last") is not None
    assert "cancelled" not in model.texts and "timed out" not in model.texts
    assert service.metrics.dropped_cancelled == 2


async def test_a_failing_input_fails_alone(nursery: trio.Nursery, tiny: ClipModel) -> None:
    service, client, _ = await start(nursery, Recording(tiny))
    inputs: list[Any] = [photo_jpeg("coffee", size=(80, 60)), b"not an image", photos(1)[0], "a caption"]
    outcomes: dict[int, Any] = {}

    async def ask(i: int) -> None:
        try:
            outcomes[i] = await client.embed_image(inputs[i])
        except Invalid as exc:
            outcomes[i] = exc

    async with trio.open_nursery() as callers:
        for i in range(len(inputs)):
            callers.start_soon(ask, i)

    assert service.metrics.batches == 1
    assert isinstance(outcomes[1], Invalid) and answer(outcomes[1])[0] is ErrorCode.BAD_REQUEST
    assert isinstance(outcomes[3], Invalid)  # text where an image was asked for
    for i in (0, 2):
        assert outcomes[i].shape == (tiny.dim,)
    assert service.metrics.failed_inputs == 2 and service.metrics.items_embedded == 2


async def test_a_model_crash_fails_its_batch_and_the_actor_restarts(
    nursery: trio.Nursery, tiny: ClipModel
) -> None:
    model = Recording(tiny)
    _, client, supervisor = await start(nursery, model)
    failures: list[Exception] = []

    async def ask(text: str) -> None:
        with pytest.raises(Fault) as crashed:
            await client.embed_text(text)
        failures.append(crashed.value)

    async with trio.open_nursery() as callers:
        callers.start_soon(ask, "boom")
        callers.start_soon(ask, "batch-mate")
    assert len(failures) == 2 and failures[0] is not failures[1]

    vector = await client.embed_text("after the restart")
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    node = supervisor.inspect()["children"][0]
    assert node["restarts"] == 1 and "the model broke" in node["last_error"]
    assert node["crashed_requests"] == 2


async def test_the_default_configuration_gives_512_d_unit_vectors(nursery: trio.Nursery) -> None:
    service = EmbedderService(Settings())  # ViT-B-32, random init: loads without a download
    supervisor = Supervisor("root", [service.child_spec()])
    await nursery.start(supervisor.run)
    image = await service.client.embed_image(photo_jpeg("rocket"))
    texts = await service.client.embed_texts(["a rocket", "a cat"])
    for vector in (image, *texts):
        assert vector.shape == (512,) and vector.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert supervisor.inspect()["children"][0]["model"]["quality"] == RANDOM_INIT_QUALITY
