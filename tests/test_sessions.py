"""One SessionActor per user, shared by the user's sockets, supervised and restartable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing
from live import PASSWORD, expect_error, subscribe

from actors.session.actor import RESUME_PAGE, Push, SessionRequest, StreamEvent, UserSession
from actors.session.directory import RESTART_WAIT_S, SessionDirectory
from kernel.errors import StoreUnavailable
from protocol.codec import decode_server_frame
from protocol.errors import CloseCode
from services.streams import TimelineStreams
from stores.bus import Delivery
from supervisor import Backoff, Supervisor
from viora.runtime import Runtime


class StoredStream:
    """An in-memory stand-in for the timeline store's reads, for the session's ordering logic."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.down = False
        """While True every read fails as a database outage does."""

    def append(self, n: int) -> StreamEvent:
        event = StreamEvent(len(self.events) + 1, "post.created", {"n": n})
        self.events.append(event)
        return event

    async def read(self, user_id: int, stream: str, after: int, limit: int) -> list[StreamEvent]:
        if self.down:
            raise StoreUnavailable("the timeline store is down")
        return [e for e in self.events if e.seq > after][:limit]

    async def head(self, user_id: int, stream: str) -> int:
        if self.down:
            raise StoreUnavailable("the timeline store is down")
        return len(self.events)


@asynccontextmanager
async def running_directory(
    mailbox: int = 16, backoff: Backoff | None = None
) -> AsyncIterator[tuple[Supervisor, SessionDirectory, StoredStream]]:
    """A sessions supervisor and its directory over an in-memory stream store, shut down after."""
    stored = StoredStream()
    sessions = Supervisor("sessions", backoff=backoff)
    async with trio.open_nursery() as nursery:
        await nursery.start(sessions.run)
        yield sessions, SessionDirectory(sessions, mailbox=mailbox, idle_s=30.0, streams=stored), stored
        await sessions.shutdown()


def session_children(runtime: Runtime) -> list[dict[str, Any]]:
    sessions = next(c for c in runtime.root.inspect()["children"] if c["name"] == "sessions")
    return sessions["children"]


async def test_two_sockets_of_one_user_share_one_session_actor(
    signup: Any, connect: Any, server: Runtime
) -> None:
    async with signup("kim") as (first, _), connect() as second:
        await second.request("auth.login", {"username": "kim", "password": PASSWORD})
        info_first = await first.request("session.info")
        info_second = await second.request("session.info")
        assert info_first["actor"] == info_second["actor"] == "/viora/sessions/user:1"
        assert info_second["sockets"] == 2
        assert [c["name"] for c in session_children(server)] == ["user:1"]


async def test_a_crashed_session_actor_restarts_and_the_sockets_keep_working(
    signup: Any, connect: Any, server: Runtime
) -> None:
    async with signup("lee") as (first, reply), connect() as second:
        await second.request("auth.resume", {"token": reply["token"]})
        ref = await server.services.sessions.actor_for(reply["user_id"])
        await ref.tell("a message no SessionActor understands")  # a bug in the actor: it crashes
        assert await first.request("echo", {"data": "after"}) == {"data": "after"}
        info = await second.request("session.info")
        assert info["incarnation"] == 2 and info["sockets"] == 2
        (node,) = session_children(server)
        assert node["restarts"] == 1 and "cannot handle str" in node["last_error"]


class FakeSocket:
    def __init__(self, socket_id: int) -> None:
        self.id = socket_id
        self.token_hash = b"t"
        self.cursors: dict[str, int] = {}
        self.frames: list[bytes] = []
        self.closed: tuple[CloseCode, str] | None = None

    def send_frame(self, frame: bytes) -> None:
        self.frames.append(frame)

    def close(self, code: CloseCode, reason: str) -> None:
        self.closed = (code, reason)


async def test_pushes_are_numbered_per_stream_and_idle_sessions_stop(autojump_clock: Any) -> None:
    async with running_directory(mailbox=8) as (sessions, directory, _stored):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        for n in range(3):
            await ref.tell(Push("timeline", "post.created", {"n": n}))
        await ref.tell(Push("dm", "dm.received", {}))
        await ref.ask(Push("timeline", "post.created", {"n": 3}))
        frames = [decode_server_frame(f) for f in socket.frames]
        assert [(f.stream, f.seq) for f in frames] == [
            ("timeline", 1),
            ("timeline", 2),
            ("timeline", 3),
            ("dm", 1),
            ("timeline", 4),
        ]

        directory.detach(7, socket)
        await trio.sleep(29)
        assert sessions.knows_child("user:7"), "still within the idle period"
        await trio.sleep(2)
        await trio.testing.wait_all_tasks_blocked()
        assert not sessions.knows_child("user:7")
        assert directory.session(7) is None


