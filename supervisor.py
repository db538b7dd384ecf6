"""A supervision tree on Trio nurseries, with the semantics of Erlang/OTP's ``supervisor``.

Trio gives structured concurrency (every task lives in a nursery) but no restart strategies and no
live view of the task tree. This module adds both, keeping Trio's rules: a :class:`Supervisor` owns
one nursery; every child runs in a cancel scope inside it; nothing outlives its supervisor.

Vocabulary (as in OTP, so operators can lean on what they know):

* **restart type** of a child — ``permanent`` (always restarted), ``transient`` (restarted only
  after a crash, not after a normal exit), ``temporary`` (never restarted);
* **strategy** of a supervisor — ``one_for_one`` (restart the crashed child), ``one_for_all``
  (stop every other child, restart them all), ``rest_for_one`` (stop and restart the children
  started after the crashed one);
* **intensity** — at most ``intensity`` restarts within ``period`` seconds; one more and the
  supervisor stops all its children and *escalates* by raising :class:`SupervisorEscalation`,
  which its own parent sees as a crash of that child (a restart that fails to start counts as
  another crash);
* **backoff** — a restart waits :class:`Backoff` (longer the more restarts in the period). As in
  OTP, the decision is taken under the supervisor's lock (intensity, which group, stopping the
  group's siblings) but the wait is not: it runs as a task in the supervisor's nursery, so a
  crash-looping child never holds up :meth:`Supervisor.start_child` of its siblings. During the
  wait the group's children show state ``restarting`` and are still known to
  :meth:`Supervisor.knows_child`; a shutdown during the wait calls the restart off;
* **shutdown** — children are stopped in reverse start order; each is first asked politely
  (``ctx.stop_requested``) and gets ``shutdown_s`` seconds to drain before it is cancelled.

A child is any ``async def start(ctx: ChildContext)`` that calls ``ctx.started()`` once it is ready
(like ``task_status.started()``; the supervisor starts children one at a time in order, so a later
child may rely on an earlier one being ready). Actors (see ``actors/actor.py``) and nested
supervisors (:meth:`Supervisor.child_spec`) are children of this kind.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio

log = logging.getLogger("viora.supervisor")

Inspector = Callable[[], dict[str, Any]]


class RestartType(enum.StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(enum.StrEnum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class ChildState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class SupervisorEscalation(Exception):
    """Raised by a supervisor whose children crashed more often than its intensity allows."""

    def __init__(self, path: str, last_error: str | None) -> None:
        super().__init__(f"supervisor {path} gave up: restart intensity exceeded ({last_error})")
        self.path = path
        self.last_error = last_error


class ChildStartError(Exception):
    """A child failed while starting (before it called ``ctx.started()``)."""


@dataclass(frozen=True)
class ChildSpec:
    """How to run and restart one child."""

    name: str
    start: Callable[[ChildContext], Awaitable[None]]
    restart: RestartType = RestartType.PERMANENT
    shutdown_s: float = 5.0
    """Drain deadline: how long a polite stop may take before the child is cancelled."""
    kind: str = "worker"


@dataclass(frozen=True)
class Backoff:
    """Delay before a restart: ``initial_s * 2**(n-1)`` for the n-th restart in the period, capped."""

    initial_s: float = 0.05
    max_s: float = 2.0

    def delay(self, recent_restarts: int) -> float:
        if recent_restarts <= 0:
            return 0.0
        return min(self.max_s, self.initial_s * 2.0 ** (recent_restarts - 1))


class ChildContext:
    """What a running child gets from its supervisor: identity, readiness, and the stop signal."""

    def __init__(self, child: _Child, task_status: trio.TaskStatus[None]) -> None:
        self._child = child
        self._task_status = task_status
        self.is_started = False
        self.stop_requested = trio.Event()
        self.final_stop = False
        """True when the stop is a shutdown (drain and end); False when the child is stopped only
        to be restarted (finish the current piece of work, leave queued work for the next run)."""

    @property
    def name(self) -> str:
        return self._child.spec.name

    @property
    def path(self) -> str:
        return self._child.path

    @property
    def incarnation(self) -> int:
        return self._child.incarnation

    def started(self) -> None:
        """Tell the supervisor this child is ready; the next sibling starts after this."""
        if self.is_started:
            return
        self.is_started = True
        self._child.state = ChildState.RUNNING
        self._task_status.started()

    async def run_until_stopped(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` until it returns or a stop is requested (then it is cancelled).

        For children with no queue to drain — a periodic probe, a sweeper — cancelling at the
        stop request *is* the orderly stop.
        """
        async with trio.open_nursery() as nursery:

            async def cancel_on_stop() -> None:
                await self.stop_requested.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(cancel_on_stop)
            await fn()
            nursery.cancel_scope.cancel()

    def expose(self, inspector: Inspector) -> None:
        """Register a callable whose dict is merged into this child's node of the live tree."""
        self._child.inspector = inspector


