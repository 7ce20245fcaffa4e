"""The team dashboard pages and API: who may open them, what they show, where they link."""

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pytest

from qm.models import Role
from tests.factories import make_user
from tests.qm.dashboard_world import MARCH, build_dashboard_world
from tests.qm.web.conftest import Client, login, soup

PAGE = "/teams/north/dashboard"
API = "/api/teams/north/dashboard"


@pytest.fixture
def world(seed: Callable[..., None]) -> None:
    seed(build_dashboard_world)


def test_manager_of_one_team_goes_straight_to_it(client: Client, world: None) -> None:
    login(client, "mgr")
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == PAGE


def test_admin_picks_among_every_team(client: Client, world: None) -> None:
    login(client, "boss")
    page = soup(client.get("/dashboard").text)
    links = {a.get_text(): a["href"] for a in page.select("#teams a")}
    assert links == {"北区": "/teams/north/dashboard", "南区": "/teams/south/dashboard"}
    assert client.get("/teams/south/dashboard?period=2024-03").status_code == 200


def test_page_shows_figures_agents_charts(client: Client, world: None) -> None:
    login(client, "mgr")
    response = client.get(f"{PAGE}?period={MARCH}")
    assert response.status_code == 200, response.text
    page = soup(response.text)
    assert "北区" in page.select_one("h1").get_text()
    metrics = [a["data-metric"] for a in page.select("#headline .figure")]
    assert metrics[:2] == ["composite", "fcr"]
    agents = [tr["data-agent"] for tr in page.select("#agents tbody tr")]
    assert agents == ["a-1", "a-2"]  # ranked first; a-2 has too few calls to be ranked
    a2 = page.select_one("#agents tr[data-agent='a-2'] .rank").get_text(strip=True)
    assert a2 == "not enough data"
    assert "Bob" not in response.text  # south's agent
    # Every chart is inline SVG without style attributes (the CSP refuses them).
    svgs = page.select("svg.chart")
    assert len(svgs) == 9
    assert not any(tag.has_attr("style") for svg in svgs for tag in svg.find_all(True))
    assert "核实身份" in page.select_one("#missed").get_text()
    assert [tr["data-assignment"] for tr in page.select("#training tr.overdue")]


def test_every_figure_drills_down_to_its_calls(client: Client, world: None) -> None:
    login(client, "mgr")
    page = soup(client.get(f"{PAGE}?period={MARCH}").text)

    def query(selector: str) -> dict[str, list[str]]:
        link = page.select_one(selector)
        assert link is not None, selector
        return parse_qs(urlparse(str(link["href"])).query)

    team = query("#headline .figure[data-metric='fcr']")
    assert team == {"team": ["north"], "from": ["2024-03-01"], "to": ["2024-03-31"]}
    agent = query("#agents tr[data-agent='a-1'] td a")
    assert agent["agent"] == ["a-1"] and "team" not in agent
    assert query("#missed tr[data-item='verify'] a")["missed"] == ["verify"]
    assert query("#missed tr[data-item='blame'] a")["forbidden"] == ["blame"]
    # Following the links lists exactly the calls behind the figures.
    href = str(page.select_one("#missed tr[data-item='verify'] a")["href"])
    listed = soup(client.get(href).text).select("#calls tbody tr")
    count = page.select_one("#missed tr[data-item='verify'] .count").get_text(strip=True)
    assert len(listed) == int(count) == 4
    forbidden = str(page.select_one("#missed tr[data-item='blame'] a")["href"])
    assert [
        tr["data-call-id"] for tr in soup(client.get(forbidden).text).select("#calls tbody tr")
    ] == ["c-2-0"]
    everyone = soup(client.get(str(page.select_one("#all-calls")["href"])).text)
    assert len(everyone.select("#calls tbody tr")) == 15