async def test_a_socket_attaching_during_the_idle_period_keeps_the_session(autojump_clock: Any) -> None:
    async with running_directory(mailbox=8) as (_sessions, directory, _stored):
        first = FakeSocket(1)
        ref = await directory.attach(7, "mia", first)
        directory.detach(7, first)
        await trio.sleep(20)
        again = await directory.attach(7, "mia", FakeSocket(2))
        await trio.sleep(60)
        assert again is ref and ref.alive
        session: UserSession | None = directory.session(7)
        assert session is not None and len(session.sockets) == 1


async def test_directory_push_reaches_online_users_only(autojump_clock: Any) -> None:
    async with running_directory(mailbox=8) as (_sessions, directory, _stored):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        assert await directory.push(7, "media", "media.progress", {"media_id": 1}) is True
        assert await directory.push(8, "media", "media.progress", {"media_id": 2}) is False
        await ref.ask(Push("media", "flush", {}))  # the actor handles messages in order
        frame = decode_server_frame(socket.frames[0])
        assert (frame.stream, frame.seq, frame.type, frame.body) == (
            "media",
            1,
            "media.progress",
            {"media_id": 1},
        )


async def test_numbered_pushes_arrive_in_order_and_gaps_are_repaired_from_the_store() -> None:
    async with running_directory(mailbox=16) as (_sessions, directory, stored):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        assert await ref.ask(SessionRequest("stream.resume", {"stream": "home"}, socket)) == {
            "stream": "home",
            "last": 0,
            "more": False,
        }
        events = [stored.append(n) for n in range(5)]
        for event in (
            events[0],
            events[3],
            events[2],
            events[1],
            events[4],
            events[4],
        ):  # 3 overtakes 2 and 1
            await directory.push(7, "home", event.type, event.body, seq=event.seq)
        await ref.ask(Push("media", "flush", {}))
        seqs = [decode_server_frame(f).seq for f in socket.frames if decode_server_frame(f).stream == "home"]
        assert seqs == [1, 2, 3, 4, 5], "no gap, no duplicate, in order"


async def test_resume_replays_what_a_socket_missed_then_continues_live() -> None:
    async with running_directory(mailbox=16) as (_sessions, directory, stored):
        online = FakeSocket(1)
        ref = await directory.attach(7, "mia", online)
        await ref.ask(SessionRequest("stream.resume", {"stream": "home", "after": 0}, online))
        for n in range(4):
            event = stored.append(n)
            await directory.push(7, "home", event.type, event.body, seq=event.seq)
        returning = FakeSocket(2)  # saw up to 2 before it dropped
        await directory.attach(7, "mia", returning)
        live = stored.append(99)  # arrives between sign-in and resume: must not overtake 3 and 4
        await directory.push(7, "home", live.type, live.body, seq=live.seq)
        reply = await ref.ask(SessionRequest("stream.resume", {"stream": "home", "after": 2}, returning))
        assert reply == {"stream": "home", "last": 5, "more": False}
        event = stored.append(4)
        await directory.push(7, "home", event.type, event.body, seq=event.seq)
        await ref.ask(Push("media", "flush", {}))
        home = [decode_server_frame(f) for f in returning.frames]
        assert [(f.seq, f.body) for f in home if f.stream == "home"] == [
            (3, {"n": 2}),
            (4, {"n": 3}),
            (5, {"n": 99}),
            (6, {"n": 4}),
        ]
        assert [
            decode_server_frame(f).seq for f in online.frames if decode_server_frame(f).stream == "home"
        ] == [1, 2, 3, 4, 5, 6]


