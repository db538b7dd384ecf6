"""Prometheus metrics, read from the live server at scrape time.

Nothing here is updated on the hot path: the figures already exist for the operators' tree
(``Supervisor.inspect()``), the loop-lag probe and the socket registry, so a custom collector reads
one snapshot of them per scrape. That keeps the cost of metrics at zero between scrapes and makes
``/metrics`` and ``/admin/tree`` agree by construction.

Names follow Prometheus conventions: base units (seconds), ``_total`` on counters. Per-actor series
carry ``path`` and ``kind`` labels; session actors are ``/viora/sessions/user:<id>``, so their series
come and go with the users online (a scrape of 10,000 online users is about 50,000 series).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from edges.context import EdgeRuntime

ACTOR_LABELS = ["path", "kind"]
QUANTILES = {"p50": "0.5", "p99": "0.99"}


def walk(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of an ``inspect()`` tree, parents before their children."""
    yield node
    for child in node.get("children", ()):
        yield from walk(child)


def batch_size_buckets(histogram: Mapping[str, int], max_batch: int) -> list[tuple[str, float]]:
    """Cumulative Prometheus buckets (powers of two up to ``max_batch``, then ``+Inf``) from the
    embedder's exact-size counts, so that batching can be read as a histogram without the embedder
    keeping a second set of counters."""
    bounds: list[int] = []
    bound = 1
    while bound < max_batch:
        bounds.append(bound)
        bound *= 2
    bounds.append(max_batch)
    sizes = {int(size): n for size, n in histogram.items()}
    buckets = [(str(b), float(sum(n for size, n in sizes.items() if size <= b))) for b in bounds]
    buckets.append(("+Inf", float(sum(sizes.values()))))
    return buckets


class RuntimeCollector(Collector):
    """Turns one snapshot of the runtime's live figures into metric families."""

    def __init__(self, runtime: EdgeRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        sockets = runtime.services.sockets
        yield GaugeMetricFamily("viora_connections_open", "Open client websockets.", value=len(sockets))
        frames_in, frames_out = sockets.frame_totals()
        yield CounterMetricFamily(
            "viora_messages_in", "Websocket frames received from clients.", value=frames_in
        )
        yield CounterMetricFamily("viora_messages_out", "Websocket frames sent to clients.", value=frames_out)
        yield from self._loop_lag(runtime.probe.figures()["loop_lag_ms"])
        yield from self._tree(runtime.root.inspect())

    @staticmethod
    def _loop_lag(lag_ms: Mapping[str, float]) -> Iterator[Metric]:
        for stat, help_text in (
            ("last", "Event-loop lag of the latest probe sample."),
            ("p99", "99th percentile of event-loop lag over the probe's window (about a minute)."),
            ("peak", "Highest event-loop lag since start or the last peak reset."),
        ):
            name = (
                "viora_event_loop_lag_seconds" if stat == "last" else f"viora_event_loop_lag_{stat}_seconds"
            )
            yield GaugeMetricFamily(name, help_text, value=lag_ms[stat] / 1000)

    def _tree(self, tree: Mapping[str, Any]) -> Iterator[Metric]:
        restarts = CounterMetricFamily(
            "viora_actor_restarts", "Restarts of a supervised child.", labels=ACTOR_LABELS
        )
        depth = GaugeMetricFamily(
            "viora_actor_mailbox_depth", "Messages queued in a mailbox.", labels=ACTOR_LABELS
        )
        capacity = GaugeMetricFamily("viora_actor_mailbox_capacity", "Mailbox bound.", labels=ACTOR_LABELS)
        waiting = GaugeMetricFamily(
            "viora_actor_mailbox_waiting_senders", "Senders blocked on a full mailbox.", labels=ACTOR_LABELS
        )
        handled = CounterMetricFamily(
            "viora_actor_messages_handled", "Messages handled.", labels=ACTOR_LABELS
        )
        dropped = CounterMetricFamily(
            "viora_actor_messages_dropped",
            "Messages dropped on a full mailbox (try_tell).",
            labels=ACTOR_LABELS,
        )
        media_jobs = CounterMetricFamily(
            "viora_media_jobs", "Media job events seen by the dispatcher, by outcome.", labels=["outcome"]
        )
        backlog = GaugeMetricFamily("viora_indexer_backlog", "Media and posts waiting to be indexed.")
        embedder: list[Metric] = []
        for node in walk(tree):
            labels = [node["path"], node["kind"]]
            if "restarts" in node:
                restarts.add_metric(labels, node["restarts"])
            if (mailbox := node.get("mailbox")) is not None:
                depth.add_metric(labels, mailbox["depth"])
                capacity.add_metric(labels, mailbox["capacity"])
                waiting.add_metric(labels, mailbox["waiting_senders"])
                handled.add_metric(labels, node["processed"])
                dropped.add_metric(labels, node["dropped"])
                if node.get("name") == "indexer":
                    backlog.add_metric([], mailbox["depth"])
            if (jobs := node.get("jobs")) is not None:
                for outcome, count in jobs.items():
                    media_jobs.add_metric([outcome], count)
            if "batch_size" in node:
                embedder.extend(self._embedder(node))
        yield from (restarts, depth, capacity, waiting, handled, dropped, media_jobs, backlog, *embedder)

    @staticmethod
    def _embedder(node: Mapping[str, Any]) -> Iterator[Metric]:
        """The batching embedder: is batching real (sizes), and where a request's time goes."""
        path = [node["path"]]
        queue = GaugeMetricFamily("viora_embedder_queue_depth", "Embedding requests queued.", labels=["path"])
        queue.add_metric(path, node["queue"]["depth"])
        yield queue
        capacity = GaugeMetricFamily(
            "viora_embedder_queue_capacity", "Embedder queue bound.", labels=["path"]
        )
        capacity.add_metric(path, node["queue"]["capacity"])
        yield capacity
        rejected = CounterMetricFamily(
            "viora_embedder_busy_rejections", "Requests refused with busy on a full queue.", labels=["path"]
        )
        rejected.add_metric(path, node["busy_rejections"])
        yield rejected
        sizes = HistogramMetricFamily(
            "viora_embedder_batch_size", "Requests per inference batch.", labels=["path"]
        )
        sizes.add_metric(
            path,
            batch_size_buckets(node["batch_size"]["histogram"], node["max_batch"]),
            sum_value=sum(int(size) * n for size, n in node["batch_size"]["histogram"].items()),
        )
        yield sizes
        for key, name, help_text in (
            ("queue_wait_ms", "viora_embedder_queue_wait_seconds", "From arrival to the start of inference."),
            ("inference_ms", "viora_embedder_inference_seconds", "One forward pass in the worker thread."),
        ):
            family = GaugeMetricFamily(
                name, f"{help_text} Quantiles over recent requests.", labels=["path", "quantile"]
            )
            for stat, quantile in QUANTILES.items():
                if (value := node[key][stat]) is not None:
                    family.add_metric([node["path"], quantile], value / 1000)
            yield family


class RuntimeMetrics:
    """A dedicated registry (not the process-global default) holding only the runtime's collector:
    tests may run several servers in one process, and each must export its own figures."""

    def __init__(self, runtime: EdgeRuntime) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(RuntimeCollector(runtime))

    def render(self) -> bytes:
        """The Prometheus text exposition format."""
        return generate_latest(self.registry)
