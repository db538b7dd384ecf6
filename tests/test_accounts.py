"""Accounts over a real websocket: register, log in, resume, log out; every refusal is typed."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import trio
from live import PASSWORD
from test_login_throttle import NoSessions, NoUsers

from kernel.config import Settings
from kernel.errors import AuthFailed, Busy
from services.accounts import Accounts, hash_token
from stores.bus import InProcessBus
from stores.throttle import MemoryThrottle
from viora.client import ServerError


async def expect_error(code: str, awaitable: Any) -> ServerError:
    with pytest.raises(ServerError) as caught:
        await awaitable
    assert caught.value.code == code, caught.value
    return caught.value


async def test_register_then_resume_and_login_on_other_sockets(signup: Any, connect: Any) -> None:
    async with signup("alice") as (_alice, registered):
        assert registered["username"] == "alice" and len(registered["token"]) >= 40
        async with connect() as second:
            resumed = await second.request("auth.resume", {"token": registered["token"]})
            assert resumed["user_id"] == registered["user_id"] and "token" not in resumed
        async with connect() as third:
            logged_in = await third.request("auth.login", {"username": "ALICE", "password": PASSWORD})
            assert logged_in["user_id"] == registered["user_id"]
            assert logged_in["token"] != registered["token"], "each log-in gets its own token"


async def test_wrong_password_and_unknown_user_are_refused_alike(signup: Any, connect: Any) -> None:
    async with signup("bob"), connect() as client:
        wrong = await expect_error(
            "auth_failed", client.request("auth.login", {"username": "bob", "password": "not the password"})
        )
        unknown = await expect_error(
            "auth_failed", client.request("auth.login", {"username": "nobody", "password": "whatever1"})
        )
        assert wrong.message == unknown.message, "the refusal must not reveal which usernames exist"
        await expect_error("unauthenticated", client.request("echo", {"data": 1}))


async def test_registration_rules(signup: Any, connect: Any) -> None:
    async with signup("carol"), connect() as client:
        await expect_error(
            "username_taken", client.request("auth.register", {"username": "Carol", "password": PASSWORD})
        )
        await expect_error(
            "bad_request", client.request("auth.register", {"username": "no spaces", "password": PASSWORD})
        )
        await expect_error(
            "bad_request", client.request("auth.register", {"username": "dave", "password": "short"})
        )


async def test_a_signed_in_socket_cannot_sign_in_again(signup: Any) -> None:
    async with signup("erin") as (client, reply):
        await expect_error("already_authenticated", client.request("auth.resume", {"token": reply["token"]}))


async def test_passwords_and_tokens_are_stored_hashed(signup: Any, server_settings: Settings) -> None:
    async with signup("frank") as (_client, reply):
        with psycopg.connect(server_settings.pg_dsn) as conn:
            (password_hash,) = conn.execute(
                "select password_hash from users where username = 'frank'"
            ).fetchone()
            stored = [row[0] for row in conn.execute("select token_hash from auth_tokens")]
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash
    assert hash_token(reply["token"]) in stored
    assert not any(reply["token"].encode() in bytes(h) for h in stored)


async def test_an_expired_token_is_refused(signup: Any, connect: Any, server_settings: Settings) -> None:
    async with signup("grace") as (_client, reply):
        with psycopg.connect(server_settings.pg_dsn) as conn:
            conn.execute("update auth_tokens set expires_at = now() - interval '1 second'")
        async with connect() as other:
            await expect_error("token_expired", other.request("auth.resume", {"token": reply["token"]}))
            await expect_error("token_invalid", other.request("auth.resume", {"token": "forged" * 8}))


async def test_logout_revokes_the_token_and_signs_the_socket_out(signup: Any, connect: Any) -> None:
    async with signup("heidi") as (client, reply):
        assert await client.request("auth.logout") == {"revoked": 1}
        await expect_error("unauthenticated", client.request("echo"))
        async with connect() as other:
            await expect_error("token_revoked", other.request("auth.resume", {"token": reply["token"]}))


async def test_logout_everywhere_closes_the_users_other_sockets(signup: Any, connect: Any) -> None:
    async with signup("ivan") as (first, _reply), connect() as second, connect() as stranger:
        await second.request("auth.login", {"username": "ivan", "password": PASSWORD})
        await stranger.request("auth.register", {"username": "judy", "password": PASSWORD})
        assert await first.request("auth.logout", {"all": True}) == {"revoked": 2}
        push = await second.next_event()
        assert (push.kind, push.type, push.stream) == ("push", "session.signed_out", "session")
        assert await second.wait_closed() == (4001, "signed out everywhere")
        assert await stranger.request("echo", {"data": "still here"}) == {"data": "still here"}


async def test_repeated_failed_logins_lock_the_account_for_a_while(
    signup: Any, connect: Any, server_settings: Settings
) -> None:
    async with signup("mallory_target"), connect() as guesser:
        for n in range(server_settings.login_failures_limit):
            await expect_error(
                "auth_failed",
                guesser.request("auth.login", {"username": "mallory_target", "password": f"guess{n:04}"}),
            )
        async with connect() as another:  # a fresh connection does not reset the count
            limited = await expect_error(
                "rate_limited",
                another.request("auth.login", {"username": "mallory_target", "password": PASSWORD}),
            )
        assert 0 < limited.frame.body["retry_after"] <= server_settings.login_failures_window_s


async def test_a_lost_database_gives_unavailable_and_the_socket_survives(signup: Any, server: Any) -> None:
    async with signup("nina") as (client, _reply):
        server.stores.db.pool.close()  # the database goes away under a live server
        await expect_error("unavailable", client.request("auth.logout"))
        assert await client.request("echo", {"data": "ok"}) == {"data": "ok"}


async def test_parallel_guesses_are_throttled_while_in_flight(
    signup: Any, connect: Any, server_settings: Settings
) -> None:
    """Fifty wrong passwords at once on fifty sockets: attempts still being verified count, so no
    more than the limit are ever evaluated."""
    outcomes: list[str] = []

    async def guess(n: int) -> None:
        async with connect() as guesser:
            try:
                await guesser.request(
                    "auth.login", {"username": "parallel_target", "password": f"guess{n:04}"}
                )
            except ServerError as error:
                outcomes.append(error.code)

    async with signup("parallel_target"), trio.open_nursery() as nursery:
        for n in range(50):
            nursery.start_soon(guess, n)
    assert len(outcomes) == 50
    assert outcomes.count("auth_failed") <= server_settings.login_failures_limit
    assert outcomes.count("auth_failed") + outcomes.count("rate_limited") + outcomes.count("busy") == 50


async def test_the_password_hash_queue_is_bounded_and_answers_busy() -> None:
    accounts = Accounts(
        NoUsers(),
        Settings(kdf_threads=1, kdf_queue=2),
        InProcessBus(NoSessions()),
        MemoryThrottle(trio.current_time),
    )  # type: ignore[arg-type]
    outcomes: list[str] = []

    async def attempt(n: int) -> None:
        try:
            await accounts.authenticate(f"nobody{n}", "wrong password", address=None)
        except (AuthFailed, Busy) as error:
            outcomes.append(type(error).__name__)

    async with trio.open_nursery() as nursery:
        for n in range(8):
            nursery.start_soon(attempt, n)
    assert len(outcomes) == 8
    assert 1 <= outcomes.count("AuthFailed") <= 4  # one hashing, two waiting (plus the decoy's own hash)
    assert outcomes.count("Busy") >= 4