async def test_an_outage_during_resume_is_the_answer_and_the_session_actor_lives_on() -> None:
    async with running_directory(mailbox=16) as (sessions, directory, stored):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        stored.down = True
        try:
            await ref.ask(SessionRequest("stream.resume", {"stream": "home", "after": 0}, socket))
        except StoreUnavailable:
            pass
        else:
            raise AssertionError("the outage must reach the asker")
        (node,) = sessions.inspect()["children"]
        assert ref.alive and node["incarnation"] == 1 and node["restarts"] == 0
        stored.down = False
        reply = await ref.ask(SessionRequest("stream.resume", {"stream": "home", "after": 0}, socket))
        assert reply == {"stream": "home", "last": 0, "more": False}


async def test_a_gap_that_cannot_be_repaired_in_an_outage_is_repaired_by_the_next_push() -> None:
    async with running_directory(mailbox=16) as (sessions, directory, stored):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        await ref.ask(SessionRequest("stream.resume", {"stream": "home", "after": 0}, socket))
        events = [stored.append(n) for n in range(3)]
        await directory.push(7, "home", events[0].type, events[0].body, seq=1)
        stored.down = True
        await directory.push(7, "home", events[2].type, events[2].body, seq=3)  # 2 is missing
        await ref.ask(Push("media", "flush", {}))
        assert ref.alive and sessions.inspect()["children"][0]["restarts"] == 0
        stored.down = False
        fourth = stored.append(3)
        await directory.push(7, "home", fourth.type, fourth.body, seq=4)
        await ref.ask(Push("media", "flush", {}))
        seqs = [decode_server_frame(f).seq for f in socket.frames if decode_server_frame(f).stream == "home"]
        assert seqs == [1, 2, 3, 4], "nothing skipped while the store was down"


async def test_a_store_outage_during_stream_resume_answers_unavailable_over_the_socket(
    signup: Any, server: Runtime, monkeypatch: Any
) -> None:
    async def store_down(*_args: Any) -> Any:
        raise StoreUnavailable("cannot connect to PostgreSQL: connection refused")

    async with signup("ola") as (client, _):
        monkeypatch.setattr(TimelineStreams, "read", store_down)
        await expect_error("unavailable", subscribe(client, "home", after=0))
        monkeypatch.undo()
        info = await client.request("session.info")
        assert info["incarnation"] == 1
        (node,) = session_children(server)
        assert node["restarts"] == 0 and node["state"] == "running"
        assert (await subscribe(client, "home", after=0))["last"] == 0


def home_seqs(socket: FakeSocket) -> list[int]:
    frames = (decode_server_frame(f) for f in socket.frames)
    return [f.seq for f in frames if f.stream == "home"]


async def resume(ref: Any, socket: FakeSocket, after: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"stream": "home"} if after is None else {"stream": "home", "after": after}
    reply: dict[str, Any] = await ref.ask(SessionRequest("stream.resume", body, socket))
    return reply


async def store_and_push(directory: SessionDirectory, stored: StoredStream, n: int) -> StreamEvent:
    """What a fan-out does: the entry is stored, then pushed with its number."""
    event = stored.append(n)
    await directory.push(7, "home", event.type, event.body, seq=event.seq)
    return event


async def flush(ref: Any) -> None:
    await ref.ask(Push("media", "flush", {}))  # the actor handles messages in order


async def test_a_delivery_to_a_restarting_session_is_queued_without_waiting(autojump_clock: Any) -> None:
    async with running_directory(backoff=Backoff(initial_s=60.0, max_s=60.0)) as (sessions, directory, _):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        await ref.tell("a message no SessionActor understands")  # crashes; restarted in 60 s
        await trio.testing.wait_all_tasks_blocked()
        assert not ref.alive
        with trio.fail_after(RESTART_WAIT_S / 10):  # before: waited for the restart, then raised
            delivered = await directory.deliver(Delivery("media", "media.progress", {"n": 1}, ((7, None),)))
        assert delivered == 1 and socket.frames == []
        await ref.wait_alive()
        await flush(ref)
        assert [decode_server_frame(f).body for f in socket.frames] == [{"n": 1}, {}], "queued, then sent"
        assert sessions.inspect()["children"][0]["restarts"] == 1


async def test_a_delivery_to_a_session_stopped_for_good_is_skipped_and_counted() -> None:
    async with running_directory() as (sessions, directory, _):
        socket = FakeSocket(1)
        await directory.attach(7, "mia", socket)
        await directory.attach(8, "noa", FakeSocket(2))
        await sessions.shutdown()  # the sessions subtree stopped: its mailboxes are closed
        targets = ((7, None), (8, None))
        assert await directory.deliver(Delivery("media", "media.progress", {}, targets)) == 0
        assert await directory.push(7, "media", "media.progress", {}) is False
        assert directory.skipped == 3 and socket.frames == []


