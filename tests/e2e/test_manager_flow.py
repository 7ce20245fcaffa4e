"""A manager opens the dashboard and drills down to the calls behind a figure: once with
the UI in English and once in Chinese (`?lang=zh-CN` on the sign-in page sets the
cookie), with a Chinese-named team and agents. The assertions use ids and data
attributes, not translated text. Screenshots: `manager-dashboard-{en,zh}.png` and
`manager-drilldown-{en,zh}.png` in `test-artifacts/screenshots/`.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_pages_under_csp import open_page, violations
from tests.e2e.test_reviewer_workspace import shot
from tests.factories import PASSWORD
from tests.qm.dashboard_world import MARCH, build_dashboard_world

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def sign_in(browser: Any, server: Server) -> Iterator[Any]:
    """A signed-in page in the UI language asked for; after the test, checks there was no
    CSP violation, page error or request to another site."""
    opened: list[tuple[Any, list[str], list[str]]] = []

    def open_as(username: str, lang: str) -> Any:
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN" if lang == "zh" else "en-US")
        page, outside, errors = open_page(context, server)
        opened.append((page, outside, errors))
        page.goto(f"{server.base_url}/login?lang={'zh-CN' if lang == 'zh' else 'en'}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not sign in"
        return page

    yield open_as
    for page, outside, errors in opened:
        assert outside == [], outside
        assert violations(page) == []
        assert [e for e in errors if "favicon" not in e] == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_manager_opens_the_dashboard_and_drills_down(
    sign_in: Any, server: Server, seed: Any, lang: str
) -> None:
    seed(build_dashboard_world)
    manager = sign_in("mgr", lang)
    base = server.base_url

    # The navigation's dashboard link leads a manager of one team straight to it.
    manager.goto(f"{base}/calls")
    manager.click("header nav a[href='/dashboard']")
    manager.wait_for_load_state()
    assert urlparse(manager.url).path == "/teams/north/dashboard"
    manager.goto(f"{base}/teams/north/dashboard?period={MARCH}")
    assert manager.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en")
    assert "北区" in manager.inner_text("h1")
    assert manager.locator("#headline .figure").count() == 8
    assert manager.locator("#agents tbody tr").count() == 2
    assert "王芳" in manager.inner_text("#agents")
    # The charts are drawn: inline SVG with the agents' Chinese names on the scatter.
    assert manager.locator("svg.chart").count() == 9
    box = manager.locator("svg.chart").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 80
    assert "王芳" in manager.locator("svg.chart").nth(6).text_content()
    shot(manager, f"manager-dashboard-{lang}")

    # Sorting by name is done by the server and keeps the period.
    manager.click("#agents thead a[href*='sort=name']")
    manager.wait_for_load_state()
    assert parse_qs(urlparse(manager.url).query)["period"] == [MARCH]

    # Drill down from the most-missed key point to the calls where it was missed.
    manager.goto(f"{base}/teams/north/dashboard?period={MARCH}")
    expected = int(manager.inner_text("#missed tr[data-item='verify'] .count"))
    manager.click("#missed tr[data-item='verify'] a")
    manager.wait_for_load_state()
    query = parse_qs(urlparse(manager.url).query)
    assert urlparse(manager.url).path == "/calls"
    assert query["missed"] == ["verify"] and query["team"] == ["north"]
    assert manager.locator("#calls tbody tr").count() == expected == 4
    shot(manager, f"manager-drilldown-{lang}")

    # An agent's row leads to that agent's calls of the month.
    manager.go_back()
    manager.wait_for_load_state()
    manager.click("#agents tr[data-agent='a-2'] td a >> nth=0")
    manager.wait_for_load_state()
    ids = [
        manager.locator("#calls tbody tr").nth(i).get_attribute("data-call-id") for i in range(3)
    ]
    assert sorted(ids) == ["c-2-0", "c-2-1", "c-2-2"]

    # Another team's dashboard is not found.
    # (asked with the page's cookies without opening it: a 404 page logs a console error)
    assert manager.request.get(f"{base}/teams/south/dashboard").status == 404
