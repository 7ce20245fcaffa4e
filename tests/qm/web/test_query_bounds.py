"""Odd query and path values get a clear 4xx naming the parameter, never a 500; a call the
caller may not see answers exactly like a call that does not exist, for every role."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from qm.models import Agent, Role, Team, User, UserTeam
from tests.factories import make_call, make_user
from tests.qm.web.conftest import Client, login, soup
from tests.qm.web.test_calls_list import build_calls

PROBLEM = "application/problem+json"
PARAMS = ("agent", "queue", "reason", "from", "to", "status", "compliance_below", "critical")
PARAMS += ("q", "page")
# Each of these has made the call list answer 500 at some point, or could have.
ODD = {
    "huge-number": "99999999999999999999",
    "last-day": "9999-12-31",
    "first-day": "0001-01-01",
    "float-max": "1e308",
    "nan": "nan",
    "minus-inf": "-inf",
    "nul": "\x00",
    "escape": "a\x1bb",
    "long": "a" * 60_000,  # over SQLite's 50,000-byte LIKE pattern limit
    "like-wildcards": "%_",
    "no-such-day": "2024-02-30",
}


@pytest.mark.parametrize("name", PARAMS)
def test_odd_parameter_is_refused_by_name_or_accepted(
    reviewer: Client, seed: Any, name: str
) -> None:
    seed(build_calls)
    for label, value in ODD.items():
        api = reviewer.get("/api/calls", params={name: value})
        page = reviewer.get("/calls", params={name: value})
        assert api.status_code in (200, 422), f"{label}: {api.text[:300]}"
        assert page.status_code == api.status_code, label
        if api.status_code == 422:
            body = api.json()
            assert api.headers["content-type"].startswith(PROBLEM)
            assert (body["file"], body["row"], body["field"]) == ("query", None, name)
            # The message is short even when the value was not: no 60,000-character echo.
            assert len(body["detail"]) < 200, label
            detail = soup(page.text).select_one(".detail")
            assert detail is not None and f"field {name}" in detail.text, label


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"page": "99999999999999999999"}, "page", "must be 100,000 or less"),
        ({"page": "100001"}, "page", "must be 100,000 or less"),
        ({"to": "9999-12-31"}, "to", "must be a day from 1970-01-01 to 2100-12-31"),
        ({"from": "1969-12-31"}, "from", "must be a day from 1970-01-01 to 2100-12-31"),
        ({"q": "a" * 201}, "q", "is longer than 200 characters"),
        ({"q": "a\x00b"}, "q", "contains a control character (U+0000)"),
        ({"agent": "x" * 65}, "agent", "is longer than 64 characters"),
        ({"compliance_below": "nan"}, "compliance_below", "percentage from 0 to 100"),
    ],
)
def test_bounds_are_named(
    reviewer: Client, query: dict[str, str], field: str, message: str
) -> None:
    body = reviewer.get("/api/calls", params=query).json()
    assert body["status"] == 422 and body["field"] == field
    assert message in body["detail"]


def test_values_at_the_bounds_are_accepted(reviewer: Client, seed: Any) -> None:
    seed(build_calls)
    query = {"from": "1970-01-01", "to": "2100-12-31", "page": "100000", "q": "c" * 200}
    body = reviewer.get("/api/calls", params=query).json()
    assert (body["total"], body["page"], body["items"]) == (0, 100000, [])
    everything = reviewer.get("/api/calls", params={"from": "1970-01-01", "to": "2100-12-31"})
    assert everything.json()["total"] == 5


def test_search_is_normalised_to_nfc(reviewer: Client, seed: Any) -> None:
    seed(lambda s: make_call(s, "caf\u00e9-1"))
    decomposed = "cafe\u0301"
    body = reviewer.get("/api/calls", params={"q": f"  {decomposed} "}).json()
    assert [item["call_id"] for item in body["items"]] == ["caf\u00e9-1"]


@pytest.mark.parametrize(
    "call_id",
    ["x" * 5000, "c-1%00", "c-1%1b", "%F0%9F%92%A9" * 50],
    ids=["long", "nul", "esc", "emoji"],
)
def test_odd_call_ids_are_not_found(reviewer: Client, seed: Any, call_id: str) -> None:
    seed(build_calls)
    api = reviewer.get(f"/api/calls/{call_id}")
    page = reviewer.get(f"/calls/{call_id}")
    assert (api.status_code, page.status_code) == (404, 404)
    assert api.headers["content-type"].startswith(PROBLEM)
    assert len(api.json()["detail"]) < 200


def _sign_in(client: Client, seed: Callable[..., None], role: Role) -> None:
    name = f"user-{role.value}"
    seed(lambda s: make_user(s, name, role, agent_id="a-1" if role == Role.AGENT else None))
    if role == Role.MANAGER:
        # The manager manages a-1's team, not a-2's: a-2's calls are hidden as from a-1.
        seed(lambda s: _manage_a1(s, name))
    login(client, name)


def _manage_a1(s: Session, username: str) -> None:
    s.add(Team(id="north", name="north"))
    s.flush()
    agent = s.get(Agent, "a-1")
    user = s.exec(select(User).where(User.username == username)).one()
    assert agent is not None and user.id is not None
    agent.team_id = "north"
    s.add(UserTeam(user_id=user.id, team_id="north"))


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_hidden_and_missing_calls_answer_alike(
    client: Client, seed: Callable[..., None], role: Role
) -> None:
    """A call of agent a-2 is hidden from a-1's agent; "c-9" does not exist at all. Nobody can
    tell the two apart: same status, same body once the id itself is set aside."""
    seed(build_calls)
    _sign_in(client, seed, role)
    may_see_a2 = role in (Role.REVIEWER, Role.ADMIN)
    for prefix in ("/api/calls/", "/calls/"):
        other = client.get(prefix + "c-3")
        missing = client.get(prefix + "c-9")
        assert missing.status_code == 404
        if may_see_a2:
            assert other.status_code == 200
            continue
        assert other.status_code == 404
        assert other.headers["content-type"] == missing.headers["content-type"]
        assert other.text.replace("c-3", "ID") == missing.text.replace("c-9", "ID")
    # The agent's own call is there, so the 404s above are about visibility, not a broken page.
    assert client.get("/api/calls/c-1").status_code == 200


def test_signed_out_caller_learns_nothing_either(client: Client, seed: Any) -> None:
    seed(build_calls)
    existing, missing = client.get("/api/calls/c-3"), client.get("/api/calls/c-9")
    assert existing.status_code == missing.status_code == 401
    assert existing.json()["detail"] == missing.json()["detail"]


def test_a_parameter_given_twice_is_refused_alike_on_page_and_api(reviewer: Client) -> None:
    for query in ("agent=a-1&agent=a-2", "page=2&page=1", "from=2024-03-01&from=x"):
        api, page = reviewer.get(f"/api/calls?{query}"), reviewer.get(f"/calls?{query}")
        assert (api.status_code, page.status_code) == (422, 422), query
        name = query.split("=")[0]
        assert api.json()["field"] == name
        assert "is given more than once" in api.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["/static/%00", "/static/" + "a" * 5000, "/static/swagger-ui/%00", "/static/qm.css/x"],
    ids=["nul", "too-long", "nul-in-swagger", "under-a-file"],
)
def test_static_names_no_file_can_have_are_not_found(client: Client, path: str) -> None:
    assert client.get(path).status_code == 404
    assert client.get("/static/qm.css").status_code == 200
