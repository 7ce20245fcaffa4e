"""Session sign-in: the SessionAuth config, loading the user per request, role guards.

Sessions are server-side: the cookie holds only a random id, the data (the user's id)
lives in the app's session store. Signing out deletes it, so a copied cookie stops working,
and the id is replaced at sign-in so an id planted before it is worthless (no session
fixation).
"""

import secrets
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.security.session_auth import SessionAuth
from litestar.types import Message, ScopeSession
from sqlmodel import Session

from qm.models import Role, User
from qm.settings import Settings

SESSION_USER_KEY = "user_id"
SESSION_STORE = "sessions"  # name of the store registered on the app
SESSION_MAX_AGE = 12 * 60 * 60  # seconds: one working day
_FRESH_ID = "qm_fresh_session_id"  # connection-state key set by `sign_in`

# Paths served without signing in (regular expressions matched against the path).
PUBLIC_PATHS = ["^/login", "^/static/", "^/health$", "^/schema"]

RouteGuard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id is replaced when `sign_in` asks for it.

    Litestar keeps whatever id the request's cookie carried; this backend hands out a new
    one instead and deletes the old entry.
    """

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        """The fresh id chosen by `sign_in`, else the usual one (cookie or new)."""
        fresh = connection.state.get(_FRESH_ID)
        return str(fresh) if fresh else super().get_session_id(connection)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Store the session; on sign-in first drop the entry under the old id."""
        old = connection.cookies.get(self.config.key)
        if connection.state.get(_FRESH_ID) and old:
            await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    """ServerSideSessionConfig that uses `RotatingSessionBackend`."""

    _backend_class = RotatingSessionBackend


def retrieve_user(
    session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    """The active user whose id the session holds, or None (which means "sign in again").

    Litestar runs this sync function in a worker thread, so the database query does not
    block the event loop.
    """
    user_id = session.get(SESSION_USER_KEY)
    if not isinstance(user_id, int):
        return None
    with Session(connection.app.state.engine, expire_on_commit=False) as db:
        user = db.get(User, user_id)
    if user is None or not user.active:
        return None
    return user


def make_session_auth(settings: Settings) -> SessionAuth[User, ServerSideSessionBackend]:
    """The SessionAuth config: every path except `PUBLIC_PATHS` needs a signed-in user."""
    return SessionAuth[User, ServerSideSessionBackend](
        retrieve_user_handler=retrieve_user,
        session_backend_config=RotatingSessionConfig(
            store=SESSION_STORE,
            max_age=SESSION_MAX_AGE,
            renew_on_access=True,
            samesite="lax",
            secure=settings.environment == "production",
        ),
        exclude=PUBLIC_PATHS,
    )


def sign_in(request: Request[Any, Any, Any], user: User) -> None:
    """Start a session for `user` under a new session id."""
    request.state[_FRESH_ID] = secrets.token_hex(32)
    request.set_session({SESSION_USER_KEY: user.id})


def sign_out(request: Request[Any, Any, Any]) -> None:
    """End the session: its data is deleted and the cookie cleared."""
    request.clear_session()


def requires_role(*roles: Role) -> RouteGuard:
    """A guard that lets through only users with one of `roles`."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, User) or user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedException(f"this page is for these roles: {names}")

    return guard