class _Child:
    """The supervisor's record of one child: spec plus live state (never shared with the child)."""

    def __init__(self, spec: ChildSpec, path: str, dynamic: bool) -> None:
        self.spec = spec
        self.path = path
        self.dynamic = dynamic
        self.state = ChildState.STOPPED
        self.incarnation = 0
        self.restarts = 0
        self.started_at: float | None = None
        self.last_error: str | None = None
        self.inspector: Inspector | None = None
        self.ctx: ChildContext | None = None
        self.scope: trio.CancelScope | None = None
        self.done = trio.Event()
        self.done.set()
        self.stopping = False
        self.pending_restart: object | None = None
        """The token of the delayed restart this child awaits (``None``: none). A later decision
        that takes the child into its group replaces the token, so only the newest restart starts
        it; a final stop clears it."""

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def inspect(self) -> dict[str, Any]:
        node: dict[str, Any] = {
            "name": self.spec.name,
            "path": self.path,
            "kind": self.spec.kind,
            "state": str(self.state),
            "restart": str(self.spec.restart),
            "restarts": self.restarts,
            "incarnation": self.incarnation,
            "uptime_s": round(time.monotonic() - self.started_at, 3)
            if self.started_at is not None and self.running
            else 0.0,
            "last_error": self.last_error,
        }
        if self.inspector is not None:
            node.update(self.inspector())
        return node


@dataclass
class _Exit:
    child: _Child
    incarnation: int
    error: BaseException | None
    """The exception the child died of; ``None`` for a normal return."""