async def test_resuming_beyond_the_head_starts_from_the_head_and_silences_nothing() -> None:
    async with running_directory() as (_sessions, directory, stored):
        subscribed, ahead, later = FakeSocket(1), FakeSocket(2), FakeSocket(3)
        ref = await directory.attach(7, "mia", subscribed)
        await directory.attach(7, "mia", ahead)
        await directory.attach(7, "mia", later)
        assert (await resume(ref, subscribed, after=0))["last"] == 0
        assert await resume(ref, ahead, after=1000) == {"stream": "home", "last": 0, "more": False}
        await store_and_push(directory, stored, 1)
        await flush(ref)
        assert await resume(ref, later, after=None) == {"stream": "home", "last": 1, "more": False}
        await store_and_push(directory, stored, 2)
        await flush(ref)
        assert (home_seqs(subscribed), home_seqs(ahead), home_seqs(later)) == ([1, 2], [1, 2], [2])


async def test_a_socket_replayed_page_by_page_gets_live_pushes_only_once_caught_up() -> None:
    async with running_directory() as (_sessions, directory, stored):
        live, replayed = FakeSocket(1), FakeSocket(2)
        ref = await directory.attach(7, "mia", live)
        for n in range(RESUME_PAGE + 50):
            stored.append(n)
        await resume(ref, live, after=None)
        await directory.attach(7, "mia", replayed)
        first = await resume(ref, replayed, after=0)
        assert first == {"stream": "home", "last": RESUME_PAGE, "more": True}
        pushed = await store_and_push(directory, stored, 999)  # while the replay is between pages
        await flush(ref)
        assert home_seqs(live) == [pushed.seq]
        assert home_seqs(replayed) == list(range(1, RESUME_PAGE + 1)), "not ahead of its replay"
        second = await resume(ref, replayed, after=first["last"])
        assert second == {"stream": "home", "last": pushed.seq, "more": False}
        after = await store_and_push(directory, stored, 1000)
        await flush(ref)
        assert home_seqs(replayed) == list(range(1, after.seq + 1)), "in order, no gap, no repeat"
        assert home_seqs(live) == [pushed.seq, after.seq]


async def test_a_resume_that_reads_past_pushes_on_their_way_leaves_them_to_the_other_sockets() -> None:
    async with running_directory() as (_sessions, directory, stored):
        live, returning = FakeSocket(1), FakeSocket(2)
        ref = await directory.attach(7, "mia", live)
        await resume(ref, live, after=0)
        await store_and_push(directory, stored, 1)
        on_its_way = stored.append(2)  # stored, its push not handled yet
        await directory.attach(7, "mia", returning)
        assert (await resume(ref, returning, after=0))["last"] == 2
        await directory.push(7, "home", on_its_way.type, on_its_way.body, seq=on_its_way.seq)
        await store_and_push(directory, stored, 3)
        await flush(ref)
        assert home_seqs(live) == [1, 2, 3], "2 was not dropped as already delivered"
        assert home_seqs(returning) == [1, 2, 3]


async def test_a_push_to_an_idle_session_is_sent_inline_and_a_gap_waits_for_the_mailbox() -> None:
    """A fan-out hands the next push of an idle session straight to its sockets (no task switch:
    the frame is there when ``deliver`` returns); one that needs a store read goes to the mailbox,
    and the order holds either way."""
    async with running_directory() as (_sessions, directory, stored):
        socket = FakeSocket(1)
        ref = await directory.attach(7, "mia", socket)
        await resume(ref, socket, None)
        await trio.testing.wait_all_tasks_blocked()
        first = stored.append(1)
        await directory.deliver(Delivery("home", first.type, first.body, ((7, first.seq),)))
        assert home_seqs(socket) == [1], "sent inline: the session's task has not run since"
        stored.append(2)
        third = stored.append(3)  # 2 was lost on its way: 3 makes the session read it
        await directory.deliver(Delivery("home", third.type, third.body, ((7, third.seq),)))
        assert home_seqs(socket) == [1], "left to the mailbox"
        await flush(ref)
        assert home_seqs(socket) == [1, 2, 3]