def test_table_sorts_on_the_server(client: Client, world: None) -> None:
    login(client, "mgr")
    by_name = soup(client.get(f"{PAGE}?period={MARCH}&sort=name&dir=asc").text)
    names = [tr.select("td a")[0].get_text() for tr in by_name.select("#agents tbody tr")]
    assert names == sorted(names, key=str.casefold)
    by_contacts = soup(client.get(f"{PAGE}?period={MARCH}&sort=contacts&dir=asc").text)
    assert [tr["data-agent"] for tr in by_contacts.select("#agents tbody tr")] == ["a-2", "a-1"]
    bad = client.get(f"{PAGE}?sort=shoe-size")
    assert bad.status_code == 422 and "sort" in bad.text
    assert client.get(f"{PAGE}?dir=up").status_code == 422


def test_api_body(client: Client, world: None) -> None:
    login(client, "mgr")
    body = client.get(API, params={"period": MARCH}).json()
    assert body["team_name"] == "北区" and body["period"] == MARCH
    agents = {a["agent_id"]: a for a in body["agents"]}
    assert agents["a-1"]["rank"] == 1 and agents["a-2"]["rank"] is None
    headline = {h["metric"]: h for h in body["headline"]}
    assert headline["transfer_rate"]["estimate"]["n"] == 15
    assert len(headline["transfer_rate"]["estimate"]["ci95"]) == 2
    assert [p["period"] for p in body["trend"]][-1] == MARCH
    assert body["coverage"] == {"calls": 15, "evaluations": 2, "random": 1, "targeted": 1}
    assert body["training"][0]["overdue"] is True
    # Without a period: the month of the team's newest call.
    assert client.get(API).json()["period"] == MARCH
    schema = client.get("/schema/openapi.json").json()
    assert "/api/teams/{team_id}/dashboard" in schema["paths"]


@pytest.mark.parametrize(
    ("username", "url", "status"),
    [
        ("mgr", "/teams/south/dashboard", 404),
        ("mgr", "/api/teams/south/dashboard", 404),
        ("mgr", "/teams/nowhere/dashboard", 404),
        ("mgr", "/api/teams/nowhere/dashboard", 404),
        ("mgr-s", PAGE, 404),
        ("mgr-s", API, 404),
        ("rita", PAGE, 403),
        ("rita", API, 403),
        ("rita", "/dashboard", 403),
        ("wang", PAGE, 403),
        ("wang", API, 403),
        ("wang", "/dashboard", 403),
        ("boss", PAGE, 200),
        ("boss", API, 200),
    ],
)
def test_who_may_open_which_dashboard(
    client: Client, world: None, username: str, url: str, status: int
) -> None:
    login(client, username)
    assert client.get(url).status_code == status


def test_hidden_team_answers_like_a_missing_one(client: Client, world: None) -> None:
    login(client, "mgr")
    hidden, missing = (
        client.get("/api/teams/south/dashboard"),
        client.get("/api/teams/zz/dashboard"),
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("south", "X") == missing.json()["detail"].replace(
        "zz", "X"
    )


def test_bad_period_names_the_field(client: Client, world: None) -> None:
    login(client, "mgr")
    for url in (f"{PAGE}?period=2024-13", f"{API}?period=March"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert "period" in response.text
    twice = client.get(f"{API}?period=2024-03&period=2024-02")
    assert twice.status_code == 422 and "period" in twice.text


def test_chinese_page(client: Client, world: None) -> None:
    login(client, "mgr")
    response = client.get(f"{PAGE}?period={MARCH}&lang=zh-CN")
    assert response.status_code == 200
    page = soup(response.text)
    assert page.html is not None and page.html["lang"] == "zh-CN"
    assert "王芳" in page.select_one("#agents").get_text()
    assert "王芳" in "".join(t.get_text() for t in page.select("svg.chart text"))


def test_without_teams_the_page_says_so(client: Client, seed: Callable[..., None]) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    seed(lambda s: make_user(s, "lonely", Role.MANAGER))
    for username in ("ada", "lonely"):
        login(client, username)
        page = soup(client.get("/dashboard").text)
        assert page.select("#teams") == [] and page.select_one("p.empty") is not None
