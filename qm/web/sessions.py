"""Server-side browser sessions that exist only for signed-in users.

Litestar's stock server-side backend writes a session (and sets a cookie) for every
response that passes through it, so each anonymous visit of the login page would leave a
row behind. This backend stores a session only when `qm.auth.sign_in` asks for one, and
afterwards only when its data changes. Other details:

- The cookie carries a random id; the store key is that id's SHA-256, so a copy of the
  store (a database backup, a Redis dump) hands out no usable cookie.
- Sign-in puts the session under a new id and deletes the old one: an id planted in the
  browser before sign-in is worthless afterwards (no session fixation).
- Each use renews the session's lifetime (the store rewrites its expiry at most once a
  minute) and the cookie's Max-Age.
- The cookie is `Secure` whenever the browser reached the site over HTTPS (see
  `qm.web.proxy.request_is_https`), `HttpOnly` and `SameSite=Lax` always.
"""

import hashlib
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession

from qm.settings import Settings
from qm.web.proxy import request_is_https

FRESH_ID = "qm_fresh_session_id"  # connection-state key: the id chosen at sign-in
_LOADED = "qm_loaded_session"  # connection-state key: the stored bytes this request read


def store_key(session_id: str) -> str:
    """The key a session is stored under: the SHA-256 of the cookie's id."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SignedInSessionBackend(ServerSideSessionBackend):
    """Stores sessions only for signed-in users (see the module docstring)."""

    async def get(self, session_id: str, store: Store) -> bytes | None:
        """The stored session for a cookie id, renewing its lifetime."""
        return await super().get(store_key(session_id), store)

    async def set(self, session_id: str, data: bytes, store: Store) -> None:
        """Store a session under a cookie id."""
        await super().set(store_key(session_id), data, store)

    async def delete(self, session_id: str, store: Store) -> None:
        """Delete the session of a cookie id."""
        await super().delete(store_key(session_id), store)

    def _cookie_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
        value = connection.cookies.get(self.config.key)
        return value if value and value != "null" else None

    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        """The session the cookie points at, or an empty one."""
        session_id = self._cookie_id(connection)
        if session_id is None:
            return {}
        data = await self.get(session_id, store=self.config.get_store_from_app(connection.app))
        if data is None:
            return {}
        connection.state[_LOADED] = data
        return self.deserialize_data(data)

    def _cookie(self, connection: ASGIConnection[Any, Any, Any, Any], value: str) -> str:
        settings: Settings = connection.app.state.settings
        cookie = Cookie(
            key=self.config.key,
            value=value,
            max_age=self.config.max_age if value != "null" else 0,
            expires=None if value != "null" else 0,
            path=self.config.path,
            domain=self.config.domain,
            secure=request_is_https(connection.scope, settings),
            httponly=True,
            samesite=self.config.samesite,
        )
        return cookie.to_header(header="")

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Write the session (only when there is one to keep) and set or clear the cookie."""
        store = self.config.get_store_from_app(connection.app)
        headers = MutableScopeHeaders.from_message(message)
        cookie_id = self._cookie_id(connection)
        fresh = connection.state.get(FRESH_ID)
        has_data = scope_session is not Empty and bool(scope_session)
        if fresh:
            if cookie_id:
                await self.delete(cookie_id, store)
            if has_data:
                await self.set(str(fresh), self.serialize_data(scope_session), store)
                headers.add("Set-Cookie", self._cookie(connection, str(fresh)))
            return
        if not has_data:
            # Signed out, or the cookie names a session that expired or never existed.
            if cookie_id:
                await self.delete(cookie_id, store)
                headers.add("Set-Cookie", self._cookie(connection, "null"))
            return
        if cookie_id is None:
            # Data put into a session without `sign_in`: give it an id of its own.
            cookie_id = self.generate_session_id()
            connection.state[_LOADED] = b""
        data = self.serialize_data(scope_session)
        if data != connection.state.get(_LOADED):
            await self.set(cookie_id, data, store)
        headers.add("Set-Cookie", self._cookie(connection, cookie_id))


class SignedInSessionConfig(ServerSideSessionConfig):
    """ServerSideSessionConfig that uses `SignedInSessionBackend`."""

    _backend_class = SignedInSessionBackend
