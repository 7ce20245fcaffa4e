"""Managers see the calls of the teams they manage, nothing else (DESIGN.md, "Visibility"),
and the call list's drill-down filters `team` and `forbidden`."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session

from qm.domain.users import create_user
from qm.models import Agent, KeyPointResult, ResultKind, Role, Team
from tests.factories import PASSWORD, T0, make_call, make_script
from tests.qm.web.conftest import Client, login, soup


def build_world(s: Session) -> None:
    s.add(Team(id="north", name="北区"))
    s.add(Team(id="south", name="南区"))
    s.flush()
    s.add(Agent(id="a-1", name="王芳", team_id="north"))
    s.add(Agent(id="a-2", name="Bob", team_id="south"))
    s.flush()
    make_call(s, "c-north", agent_id="a-1", customer_id="k-1")
    make_call(s, "c-north-2", agent_id="a-1", customer_id="k-2", started_at=T0 + timedelta(1))
    make_call(s, "c-south", agent_id="a-2", customer_id="k-3")
    script = make_script(s)
    s.add(
        KeyPointResult(
            call_id="c-north-2",
            script_id=script.id or 0,
            kind=ResultKind.FORBIDDEN,
            item_id="blame",
            hit=True,
        )
    )
    s.add(
        KeyPointResult(
            call_id="c-north",
            script_id=script.id or 0,
            kind=ResultKind.FORBIDDEN,
            item_id="blame",
            hit=False,
        )
    )
    create_user(s, username="mgr", password=PASSWORD, role=Role.MANAGER, team_ids=("north",))
    create_user(s, username="nobody", password=PASSWORD, role=Role.MANAGER)
    create_user(s, username="rita", password=PASSWORD, role=Role.REVIEWER)


@pytest.fixture
def world(seed: Callable[..., None]) -> None:
    seed(build_world)


def listed(client: Client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return [a.get_text(strip=True) for a in soup(response.text).select("a[href^='/calls/c-']")]


def test_manager_lists_only_their_teams_calls(client: Client, world: None) -> None:
    login(client, "mgr")
    assert sorted(set(listed(client, "/calls"))) == ["c-north", "c-north-2"]
    items = client.get("/api/calls").json()["items"]
    assert sorted(i["call_id"] for i in items) == ["c-north", "c-north-2"]
    # Another team's agent is not offered in the filter form either.
    options = [o.get_text() for o in soup(client.get("/calls").text).select("option")]
    assert "王芳 (a-1)" in options and not any("Bob" in o for o in options)


def test_manager_opening_another_teams_call_gets_404(client: Client, world: None) -> None:
    login(client, "mgr")
    assert client.get("/calls/c-north").status_code == 200
    assert client.get("/api/calls/c-north").status_code == 200
    for url in ("/calls/c-south", "/api/calls/c-south", "/calls/c-south/audio"):
        hidden, missing = client.get(url), client.get(url.replace("c-south", "c-none"))
        assert hidden.status_code == missing.status_code == 404, url
    assert client.get("/calls?agent=a-2").status_code == 200
    assert listed(client, "/calls?agent=a-2") == []


def test_manager_of_no_team_sees_no_call(client: Client, world: None) -> None:
    login(client, "nobody")
    assert listed(client, "/calls") == []
    assert client.get("/calls/c-north").status_code == 404


def test_reviewer_still_sees_every_call(client: Client, world: None) -> None:
    login(client, "rita")
    assert sorted(set(listed(client, "/calls"))) == ["c-north", "c-north-2", "c-south"]


def test_team_and_forbidden_filters(client: Client, world: None) -> None:
    login(client, "rita")
    assert sorted(set(listed(client, "/calls?team=south"))) == ["c-south"]
    assert sorted(set(listed(client, "/calls?team=north"))) == ["c-north", "c-north-2"]
    assert listed(client, "/calls?forbidden=blame") == ["c-north-2"]
    # The filter form keeps them (they are not among its usual fields).
    form = soup(client.get("/calls?team=north&forbidden=blame").text).select_one("#filters")
    assert form is not None
    assert form.select_one("input[name=team]")["value"] == "north"
    assert form.select_one("input[name=forbidden]")["value"] == "blame"
    assert soup(client.get("/calls").text).select_one("#filters input[name=team]") is None
    api = client.get("/api/calls", params={"team": "north", "forbidden": "blame"}).json()
    assert [i["call_id"] for i in api["items"]] == ["c-north-2"]


def test_bad_team_filter_names_the_parameter(client: Client, world: None) -> None:
    login(client, "rita")
    response = client.get("/calls", params={"team": "x" * 65})
    assert response.status_code == 422
    assert "team" in response.text
    twice = client.get("/api/calls?team=north&team=south")
    assert twice.status_code == 422
    assert "team" in twice.text
