"""Who is asking: browser sessions or API tokens, CSRF protection, and role guards.

Browsers sign in with a password and then carry a session cookie (see `qm.web.sessions`
for how sessions are stored); their unsafe requests need the CSRF token. Integrations send
`Authorization: Bearer <token>` (`qm users token NAME`) and act as that user with that
user's role; they need no CSRF token, because a browser never adds that header to a
forged cross-site request on its own. A wrong or revoked token answers 401, never a
redirect to the login page.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend
from litestar.security.session_auth import SessionAuth
from litestar.security.session_auth.middleware import SessionAuthMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlmodel import Session

from qm.models import Role, User
from qm.settings import Settings
from qm.web.proxy import client_address, request_is_https
from qm.web.sessions import FRESH_ID, SignedInSessionConfig
from qm.web.sign_in import SignInGuard, wait_text

SESSION_USER_KEY = "user_id"
SESSION_STORE = "sessions"  # name of the store registered on the app

# Paths served without signing in (regular expressions matched against the path).
# The language switch is in every page, the login page too.
PUBLIC_PATHS = ["^/login", "^/static/", "^/health$", "^/schema", "^/language$"]
# Paths that never read or write a session: files and the load balancer's probe.
SESSIONLESS_PATHS = ["^/static/", "^/health$"]

RouteGuard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


@dataclass(frozen=True, slots=True)
class ApiTokenAuth:
    """`request.auth` of a request authenticated by an API token (not a session)."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


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


class SessionOrTokenMiddleware(SessionAuthMiddleware):
    """Authenticates by API token when the request carries one, else by session."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """The user of a valid token or session; 401 (or 429 while blocked) otherwise."""
        token = bearer_token(connection.headers.get("authorization"))
        if token is None:
            return await super().authenticate_request(connection)
        guard: SignInGuard = connection.app.state.sign_in
        address = client_address(connection.scope, connection.app.state.settings)
        result = await guard.token_user(token, address)
        if result.retry_after:
            raise TooManyRequestsException(
                detail=(
                    "Too many requests with a wrong API token from your address. "
                    f"Try again in {wait_text(result.retry_after)}."
                ),
                headers={"Retry-After": str(result.retry_after)},
            )
        if result.user is None:
            raise NotAuthorizedException(
                detail="The API token is not valid: it is unknown or was revoked.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return AuthenticationResult(user=result.user, auth=ApiTokenAuth())


def make_session_auth(settings: Settings) -> SessionAuth[User, ServerSideSessionBackend]:
    """The sign-in config: every path except `PUBLIC_PATHS` needs a signed-in user."""
    return SessionAuth[User, ServerSideSessionBackend](
        retrieve_user_handler=retrieve_user,
        session_backend_config=SignedInSessionConfig(
            store=SESSION_STORE,
            max_age=settings.session_max_age,
            renew_on_access=True,
            samesite="lax",
            exclude=SESSIONLESS_PATHS,
        ),
        authentication_middleware_class=SessionOrTokenMiddleware,
        exclude=PUBLIC_PATHS,
    )


class SiteCSRFMiddleware:
    """Litestar's CSRF check for browser requests, with two twists.

    Requests authenticated by an API token skip it (see the module docstring), and the
    CSRF cookie is `Secure` whenever the request came over HTTPS. Must run after the
    authentication middleware, which sets `scope["auth"]`.
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.plain = CSRFMiddleware(app=app, config=config)
        self.secure = CSRFMiddleware(app=app, config=replace(config, cookie_secure=True))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the CSRF token unless an API token authenticated the request."""
        if isinstance(scope.get("auth"), ApiTokenAuth):
            await self.app(scope, receive, send)
        elif request_is_https(scope, self.settings):
            await self.secure(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


def sign_in(request: Request[Any, Any, Any], user: User) -> None:
    """Start a session for `user` under a new session id."""
    request.state[FRESH_ID] = secrets.token_hex(32)
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
