"""Where browser sessions are stored: the database, or Redis when the site has one.

Either way sessions survive a restart of the web server and are shared by every web
process. The database store runs its short queries in worker threads so that the event
loop never waits on the database.
"""

from datetime import timedelta

from anyio import to_thread
from litestar.stores.base import Store
from litestar.stores.redis import RedisStore
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain import web_sessions
from qm.models import utcnow
from qm.settings import Settings

REDIS_NAMESPACE = "qm:sessions"


def _seconds(value: int | timedelta | None) -> timedelta | None:
    if value is None:
        return None
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


class DatabaseSessionStore(Store):
    """A litestar `Store` over the `web_session` table (see `qm.domain.web_sessions`)."""

    def __init__(self, engine: Engine, default_lifetime: timedelta) -> None:
        self.engine = engine
        self.default_lifetime = default_lifetime

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        """Store `value` under `key` for `expires_in` (default: the session lifetime)."""
        data = value.encode("utf-8") if isinstance(value, str) else value
        lifetime = _seconds(expires_in) or self.default_lifetime

        def work() -> None:
            with session_scope(self.engine) as session:
                web_sessions.save(session, key, data, lifetime=lifetime)

        await to_thread.run_sync(work)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        """The stored value, or None when missing or expired; `renew_for` extends its life."""
        renew = _seconds(renew_for)

        def work() -> bytes | None:
            now = utcnow()
            with session_scope(self.engine) as session:
                found = web_sessions.read(session, key, now=now)
            if found is None:
                return None
            data, expires = found
            if renew is not None and web_sessions.renewal_due(expires, renew_for=renew, now=now):
                # A transaction of its own that takes the SQLite write lock first.
                with session_scope(self.engine, immediate=True) as session:
                    if not web_sessions.extend(session, key, until=now + renew, now=now):
                        return None
            return data

        return await to_thread.run_sync(work)

    async def delete(self, key: str) -> None:
        """Delete `key`; nothing happens when it does not exist."""

        def work() -> None:
            with session_scope(self.engine) as session:
                web_sessions.delete(session, key)

        await to_thread.run_sync(work)

    async def delete_all(self) -> None:
        """Delete every session."""

        def work() -> None:
            with session_scope(self.engine) as session:
                web_sessions.delete_all(session)

        await to_thread.run_sync(work)

    async def exists(self, key: str) -> bool:
        """True when a live session is stored under `key`."""
        return await self.expires_in(key) is not None

    async def expires_in(self, key: str) -> int | None:
        """Seconds until `key` expires, or None when there is no such live session."""

        def work() -> int | None:
            with Session(self.engine) as session:
                at = web_sessions.expires_at(session, key)
            if at is None:
                return None
            return max(0, int((at - utcnow()).total_seconds()))

        return await to_thread.run_sync(work)


def make_session_store(settings: Settings, engine: Engine) -> Store:
    """Redis when `settings.redis_url` is set, else the database."""
    if settings.redis_url:
        return RedisStore.with_client(url=settings.redis_url, namespace=REDIS_NAMESPACE)
    return DatabaseSessionStore(engine, timedelta(seconds=settings.session_max_age))
