"""Security headers on every response, error pages and static files included.

- Content-Security-Policy: only this site's own scripts, styles, fonts and images (plus
  `data:` images, which Swagger UI uses for icons); no inline script or style, no plugins,
  no framing, forms post only to this site. A script injected into a page (say, through a
  transcript someone typed) does not run.
  The API docs pages (/schema) alone also allow inline *styles*: Swagger UI sets some
  through style elements it creates at run time (swagger-api/swagger-ui#3370, #10655).
  A style cannot run code, and those pages show nothing but our own schema.
- X-Frame-Options: DENY for browsers that predate `frame-ancestors` (clickjacking).
- X-Content-Type-Options: nosniff, so an uploaded file is never run as a script.
- Referrer-Policy: same-origin; call ids in our URLs never leak to other sites.
- Permissions-Policy: the powerful browser features this app never uses are off.
- Strict-Transport-Security: only when the site is HTTPS (public URL https://, or a
  production server reached over HTTPS), because browsers then refuse plain HTTP to this
  host for a year: sending it from a site also served over HTTP would lock users out.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from qm.settings import Settings
from qm.web.proxy import request_is_https, site_is_https

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
DOCS_PATH = "/schema"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"  # one year

STATIC_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}

BeforeSend = Callable[[Message, Scope], Coroutine[Any, Any, None]]


def wants_hsts(scope: Scope, settings: Settings) -> bool:
    """True when this response should carry Strict-Transport-Security."""
    if site_is_https(settings):
        return True
    return settings.environment == "production" and request_is_https(scope, settings)


def security_headers(settings: Settings) -> BeforeSend:
    """A `before_send` hook that adds the headers above to every HTTP response."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in STATIC_HEADERS.items():
            if name not in headers:
                headers[name] = value
        path = scope.get("path", "")
        if path == DOCS_PATH or path.startswith(DOCS_PATH + "/"):
            headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        if wants_hsts(scope, settings):
            headers["Strict-Transport-Security"] = HSTS

    return add_headers
