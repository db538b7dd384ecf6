"""Accounts: registration, password log-in, token resume and revocation.

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 low-memory profile). Hashing is
deliberately expensive, so it runs in worker threads behind a small limiter: a burst of log-ins
queues for the KDF instead of stalling the event loop or exhausting memory.

Tokens are 256 random bits (``secrets``); only their SHA-256 is stored, so a database leak does not
hand out live sessions. A token is revocable one at a time (log out) or all at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kernel.config import Settings
from kernel.errors import (
    AuthFailed,
    Busy,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    UsernameTaken,
)
from stores.bus import EventBus, publish_live, sign_out_delivery
from stores.throttle import FailureThrottle, Limit, Outcome
from stores.users import User, UserStore, normalize_username

T = TypeVar("T")

# argon2id with RFC 9106's low-memory parameters (t=3, m=64 MiB) but a single lane: p=4 would
# run four threads per hash, and a burst of log-ins would then starve the event loop of CPU on
# a small machine. Hashes record their parameters, so these can be raised later safely.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 1


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The outcome of a successful sign-in: who, and the token that proves it."""

    user: User
    token_hash: bytes
    token: str | None
    """The raw token, only when it was just issued (register / login); never stored."""
    expires_at: float


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Accounts:
    def __init__(
        self, users: UserStore, settings: Settings, bus: EventBus, throttle: FailureThrottle
    ) -> None:
        self._users = users
        self._bus = bus
        self._settings = settings
        self._throttle = throttle
        self._account_limit = Limit(settings.login_failures_limit, settings.login_failures_window_s)
        self._address_limit = Limit(settings.login_address_failures_limit, settings.login_failures_window_s)
        self._hasher = PasswordHasher(
            time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
        )
        self._kdf = trio.CapacityLimiter(settings.kdf_threads)
        # Verifying against this hash when the user does not exist keeps "no such user" and
        # "wrong password" equally slow, so timing does not reveal which usernames exist. Made on
        # first need, in a worker thread: a KDF run does not belong on the event loop at start-up.
        self._decoy_hash: str | None = None

    async def register(self, username: str, password: str, display_name: str | None) -> SignedIn:
        try:
            name = normalize_username(username)
        except ValueError:
            raise Invalid("username: 3-32 characters of a-z, 0-9 and _") from None
        password_hash = await self._run_kdf(self._hasher.hash, password)
        try:
            user = await self._users.create_user(name, display_name or name, password_hash)
        except Conflict as taken:
            raise UsernameTaken(taken.constraint, f"the username {name!r} is taken") from None
        return await self.issue_token(user)

    async def authenticate(self, username: str, password: str, *, address: str | None) -> User:
        """The account ``username`` names, if ``password`` is its password.

        Throttled per account (online guessing of one password) and per client ``address``
        (spraying one password over many accounts; None where addresses cannot tell clients
        apart, behind a proxy): see ``stores.throttle``. A success forgets the account's
        failures but not the address's, or a sprayer holding one account of their own could
        reset their count between guesses.
        """
        name = username.lower()
        keys = [(f"account:{name}", self._account_limit)]
        if address is not None:
            keys.append((f"address:{address}", self._address_limit))
        begun: list[tuple[str, str]] = []
        verdict: bool | None = None  # None: not evaluated (busy, an outage): the attempt is void
        try:
            for key, limit in keys:
                begun.append((key, await self._throttle.begin(key, limit)))
            user = await self._users.get_user_by_username(name)
            stored = user.password_hash if user is not None else await self._decoy()
            verdict = await self._run_kdf(self._verify, stored, password) and user is not None
        finally:
            with trio.CancelScope(shield=True):  # an attempt left counted would lock the owner out
                for index, (key, attempt) in enumerate(begun):
                    await self._throttle.end(key, attempt, _outcome(verdict, resets=index == 0))
        if not verdict or user is None:
            raise AuthFailed("wrong username or password")
        return user

    async def _run_kdf(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password hash in a worker thread, or refuse at once when too many wait for one:
        a few sockets looping sign-in must not make everyone's sign-in wait behind them."""
        if self._kdf.statistics().tasks_waiting >= self._settings.kdf_queue:
            raise Busy("sign-in is busy; retry in a moment")
        return await trio.to_thread.run_sync(fn, *args, limiter=self._kdf)

    async def resume(self, token: str) -> SignedIn:
        token_hash = hash_token(token)
        record = await self._users.get_token(token_hash)
        if record is None:
            raise TokenInvalid("unknown token")
        if record.revoked:
            raise TokenRevoked("this token was revoked; sign in again")
        if record.expires_at <= time.time():
            raise TokenExpired("this token has expired; sign in again")
        user = await self._users.get_user(record.user_id)
        if user is None:
            raise TokenInvalid("the account no longer exists")
        return SignedIn(user, token_hash, None, record.expires_at)

    async def logout(self, user_id: int, token_hash: bytes, *, everywhere: bool) -> int:
        """Revoke this token (or all of the user's tokens); return how many were revoked.
        :meth:`close_sockets` then closes the sockets that used them."""
        if everywhere:
            return len(await self._users.revoke_user_tokens(user_id))
        return await self._users.revoke_token(token_hash)

    async def close_sockets(self, user_id: int, token_hash: bytes | None) -> None:
        """Close the user's sockets signed in with ``token_hash`` (all, when None) on every process:
        a sign-out must not stop at this process's sockets."""
        reason = "signed out" if token_hash is not None else "signed out everywhere"
        await publish_live(self._bus, sign_out_delivery(user_id, token_hash, reason))

    # --- moderation rights: a property of the account, never of a name --------------------

    async def require_moderator(self, user_id: int) -> None:
        """Refuse (``Forbidden``) unless the account holds moderation rights. Read on every
        request, so a grant or a revoke counts at once, on every process."""
        if not await self._users.is_moderator(user_id):
            raise Forbidden("moderators only")

    async def set_moderator(self, username: str, moderator: bool) -> bool:
        """Grant or revoke an existing account's rights (``viora moderators``); True if changed."""
        user = await self._users.get_user_by_username(username)
        if user is None:
            raise NotFound(f"no account named {username!r}")
        return await self._users.set_moderator(user.id, moderator)

    async def grant_listed_moderators(self, usernames: str) -> list[str]:
        """Apply ``VIORA_ADMIN_USERS`` at start-up: grant the named accounts that exist now and
        return the names that name none. Those are not remembered: whoever registers such a name
        later gets no rights, which is what a name list that outlives its accounts needs."""
        missing = []
        for name in sorted({n.strip().lower() for n in usernames.split(",") if n.strip()}):
            user = await self._users.get_user_by_username(name)
            if user is None:
                missing.append(name)
            else:
                await self._users.set_moderator(user.id, True)
        return missing

    async def issue_token(self, user: User) -> SignedIn:
        token = secrets.token_urlsafe(32)
        token_hash = hash_token(token)
        expires_at = time.time() + self._settings.token_ttl_s
        await self._users.create_token(user.id, token_hash, expires_at)
        return SignedIn(user, token_hash, token, expires_at)

    async def _decoy(self) -> str:
        if self._decoy_hash is None:
            secret = secrets.token_urlsafe(16)
            self._decoy_hash = await self._run_kdf(self._hasher.hash, secret)
        return self._decoy_hash

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _outcome(verdict: bool | None, *, resets: bool) -> Outcome:
    """How an attempt ends on one key: ``resets`` for the account's key, which a success clears."""
    if verdict is None:
        return Outcome.WITHDRAWN
    if not verdict:
        return Outcome.FAILED
    return Outcome.SUCCEEDED if resets else Outcome.WITHDRAWN
