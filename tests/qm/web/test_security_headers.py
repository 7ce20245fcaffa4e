"""Security headers on every response, HSTS only on HTTPS sites, and pages that work
under the Content-Security-Policy (no inline script or style)."""

from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from qm.app import create_app
from qm.models import Role
from qm.settings import Settings
from qm.web.security_headers import CONTENT_SECURITY_POLICY
from tests.conftest import SQLITE_ONLY
from tests.factories import make_call, make_user
from tests.qm.web.conftest import Client, login, soup

# Response headers and the pages' markup do not depend on the database back end.
pytestmark = SQLITE_ONLY

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_every_response_carries_the_headers(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    anonymous = ["/login", "/calls", "/api/calls", "/static/qm.css", "/health", "/no-such-page"]
    responses = [client.get(path, follow_redirects=False) for path in anonymous]
    login(client, "rita")
    responses += [client.get("/calls"), client.get("/calls/missing"), client.get("/users")]
    assert [r.status_code for r in responses] == [200, 303, 401, 200, 200, 404, 200, 404, 403]
    for response in responses:
        headers = response.headers
        for name, value in EXPECTED.items():
            assert headers[name] == value, (response.url, name)
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "camera=()" in headers["permissions-policy"]
        assert "strict-transport-security" not in headers
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["base-uri"] == "'self'"
    assert policy["object-src"] == "'none'"


@pytest.mark.parametrize(
    ("changes", "headers", "hsts"),
    [
        ({"public_url": "https://qm.example.com"}, {}, True),
        ({"public_url": "http://qm.local"}, {}, False),
        # Production behind a TLS-terminating proxy we trust.
        (
            {"environment": "production", "trust_proxy_headers": True},
            {"X-Forwarded-Proto": "https"},
            True,
        ),
        ({"environment": "production", "trust_proxy_headers": True}, {}, False),
        # A development server never pins browsers to HTTPS.
        ({"trust_proxy_headers": True}, {"X-Forwarded-Proto": "https"}, False),
    ],
)
def test_hsts_only_when_the_site_is_https(
    engine: Engine,
    settings: Settings,
    changes: dict[str, Any],
    headers: dict[str, str],
    hsts: bool,
) -> None:
    site = settings.model_copy(update={"secret_key": "p" * 40, **changes})
    with TestClient(create_app(site)) as client:
        response = client.get("/login", headers=headers)
    assert response.status_code == 200
    assert ("strict-transport-security" in response.headers) is hsts
    if hsts:
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def assert_no_inline_code(html: str, where: str) -> None:
    """Nothing the CSP would block: inline scripts, style elements or attributes, handlers."""
    page = soup(html)
    for script in page.find_all("script"):
        assert script.get("src"), f"inline <script> on {where}"
    assert page.find("style") is None, f"<style> on {where}"
    for element in page.find_all(True):
        assert "style" not in element.attrs, f"style= on {where}: {element.name}"
        handlers = [a for a in element.attrs if a.startswith("on")]
        assert not handlers, f"{handlers} on {where}: {element.name}"
        for attribute in ("href", "src", "action"):
            value = str(element.get(attribute) or "")
            assert not value.lower().startswith("javascript:"), f"{attribute} on {where}"
            assert not value.startswith(("http://", "https://", "//")), f"off-site {value}"


def test_pages_have_no_inline_code(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    seed(lambda s: make_call(s, "c-1"))
    pages = {"/login": 200}
    for path, status in pages.items():
        response = client.get(path)
        assert response.status_code == status
        assert_no_inline_code(response.text, path)
    login(client, "ada")
    for path, status in {
        "/calls": 200,
        "/calls/c-1": 200,
        "/users": 200,
        "/calls/nope": 404,
    }.items():
        response = client.get(path)
        assert response.status_code == status, path
        assert_no_inline_code(response.text, path)
