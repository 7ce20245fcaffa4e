"""Every page works in a real browser under the Content-Security-Policy, with no request
leaving the site: signing in, the call list and call page, the user admin page and the
API docs (Swagger UI served by the app itself)."""

from collections.abc import Callable
from typing import Any

from qm.models import Role
from tests.e2e.conftest import Server
from tests.factories import PASSWORD, make_call, make_transcript, make_user

# Collects what the page's CSP blocked; injected by the browser, so the CSP does not apply.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def open_page(browser: Any, server: Server) -> tuple[Any, list[str], list[str]]:
    """A new page that refuses (and lists) requests to any other site, and lists errors."""
    page = browser.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(server.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.add_init_script(WATCH_CSP)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, outside, errors


def violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations")
    return found


def test_pages_and_api_docs_work_under_the_csp_offline(
    browser: Any, server: Server, seed: Callable[..., None]
) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    seed(lambda s: make_call(s, "c-1"))
    seed(
        lambda s: make_transcript(
            s, "c-1", [("agent", 0.0, 2.0, "thank you for calling"), ("customer", 2.5, 4.0, "hi")]
        )
    )
    page, outside, errors = open_page(browser, server)

    response = page.goto(f"{server.base_url}/calls")
    assert response is not None
    assert "/login" in page.url  # signed out: sent to the login page
    assert "default-src 'self'" in (response.headers.get("content-security-policy") or "")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")  # not the language switch
    page.wait_for_url(f"{server.base_url}/calls")
    assert page.locator("text=c-1").first.is_visible()
    assert violations(page) == []

    page.click("a[href='/calls/c-1']")
    page.wait_for_url(f"{server.base_url}/calls/c-1")
    assert page.locator("text=thank you for calling").first.is_visible()
    assert violations(page) == []

    page.goto(f"{server.base_url}/users")
    assert page.locator("text=ada").first.is_visible()
    assert violations(page) == []

    page.goto(f"{server.base_url}/schema")
    # Swagger UI renders the schema's title and the call routes from the app's own files.
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "QM" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/calls']", timeout=15000)
    assert violations(page) == []

    assert outside == []
    assert errors == []
