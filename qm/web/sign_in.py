"""Checking passwords and API tokens in a way that survives a guessing storm.

A password check is slow on purpose (argon2: tens of milliseconds of CPU and 64 MiB of
memory). Done naively inside a request's database session, forty concurrent wrong
passwords hold forty pooled connections while they hash, and every other page waits for
a connection. So a sign-in here:

1. counts the attempt in the throttle (`qm.domain.login_throttle`) and, when the client is
   blocked, answers at once without looking at the password;
2. waits the throttle's growing delay with `anyio.sleep`: no thread and no connection held;
3. reads the stored hash in a short transaction and closes it;
4. checks the password in a worker thread, at most `hash_slots` at a time (one per CPU),
   so that a storm queues cheaply on the event loop instead of starving other requests;
5. opens a second short transaction to load the user, record the outcome in the audit log
   (with the client's address), and sweep expired sessions and throttle counts.
"""

import math
import os
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain import audit, tokens, users, web_sessions
from qm.domain.login_throttle import (
    ADDRESS_LIMIT,
    USERNAME_LIMIT,
    DatabaseThrottle,
    Limit,
    RedisThrottle,
    Throttle,
    address_key,
    username_key,
)
from qm.i18n import ngettext
from qm.models import User, utcnow
from qm.settings import Settings

ANONYMOUS = "anonymous"  # audit actor of attempts by someone not (yet) signed in


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def wait_text(seconds: int) -> str:
    """`90` -> `2 minutes`, `30` -> `30 seconds`: how long a blocked client must wait."""
    if seconds < 60:
        return ngettext("%(num)s second", "%(num)s seconds", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)


@dataclass(frozen=True, slots=True)
class SignInResult:
    """A signed-in user, or None with `retry_after` > 0 when the client is blocked."""

    user: User | None
    retry_after: int = 0


class SignInGuard:
    """Password and token checks for one app (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        throttle: Throttle,
        *,
        hash_slots: int,
        sweep_sessions: bool,
        username_limit: Limit = USERNAME_LIMIT,
        address_limit: Limit = ADDRESS_LIMIT,
    ) -> None:
        self.engine = engine
        self.throttle = throttle
        self.hash_slots = hash_slots
        self.sweep_sessions = sweep_sessions  # False when sessions live in Redis (TTL)
        self.username_limit = username_limit
        self.address_limit = address_limit
        self._limiter: anyio.CapacityLimiter | None = None

    @classmethod
    def for_settings(cls, settings: Settings, engine: Engine) -> "SignInGuard":
        """Counts in Redis when `settings.redis_url` is set, else in the database."""
        throttle: Throttle = (
            RedisThrottle.from_url(settings.redis_url)
            if settings.redis_url
            else DatabaseThrottle(engine)
        )
        return cls(engine, throttle, hash_slots=cpu_count(), sweep_sessions=not settings.redis_url)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """Bounds concurrent password hashing; made on first use, inside the event loop."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.hash_slots)
        return self._limiter

    def close(self) -> None:
        """Release the throttle's connections (when the app stops)."""
        self.throttle.close()

    def _audit(
        self,
        action: str,
        address: str,
        *,
        entity: str = "user",
        entity_id: str = "",
        **detail: Any,
    ) -> None:
        """One audit entry of an anonymous attempt, in a short transaction of its own."""
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=ANONYMOUS,
                action=action,
                entity=entity,
                entity_id=entity_id.strip(),
                detail={"address": address, **detail},
            )

    def _credentials(self, username: str) -> users.StoredCredentials:
        with session_scope(self.engine) as session:
            return users.stored_credentials(session, username)

    def _finish(
        self,
        credentials: users.StoredCredentials,
        new_hash: str | None,
        username: str,
        address: str,
    ) -> User | None:
        now = utcnow()
        # Reads the user, then writes (audit, rehash, sweep): the SQLite write lock first.
        with session_scope(self.engine, immediate=True) as session:
            user = users.signed_in_user(session, credentials, new_hash)
            if user is None:
                return None
            audit.record(
                session,
                actor=user.username,
                action="login.success",
                entity="user",
                entity_id=user.username,
                detail={"address": address},
            )
            if self.sweep_sessions:
                web_sessions.sweep_expired(session, now=now)
        self.throttle.succeeded(
            username_key(username, self.username_limit), address_key(address, self.address_limit)
        )
        self.throttle.sweep(now)
        return user

    async def sign_in(self, username: str, password: str, address: str) -> SignInResult:
        """The user with this username and password, or why not (wrong, or blocked)."""
        now = utcnow()
        keys = [
            username_key(username, self.username_limit),
            address_key(address, self.address_limit),
        ]
        verdict = await to_thread.run_sync(self.throttle.attempt, keys, now)
        if verdict.blocked_until is not None:
            retry_after = verdict.retry_after(now)
            await to_thread.run_sync(
                lambda: self._audit(
                    "login.blocked", address, entity_id=username, retry_after=retry_after
                )
            )
            return SignInResult(user=None, retry_after=retry_after)
        if verdict.delay:
            await anyio.sleep(verdict.delay)
        credentials = await to_thread.run_sync(self._credentials, username)
        matches = await to_thread.run_sync(
            users.password_matches, credentials, password, limiter=self.limiter
        )
        if not matches:
            await to_thread.run_sync(
                lambda: self._audit(
                    "login.failure", address, entity_id=username, reason="wrong password"
                )
            )
            return SignInResult(user=None)
        new_hash = await to_thread.run_sync(
            users.upgraded_hash, credentials, password, limiter=self.limiter
        )
        user = await to_thread.run_sync(self._finish, credentials, new_hash, username, address)
        return SignInResult(user=user)

    async def token_user(self, token: str, address: str) -> SignInResult:
        """The user an API token belongs to, or None (and the failure counted).

        A wrong token counts against the client's address like a wrong password: tokens
        cannot be guessed, but a client sending bad ones in a loop is blocked all the same.
        """
        now = utcnow()
        keys = [address_key(address, self.address_limit)]
        until = await to_thread.run_sync(self.throttle.blocked_until, keys, now)
        if until is not None:
            retry_after = max(1, math.ceil((until - now).total_seconds()))
            await to_thread.run_sync(
                lambda: self._audit(
                    "api.blocked", address, entity="api_token", retry_after=retry_after
                )
            )
            return SignInResult(user=None, retry_after=retry_after)

        def lookup() -> User | None:
            with Session(self.engine, expire_on_commit=False) as session:
                user = tokens.user_for_token(session, token)
                if not session.dirty:
                    return user
            # The token's last use is due (rarely: see LAST_USED_RESOLUTION). A read that
            # turns into a write fails on SQLite when another worker committed meanwhile,
            # so the write is done again in a transaction that holds the lock from start.
            with session_scope(self.engine, immediate=True) as session:
                return tokens.user_for_token(session, token)

        user = await to_thread.run_sync(lookup)
        if user is None:
            # Counted like a wrong password; this request still gets its 401, later ones
            # the 429 once the address is blocked.
            await to_thread.run_sync(self.throttle.attempt, keys, now)
            await to_thread.run_sync(
                lambda: self._audit(
                    "api.token_rejected", address, entity="api_token", reason="unknown or revoked"
                )
            )
        return SignInResult(user=user)