class Supervisor:
    """Runs children from specs, restarts them by strategy, and exposes the live tree.

    ``run()`` is the supervisor's body: it opens the nursery, starts the initial children in order,
    then handles exits until :meth:`shutdown` (or a polite stop from its own parent) and stops the
    children in reverse start order. Children may also be added while it runs
    (:meth:`start_child`) — that is how per-user session actors come and go.
    """

    def __init__(
        self,
        name: str,
        children: list[ChildSpec] | None = None,
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = 3,
        period_s: float = 5.0,
        backoff: Backoff | None = None,
        path: str | None = None,
    ) -> None:
        self.name = name
        self.path = path or f"/{name}"
        self.strategy = strategy
        self.intensity = intensity
        self.period_s = period_s
        self.backoff = backoff or Backoff()
        self._specs = list(children or [])
        self._children: list[_Child] = []
        self._nursery: trio.Nursery | None = None
        self._exits: deque[_Exit] = deque()
        self._wakeup = trio.Event()
        self._shutdown = trio.Event()
        self._restart_times: deque[float] = deque()
        self._lock = trio.Lock()
        self.running = trio.Event()
        self._stopped = trio.Event()

    # ----------------------------------------------------------------- public API

    def child_spec(
        self, *, restart: RestartType = RestartType.PERMANENT, shutdown_s: float = 30.0
    ) -> ChildSpec:
        """A spec that runs this supervisor as a child of another one (a subtree)."""
        return ChildSpec(self.name, self._run_as_child, restart, shutdown_s, kind="supervisor")

    async def run(self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until shut down; usable directly with ``nursery.start(sup.run)`` as the root."""
        await self._run(task_status.started, None)

    async def shutdown(self) -> None:
        """Stop every child in reverse start order (each with its drain deadline), then return."""
        self._shutdown.set()
        self._wake()
        if self.running.is_set():
            await self._stopped.wait()

    async def start_child(self, spec: ChildSpec) -> None:
        """Start a child while running (dynamic children are removed when they end for good)."""
        if self._nursery is None or self._shutdown.is_set():
            raise RuntimeError(f"supervisor {self.path} is not running")
        async with self._lock:
            for existing in self._children:
                if existing.spec.name == spec.name:
                    if existing.running or existing.pending_restart is not None:
                        # A twin of a child awaiting its restart would bypass the restart intensity.
                        raise ValueError(f"{self.path} already has a child named {spec.name!r}")
                    self._children.remove(existing)  # a finished child whose exit is not yet handled
                    break
            child = _Child(spec, f"{self.path}/{spec.name}", dynamic=True)
            self._children.append(child)
            error = await self._start(child)
            if error is not None:
                self._children.remove(child)
                raise ChildStartError(f"{child.path} failed to start: {error!r}") from error

    def knows_child(self, name: str) -> bool:
        """Whether a child of that name is running, or awaiting its restart (decision or backoff).

        Callers that would otherwise start the child again wait for the restart instead.
        """
        return any(c.spec.name == name for c in self._children)

    def inspect(self) -> dict[str, Any]:
        """The live subtree as plain data (JSON-ready), for operators and tests."""
        return {
            "name": self.name,
            "path": self.path,
            "kind": "supervisor",
            "strategy": str(self.strategy),
            "intensity": f"{self.intensity}/{self.period_s:g}s",
            "children": [c.inspect() for c in self._children],
        }

    # ----------------------------------------------------------------- the body

    async def _run_as_child(self, ctx: ChildContext) -> None:
        self.path = ctx.path
        ctx.expose(self._inspect_as_child)
        await self._run(lambda _value: ctx.started(), ctx)

    def _inspect_as_child(self) -> dict[str, Any]:
        node = self.inspect()
        del node["name"], node["path"], node["kind"]
        return node

    async def _run(self, started: Callable[[Supervisor], None], ctx: ChildContext | None) -> None:
        self._reset()
        failure: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                failure = await self._start_initial()
                if failure is None:
                    self.running.set()
                    started(self)
                    if ctx is not None:
                        nursery.start_soon(self._relay_stop, ctx)
                    failure = await self._supervise()
                async with self._lock:
                    await self._stop_all()
                nursery.cancel_scope.cancel()  # pending restarts, the stop relay
        finally:
            self._nursery = None
            self._stopped.set()
        # Raised outside the nursery so the parent sees this error itself, not an ExceptionGroup.
        if failure is not None:
            raise failure

    async def _start_initial(self) -> ChildStartError | None:
        for child in self._children:
            error = await self._start(child)
            if error is not None:
                return ChildStartError(f"{child.path} failed to start: {_describe(error)}")
        return None

    def _reset(self) -> None:
        """Fresh state for a (re)start: initial children from specs; dynamic ones are gone."""
        self._children = [_Child(s, f"{self.path}/{s.name}", dynamic=False) for s in self._specs]
        self._exits.clear()
        self._restart_times.clear()
        self._shutdown = trio.Event()
        self._stopped = trio.Event()
        self.running = trio.Event()

    async def _relay_stop(self, ctx: ChildContext) -> None:
        await ctx.stop_requested.wait()
        self._shutdown.set()
        self._wake()

    async def _supervise(self) -> SupervisorEscalation | None:
        """Handle child exits until shutdown; return the escalation if intensity is exceeded."""
        while not self._shutdown.is_set():
            if not self._exits:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
                continue
            event = self._exits.popleft()
            async with self._lock:
                if not self._is_news(event):
                    continue
                try:
                    await self._handle_exit(event)
                except SupervisorEscalation as escalation:
                    return escalation
        return None

    def _is_news(self, event: _Exit) -> bool:
        """False for an exit we caused ourselves (a stop), a stale one, one of a replaced child, or
        one of a child already awaiting a restart decided for a sibling (it must not count twice)."""
        child = event.child
        return (
            child.incarnation == event.incarnation
            and not child.stopping
            and child in self._children
            and child.pending_restart is None
        )

    async def _handle_exit(self, event: _Exit) -> None:
        """Decide what the exit calls for (under the lock); a restart is scheduled, not awaited."""
        child = event.child
        crashed = event.error is not None
        if crashed:
            child.last_error = _describe(event.error)
            child.state = ChildState.FAILED
        else:
            child.state = ChildState.STOPPED
        restart = child.spec.restart
        if restart is RestartType.TEMPORARY or (restart is RestartType.TRANSIENT and not crashed):
            if child.dynamic:
                self._children.remove(child)
            return

        if self._intensity_exceeded():
            log.error("%s: restart intensity exceeded, escalating", self.path)
            await self._stop_all()
            raise SupervisorEscalation(self.path, child.last_error)

        group = self._restart_group(child)
        for sibling in reversed(group):
            if sibling is not child:
                await self._stop(sibling, final=False)
        self._schedule_restart(group)

    def _intensity_exceeded(self) -> bool:
        """Count one more restart; whether that makes more than ``intensity`` within the period."""
        now = trio.current_time()
        self._restart_times.append(now)
        while self._restart_times and self._restart_times[0] < now - self.period_s:
            self._restart_times.popleft()
        return len(self._restart_times) > self.intensity

    def _schedule_restart(self, group: list[_Child]) -> None:
        """Mark ``group`` as restarting and start it again after the backoff, in the background.

        Temporary siblings are never restarted: they are settled now rather than after the backoff,
        so that nobody waits for a restart that will not come.
        """
        assert self._nursery is not None
        token = object()
        members: list[_Child] = []
        for member in group:
            if member.spec.restart is RestartType.TEMPORARY:
                if member.dynamic:
                    self._children.remove(member)
                continue
            member.state = ChildState.RESTARTING
            member.pending_restart = token
            members.append(member)
        delay = self.backoff.delay(len(self._restart_times))
        self._nursery.start_soon(self._restart_after, delay, members, token)

    async def _restart_after(self, delay: float, group: list[_Child], token: object) -> None:
        """Sleep the backoff *without* the lock, then take it to start what is still ours to restart.

        A member is skipped if a later decision took it over (new token), it was removed, or a
        final stop called its restart off; a shutdown requested meanwhile restarts nobody.
        """
        await trio.sleep(delay)
        async with self._lock:
            for member in group:
                if self._shutdown.is_set():
                    return
                if member.pending_restart is not token or member not in self._children:
                    continue
                member.pending_restart = None
                member.restarts += 1
                error = await self._start(member)
                if error is not None:
                    # A failed restart counts as another crash of that child: intensity decides
                    # (and the decision on it restarts the rest of this group, still pending).
                    self._exits.append(_Exit(member, member.incarnation, error))
                    self._wake()
                    return

    def _restart_group(self, child: _Child) -> list[_Child]:
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [child]
        if self.strategy is Strategy.ONE_FOR_ALL:
            return list(self._children)
        return self._children[self._children.index(child) :]

    # ----------------------------------------------------------------- starting and stopping

    async def _start(self, child: _Child) -> BaseException | None:
        """Start ``child`` and wait until it is ready; return the error if it failed to start."""
        assert self._nursery is not None
        try:
            await self._nursery.start(self._run_child, child)
        except Exception as exc:
            child.state = ChildState.FAILED
            child.last_error = _describe(exc)
            log.error("%s failed to start", child.path, exc_info=exc)
            return exc
        return None

    async def _run_child(self, child: _Child, task_status: trio.TaskStatus[None]) -> None:
        child.incarnation += 1
        child.stopping = False
        child.done = trio.Event()
        child.state = ChildState.STARTING
        child.started_at = time.monotonic()
        ctx = ChildContext(child, task_status)
        child.ctx = ctx
        error: BaseException | None = None
        try:
            with trio.CancelScope() as scope:
                child.scope = scope
                try:
                    await child.spec.start(ctx)
                except Exception as exc:
                    if not ctx.is_started:
                        raise
                    error = exc
                    log.error("%s crashed", child.path, exc_info=exc)
            if not ctx.is_started and not scope.cancelled_caught:
                raise ChildStartError(f"{child.path} returned without calling ctx.started()")
        finally:
            if error is not None:
                child.state = ChildState.FAILED
            elif ctx.is_started:
                child.state = ChildState.STOPPED
            child.done.set()
        if not child.stopping:
            self._exits.append(_Exit(child, child.incarnation, error))
            self._wake()

    async def _stop(self, child: _Child, *, final: bool) -> None:
        """Ask ``child`` to stop, wait up to its drain deadline, then cancel it."""
        if not child.running:
            return
        child.stopping = True
        child.state = ChildState.STOPPING
        assert child.ctx is not None and child.scope is not None
        child.ctx.final_stop = final
        child.ctx.stop_requested.set()
        with trio.move_on_after(child.spec.shutdown_s):
            await child.done.wait()
        if child.running:
            log.warning("%s did not drain within %.1fs; cancelling", child.path, child.spec.shutdown_s)
            child.scope.cancel()
            await child.done.wait()
        child.state = ChildState.STOPPED

    async def _stop_all(self) -> None:
        """Final stop of every child in reverse start order; pending restarts are called off."""
        for child in reversed(self._children):
            if child.pending_restart is not None:
                child.pending_restart = None
                child.state = ChildState.STOPPED
            await self._stop(child, final=True)

    def _wake(self) -> None:
        self._wakeup.set()


def _describe(error: BaseException | None) -> str | None:
    """One line for operators; a group of one (from a child's inner nursery) shows its member."""
    if error is None:
        return None
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"[:500]


def render_tree(node: dict[str, Any], indent: str = "") -> str:
    """Render an inspected tree as indented text, one line per node (used by ``viora tree``)."""
    figures = [str(node.get("state", "running")), f"restarts={node.get('restarts', 0)}"]
    mailbox = node.get("mailbox")
    if mailbox:
        figures.append(f"mailbox={mailbox['depth']}/{mailbox['capacity']}")
    if "processed" in node:
        figures.append(f"handled={node['processed']}")
    if "uptime_s" in node:
        figures.append(f"up={_human_duration(node['uptime_s'])}")
    if node.get("strategy"):
        figures.append(str(node["strategy"]))
    line = f"{indent}{node['name']} [{node.get('kind', '')}] " + " ".join(figures)
    if node.get("last_error"):
        line += f"  last_error={node['last_error']!r}"
    lines = [line]
    for child in node.get("children", []):
        lines.append(render_tree(child, indent + "  "))
    return "\n".join(lines)


def _human_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
