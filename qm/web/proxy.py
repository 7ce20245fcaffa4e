"""What a request says about its client: the client's address and whether it came over HTTPS.

Behind a reverse proxy the peer address is the proxy's and the scheme is plain HTTP, so
the real values come from `X-Forwarded-For` and `X-Forwarded-Proto`. Anybody can send
those headers, so they are read only when `settings.trust_proxy_headers` says a proxy we
run sits in front of the app (and overwrites or appends to them).
"""

from typing import Any

from qm.settings import Settings

UNKNOWN_ADDRESS = "unknown"


def _header(scope: Any, name: bytes) -> str | None:
    """The value of the first header called `name` (lower case), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def client_address(scope: Any, settings: Settings) -> str:
    """The address of the client that sent this request.

    With trusted proxy headers this is the last address of `X-Forwarded-For`: the one our
    proxy appended, i.e. the peer it saw. Earlier entries were written by the client and
    may be forged, so trusting them would let an attacker pick a fresh address for every
    sign-in attempt and slip past the per-address throttle.
    """
    if settings.trust_proxy_headers:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last[:100]
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN_ADDRESS


def site_is_https(settings: Settings) -> bool:
    """True when the site's public address is an https:// URL."""
    return bool(settings.public_url and settings.public_url.lower().startswith("https://"))


def request_is_https(scope: Any, settings: Settings) -> bool:
    """True when the browser reached us over HTTPS.

    That is the case when the public address is https://, when the request itself came in
    over TLS, or when a trusted proxy says it terminated TLS (`X-Forwarded-Proto: https`).
    """
    if site_is_https(settings) or scope.get("scheme") in ("https", "wss"):
        return True
    if settings.trust_proxy_headers:
        proto = _header(scope, b"x-forwarded-proto") or ""
        # A chain of proxies may list several; the first is what the browser used. (A
        # forged "https" here could only make cookies stricter.)
        return proto.split(",")[0].strip().lower() == "https"
    return False
