"""Which language a request is answered in, and the switch that changes it.

In order: `?lang=` on the URL (remembered in a cookie, so the switch in the page sticks),
that cookie, the signed-in user's language, the browser's `Accept-Language`, and the
site's default (`QM_DEFAULT_LANGUAGE`). The middleware sits inside the sign-in
middleware so it knows the user; the locale it sets is read by the templates and by every
message the handlers produce.
"""

from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, post
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType, ScopeType
from litestar.params import Body
from litestar.response import Redirect
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlmodel import Session

from qm.auth import SESSION_USER_KEY
from qm.domain.users import set_language
from qm.i18n import html_lang, known_locale, negotiate, set_locale
from qm.models import User
from qm.settings import Settings

LANG_COOKIE = "qm_lang"
_YEAR = 365 * 24 * 3600


def _query_lang(scope: Scope) -> str | None:
    raw = scope.get("query_string", b"").decode("latin-1")
    for part in raw.split("&"):
        name, _eq, value = part.partition("=")
        if name == "lang":
            return known_locale(value)
    return None


def _cookie_lang(headers: MutableScopeHeaders) -> str | None:
    for header in headers.getall("cookie", []):
        for part in header.split(";"):
            name, _eq, value = part.strip().partition("=")
            if name == LANG_COOKIE:
                return known_locale(value)
    return None


def scope_locale(scope: Scope, settings: Settings) -> str:
    """The locale for this request (see the module's docstring for the order)."""
    headers = MutableScopeHeaders(scope)
    user = scope.get("user")
    return (
        _query_lang(scope)
        or _cookie_lang(headers)
        or (known_locale(user.language) if isinstance(user, User) else None)
        or negotiate(headers.get("accept-language"))
        or known_locale(settings.default_language)
        or "en"
    )


def lang_cookie(locale: str) -> str:
    """The Set-Cookie value that remembers a chosen language for a year."""
    return f"{LANG_COOKIE}={html_lang(locale)}; Path=/; Max-Age={_YEAR}; SameSite=Lax"


class LocaleMiddleware:
    """Sets the request's locale; remembers a `?lang=` choice in a cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["litestar_app"].state.settings
        locale = scope_locale(scope, settings)
        set_locale(locale)
        chosen = _query_lang(scope)

        async def send_with_cookie(message: Message) -> None:
            if chosen and message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message).add("set-cookie", lang_cookie(chosen))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _same_site_path(target: str | None) -> str:
    """`back` only ever leads back into this site (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    # Browsers read "/\host" like "//host": another site.
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/"
    return target


@post("/language", include_in_schema=False, status_code=303, sync_to_thread=True)
def choose_language(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    """The language switch: remembered in a cookie, and as the user's language when signed in.

    The path is public (the login page has the switch too), so the signed-in user is read
    from the session here rather than by the sign-in middleware.
    """
    locale = known_locale(data.get("lang")) or "en"
    user_id = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
    user = db.get(User, user_id) if isinstance(user_id, int) else None
    if user is not None and user.active:
        set_language(db, user.username, html_lang(locale), actor=user.username)
    response = Redirect(_same_site_path(data.get("back")), status_code=303)
    response.headers["set-cookie"] = lang_cookie(locale)
    return response
