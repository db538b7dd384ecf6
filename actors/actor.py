"""Actors: a Trio task that owns its state and reads a bounded mailbox.

Nobody touches an actor's state but the actor; everyone else holds an :class:`ActorRef` and
sends messages:

* ``await ref.tell(msg)`` — fire and forget; waits while the mailbox is full (backpressure);
* ``ref.try_tell(msg)`` — for droppable messages (typing indicators…): drops and counts when full;
* ``await ref.ask(msg, timeout=…)`` — request/reply through a one-shot reply slot;
* ``ref.tell_now(msg)`` — like ``try_tell``, but an actor that is idle right now (parked on an
  empty mailbox) and can take the message without waiting handles it inline, in the sender's task
  (:meth:`Actor.handle_now`). It is what the actor would have done next anyway — nothing else can
  run in between on one event loop — minus a task switch: a fan-out to thousands of sessions pays
  one per recipient otherwise.

The mailbox belongs to the *ref*, not to one run of the actor: when the supervisor restarts a
crashed actor, the new incarnation (fresh state from the factory) keeps reading the same mailbox,
so holders of the ref keep working and queued messages are not lost — only the message being
handled when it crashed fails (its asker gets :class:`~kernel.errors.ActorCrashed`). Akka restarts
keep the mailbox in the same way. A *final* stop closes the mailbox: queued messages are drained
within the supervisor's deadline, later sends raise :class:`~kernel.errors.ActorStopped`.

A :class:`~kernel.errors.DomainError` raised while answering an ``ask`` is the *answer*, not a
crash: the asker gets it as raised and the actor carries on, like an OTP server replying
``{error, Reason}``. A database outage while a session replays a stream is the world's failure,
not the actor's; restarting would only spend the restart budget and turn a typed ``unavailable``
into ``internal``. Any other exception, or any exception from a ``tell``, crashes the actor.
The senders' errors (``ActorStopped``, ``AskTimeout``, ``ActorCrashed``) live in
:mod:`kernel.errors` with every other failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import trio

from kernel.errors import ActorCrashed, ActorStopped, AskTimeout, DomainError
from supervisor import ChildContext, ChildSpec, RestartType

log = logging.getLogger("viora.actors")

T = TypeVar("T")
A = TypeVar("A", bound="Actor")


class _ReplySlot:
    """Where one ``ask``'s answer lands: cheaper than a memory channel per request.

    ``abandoned`` tells the actor the asker gave up (timeout, cancellation), so it can skip the work.
    """

    __slots__ = ("abandoned", "done", "error", "value")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.abandoned = False

    def resolve(self, value: Any = None, error: BaseException | None = None) -> None:
        if not self.done.is_set():
            self.value, self.error = value, error
            self.done.set()


class _Envelope:
    __slots__ = ("message", "reply")

    def __init__(self, message: Any, reply: _ReplySlot | None) -> None:
        self.message = message
        self.reply = reply


class Actor:
    """Base class: override :meth:`handle` (and optionally :meth:`on_start` / :meth:`on_stop`).

    ``handle``'s return value is the reply to an ``ask`` (ignored for ``tell``). An exception
    raised by ``handle`` crashes the actor ("let it crash"): the asker gets ``ActorCrashed`` and the
    supervisor restarts the actor from its factory with fresh state.
    """

    ref: ActorRef[Any]
    nursery: trio.Nursery
    """Background tasks of this incarnation (timers…); cancelled when the actor stops."""

    async def on_start(self) -> None:
        """Called before the first message of each incarnation."""

    async def handle(self, message: Any) -> Any:
        raise NotImplementedError

    async def on_stop(self) -> None:
        """Called after the last message of an incarnation (not after a crash)."""

    def inspect(self) -> dict[str, Any]:
        """Extra figures for the live tree (override to add some)."""
        return {}

    def handle_now(self, message: Any) -> bool:
        """Handle ``message`` at once, without awaiting, if it can be (see ``ActorRef.tell_now``);
        False leaves it to the mailbox. Only called while the actor is idle. Must not raise."""
        return False

    def stop(self) -> None:
        """End this actor normally after the current message (a transient actor is not restarted)."""
        self._stop_after_message = True

    _stop_after_message = False


class ActorRef(Generic[A]):
    """The address of an actor: its mailbox plus the counters operators see."""

    def __init__(self, path: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("mailboxes are bounded: capacity must be >= 1")
        self.path = path
        self.capacity = capacity
        self._send, self._receive = trio.open_memory_channel[_Envelope](capacity)
        self.processed = 0
        self.dropped = 0
        self.incarnation = 0
        self.last_error: str | None = None
        self.alive = False
        self._alive_event = trio.Event()
        self.instance: A | None = None
        """The current incarnation (for tests and introspection only — never call into it)."""

    # ----------------------------------------------------------------- senders

    async def tell(self, message: Any) -> None:
        """Queue ``message``; waits while the mailbox is full."""
        try:
            await self._send.send(_Envelope(message, None))
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStopped(self.path) from None

    def try_tell(self, message: Any) -> bool:
        """Queue ``message`` if there is room; otherwise drop it, count it, return False."""
        try:
            self._send.send_nowait(_Envelope(message, None))
        except trio.WouldBlock:
            self.dropped += 1
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStopped(self.path) from None
        return True

    def tell_now(self, message: Any) -> bool:
        """Handle ``message`` inline if the actor is idle and takes it without waiting, else
        :meth:`try_tell` it. The inline path keeps the mailbox's order: it is only taken when the
        mailbox is empty and the actor is parked on it, so no queued message is overtaken."""
        actor = self.instance
        if actor is not None and self.alive:
            stats = self._receive.statistics()
            if stats.current_buffer_used == 0 and stats.tasks_waiting_receive and actor.handle_now(message):
                self.processed += 1
                return True
        return self.try_tell(message)

    async def ask(self, message: Any, *, timeout: float = 5.0) -> Any:
        """Send ``message`` and wait for the reply; the timeout covers queueing and handling."""
        slot = _ReplySlot()
        try:
            with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
                await self._send.send(_Envelope(message, slot))
                await slot.done.wait()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStopped(self.path) from None
        finally:
            slot.abandoned = not slot.done.is_set()
        if scope.cancelled_caught:
            raise AskTimeout(f"{self.path} did not answer within {timeout:g}s")
        if slot.error is not None:
            if isinstance(slot.error, DomainError):
                raise slot.error
            raise ActorCrashed(f"{self.path} crashed: {slot.error!r}") from slot.error
        return slot.value

    async def wait_alive(self) -> None:
        """Wait until an incarnation is running (e.g. while the supervisor restarts it)."""
        await self._alive_event.wait()

    def _set_alive(self, alive: bool) -> None:
        self.alive = alive
        if alive:
            self._alive_event.set()
        elif self._alive_event.is_set():
            self._alive_event = trio.Event()

    def mailbox_depth(self) -> int:
        return self._send.statistics().current_buffer_used

    def inspect(self) -> dict[str, Any]:
        stats = self._send.statistics()
        node: dict[str, Any] = {
            "mailbox": {
                "depth": stats.current_buffer_used,
                "capacity": self.capacity,
                "waiting_senders": stats.tasks_waiting_send,
            },
            "processed": self.processed,
            "dropped": self.dropped,
        }
        if self.instance is not None:
            node.update(self.instance.inspect())
        return node

    # ----------------------------------------------------------------- the actor's side

    def _reopen_if_closed(self) -> None:
        """A new run after a final stop (e.g. the parent subtree was restarted) gets a new mailbox."""
        if self._receive.statistics().open_send_channels == 0:
            self._send, self._receive = trio.open_memory_channel[_Envelope](self.capacity)

    def _close(self) -> None:
        self._send.close()


def actor_spec(
    name: str,
    factory: Callable[[], A],
    *,
    capacity: int = 128,
    restart: RestartType = RestartType.PERMANENT,
    shutdown_s: float = 5.0,
    path: str | None = None,
    ref: ActorRef[A] | None = None,
) -> tuple[ChildSpec, ActorRef[A]]:
    """A child spec that runs ``factory()`` as an actor, and the ref that reaches it.

    The ref is created here, once, so it can be handed out before the actor starts and stays
    valid across restarts. ``path`` only names the ref until the supervisor starts the child.
    """
    actor_ref: ActorRef[A] = ref or ActorRef(path or name, capacity)

    async def start(ctx: ChildContext) -> None:
        await _run_actor(ctx, actor_ref, factory)

    return ChildSpec(name, start, restart, shutdown_s, kind="actor"), actor_ref


async def _run_actor(ctx: ChildContext, ref: ActorRef[A], factory: Callable[[], A]) -> None:
    ref._reopen_if_closed()
    ref.path = ctx.path
    ref.incarnation = ctx.incarnation
    actor = factory()
    actor.ref = ref
    ctx.expose(ref.inspect)
    try:
        async with trio.open_nursery() as nursery:
            actor.nursery = nursery
            await actor.on_start()
            ref.instance = actor
            ref._set_alive(True)
            ctx.started()
            await _mailbox_loop(ctx, ref, actor)
            await actor.on_stop()
            nursery.cancel_scope.cancel()
    finally:
        ref._set_alive(False)


async def _mailbox_loop(ctx: ChildContext, ref: ActorRef[Any], actor: Actor) -> None:
    """Handle messages one at a time until stopped.

    A stop for restart ends the loop after the current message (queued ones wait for the next
    incarnation); a final stop closes the mailbox, so the loop drains what is queued and ends.
    """
    receive = ref._receive
    waiting = trio.CancelScope()

    async def watch_stop() -> None:
        await ctx.stop_requested.wait()
        if ctx.final_stop:
            ref._close()
        else:
            waiting.cancel()

    async with trio.open_nursery() as watcher:
        watcher.start_soon(watch_stop)
        while True:
            with waiting:
                try:
                    envelope = await receive.receive()
                except trio.EndOfChannel:
                    break
            if waiting.cancelled_caught:
                break
            waiting = trio.CancelScope()
            await _deliver(ref, actor, envelope)
            if actor._stop_after_message:
                break
        watcher.cancel_scope.cancel()


async def _deliver(ref: ActorRef[Any], actor: Actor, envelope: _Envelope) -> None:
    reply = envelope.reply
    if reply is not None and reply.abandoned:
        ref.dropped += 1  # the asker gave up (timeout or cancellation): skip the work
        return
    try:
        result = await actor.handle(envelope.message)
    except DomainError as exc:
        if reply is None:
            ref.last_error = _describe(exc)
            raise
        reply.resolve(error=exc)  # an answer to the asker; the actor lives on
        return
    except Exception as exc:
        ref.last_error = _describe(exc)
        if reply is not None:
            reply.resolve(error=exc)
        raise
    finally:
        ref.processed += 1
    if reply is not None:
        reply.resolve(result)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]
