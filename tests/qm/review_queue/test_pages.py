"""The review queue over HTTP: the page, starting a review, sampling and rules pages, the
JSON API, and every refusal."""

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.models import Evaluation, PickState, ReviewPick, Role, Team
from tests.qm.review_queue.helpers import (
    MARCH,
    TODAY,
    bank_form,
    done_call,
    user,
    veteran,
)
from tests.qm.review_queue.test_queue import world
from tests.qm.web.conftest import Client, csrf_token, login, soup


@pytest.fixture
def queued(seed: Any) -> None:
    """The world of test_queue: rev1/rev2 in turn, mgr of north (a-1), agent1, admin."""
    seed(world)


def picks(engine: Engine, **where: Any) -> list[ReviewPick]:
    with Session(engine) as session:
        query = select(ReviewPick).order_by(col(ReviewPick.id))
        for key, value in where.items():
            query = query.where(getattr(ReviewPick, key) == value)
        return list(session.exec(query).all())


def rows(html: str) -> list[Any]:
    return soup(html).select("#queue tbody tr")


def user_id(engine: Engine, name: str) -> int:
    from qm.models import User

    with Session(engine) as session:
        found = session.exec(select(User).where(User.username == name)).one()
        return found.id or 0


def test_a_reviewer_sees_their_own_picks_with_reasons_due_and_workload(
    client: Client, queued: None, engine: Engine
) -> None:
    login(client, "rev1")
    page = client.get("/review")
    assert page.status_code == 200
    html = soup(page.text)
    assert html.select_one('nav a[href="/review"]') is not None
    mine = rows(page.text)
    expected = picks(engine, reviewer_id=user_id(engine, "rev1"))
    assert len(mine) == len(expected) > 0
    assert {r["data-pick-id"] for r in mine} == {str(p.id) for p in expected}
    first = mine[0]
    assert first.select_one('a[href^="/calls/"]') is not None
    assert "overdue" in first["class"]  # due 2024-04-09, long past
    assert first.select_one("form.start button") is not None
    workload = {
        tr.select("td")[0].text.strip(): [td.text for td in tr.select("td.num")]
        for tr in html.select("#workload tbody tr")
    }
    assert set(workload) >= {"rev1", "rev2"}
    assert workload["rev1"][0] == str(len(expected))  # assigned
    assert html.select_one("#run-sampling") is None  # leads only

    everyone = client.get("/review", params={"reviewer": "all"})
    assert len(rows(everyone.text)) == 5


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"reason": "transfer"}, {"a-2-t"}),
        ({"agent": "a-1"}, {"a-1-1", "a-1-2", "a-1-3"}),
        ({"state": "done"}, set()),
        ({"due": "today"}, set()),
        ({"period": "2024-02"}, set()),
    ],
)
def test_filters(client: Client, queued: None, params: dict[str, str], expect: set[str]) -> None:
    login(client, "admin")
    page = client.get("/review", params=params)
    assert page.status_code == 200
    calls = {r.select_one("a").text for r in rows(page.text)}
    if params.get("agent") == "a-1":
        assert calls and calls <= expect
    else:
        assert calls == expect


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reason": "rudeness"}, "reason"),
        ({"due": "someday"}, "due"),
        ({"state": "lost"}, "state"),
        ({"reviewer": "x"}, "reviewer"),
        ({"period": "2024-13"}, "period"),
        ({"page": "-1"}, "page"),
    ],
)
def test_bad_filters_are_refused_naming_the_parameter(
    client: Client, queued: None, params: dict[str, str], field: str
) -> None:
    login(client, "rev1")
    page = client.get("/review", params=params)
    assert page.status_code == 422
    assert f"field {field}" in page.text
    api = client.get("/api/review-queue", params=params)
    assert api.status_code == 422
    assert api.json()["field"] == field
    twice = client.get("/api/review-queue?state=open&state=done")
    assert twice.status_code == 422 and twice.json()["field"] == "state"


def test_start_review_starts_the_evaluation_and_goes_to_the_call(
    client: Client, queued: None, engine: Engine
) -> None:
    login(client, "rev1")
    pick = picks(engine, reviewer_id=user_id(engine, "rev1"))[0]
    token = csrf_token(client, "/review")

    refused = client.post(f"/review/{pick.id}/start", follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token

    started = client.post(
        f"/review/{pick.id}/start", data={"_csrf_token": token}, follow_redirects=False
    )
    assert started.status_code == 303
    with Session(engine) as session:
        evaluation = session.exec(select(Evaluation)).one()
        assert (evaluation.call_id, evaluation.sample) == (pick.call_id, pick.sample)
    assert started.headers["location"] == f"/calls/{pick.call_id}?evaluation={evaluation.id}"
    (stored,) = picks(engine, id=pick.id)
    assert (stored.state, stored.evaluation_id) == (PickState.IN_PROGRESS, evaluation.id)

    again = client.post(
        f"/review/{pick.id}/start", data={"_csrf_token": token}, follow_redirects=False
    )
    assert again.headers["location"] == started.headers["location"]  # reopens the draft
    page = client.get("/review", params={"state": "in_progress"})
    (row,) = rows(page.text)
    assert "Continue review" in row.text

    # Another reviewer's pick, a missing pick, someone else's started pick.
    other = picks(engine, reviewer_id=user_id(engine, "rev2"))[0]
    for path, status in ((f"/review/{other.id}/start", 403), ("/review/99999/start", 404)):
        response = client.post(path, data={"_csrf_token": token}, follow_redirects=False)
        assert response.status_code == status, path
    client.post("/logout", data={"_csrf_token": token})
    login(client, "admin")
    token = csrf_token(client, "/review")
    taken = client.post(
        f"/review/{pick.id}/start", data={"_csrf_token": token}, follow_redirects=False
    )
    assert taken.status_code == 409


def test_skip_a_pick(client: Client, queued: None, engine: Engine) -> None:
    login(client, "rev2")
    pick = picks(engine, reviewer_id=user_id(engine, "rev2"))[0]
    token = csrf_token(client, "/review")
    empty = client.post(f"/review/{pick.id}/skip", data={"_csrf_token": token, "why": ""})
    assert empty.status_code == 422 and "field why" in empty.text
    done = client.post(
        f"/review/{pick.id}/skip",
        data={"_csrf_token": token, "why": "test call"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert picks(engine, id=pick.id)[0].state == PickState.SKIPPED


def test_agents_are_refused_everywhere(client: Client, queued: None, engine: Engine) -> None:
    login(client, "agent1")
    assert soup(client.get("/calls").text).select_one('nav a[href="/review"]') is None
    assert client.get("/review").status_code == 403
    assert client.get("/review/rules").status_code == 403
    assert client.get("/api/review-queue").status_code == 403
    token = csrf_token(client, "/calls")
    pick = picks(engine)[0]
    for path in (f"/review/{pick.id}/start", "/review/sample", "/review/rules"):
        response = client.post(path, data={"_csrf_token": token, "period": "2024-03"})
        assert response.status_code == 403, path
    assert picks(engine, state=PickState.OPEN) == picks(engine)


def test_a_manager_sees_their_team_and_runs_sampling(
    client: Client, queued: None, engine: Engine
) -> None:
    login(client, "mgr")
    page = client.get("/review")
    agents = {r.select("td")[1].text for r in rows(page.text)}
    assert agents == {"a-1"}
    assert soup(page.text).select_one("#run-sampling") is not None
    token = csrf_token(client, "/review")

    bad = client.post("/review/sample", data={"_csrf_token": token, "period": "2024-3"})
    assert bad.status_code == 422 and "field period" in bad.text
    ran = client.post(
        "/review/sample", data={"_csrf_token": token, "period": "2024-03"}, follow_redirects=False
    )
    assert ran.status_code == 303
    assert ran.headers["location"] == "/review?reviewer=all&period=2024-03&sampled=0"
    shown = client.get(ran.headers["location"])
    assert "made 0 new pick(s)" in shown.text
    assert len(picks(engine)) == 5  # idempotent: the month was sampled already


def test_a_reviewer_may_not_run_sampling_or_set_rules(client: Client, queued: None) -> None:
    login(client, "rev1")
    token = csrf_token(client, "/review")
    assert (
        client.post("/review/sample", data={"_csrf_token": token, "period": "2024-03"}).status_code
        == 403
    )
    assert client.get("/review/rules").status_code == 403


def test_rules_page(client: Client, queued: None, seed: Any, engine: Engine) -> None:
    seed(lambda s: s.add(Team(id="south", name="South")))
    login(client, "admin")
    page = client.get("/review/rules")
    assert page.status_code == 200
    assert len(soup(page.text).select("#rules tbody tr")) == 1  # the world's site rule
    token = csrf_token(client, "/review/rules")
    form = {
        "_csrf_token": token,
        "team_id": "north",
        "queue": "billing",
        "random_per_agent": "3",
        "targeted_per_agent": "1",
        "low_courtesy_percent": "50",
        "due_days": "3",
        "assignment": "by_load",
        "reasons": ["critical-miss", "transfer"],
        "reviewers": "rev2",
        "active": "on",
    }
    saved = client.post("/review/rules", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    listed = soup(client.get("/review/rules").text).select("#rules tbody tr")
    assert len(listed) == 2
    north = next(tr for tr in listed if "north" in tr.text)
    assert "critical-miss" in north.text and "transfer" in north.text and "rev2" in north.text
    assert "50%" in north.text

    bad = client.post("/review/rules", data=form | {"random_per_agent": "many"})
    assert bad.status_code == 422
    assert "field random_per_agent" in str(soup(bad.text).select_one(".alert"))
    bad = client.post("/review/rules", data=form | {"reasons": "rudeness"})
    assert bad.status_code == 422 and "field reasons" in bad.text

    south = client.post("/review/rules", data=form | {"team_id": "south"}, follow_redirects=False)
    assert south.status_code == 303
    client.post("/logout", data={"_csrf_token": token})
    login(client, "mgr")
    token = csrf_token(client, "/review/rules")
    seen = soup(client.get("/review/rules").text).select("#rules tbody tr")
    assert len(seen) == 2  # the site rule and north's, not south's
    assert "south" not in str(seen)
    outside = client.post("/review/rules", data=form | {"_csrf_token": token, "team_id": "south"})
    assert outside.status_code == 403
    assert "team they manage" in outside.text


def test_the_api_lists_the_callers_picks_with_reasons(
    client: Client, queued: None, engine: Engine
) -> None:
    login(client, "rev1")
    body = client.get("/api/review-queue").json()
    rev1 = user_id(engine, "rev1")
    assert body["total"] == len(picks(engine, reviewer_id=rev1)) == len(body["items"])
    item = body["items"][0]
    assert item["reviewer"]["id"] == rev1
    assert item["sample"] in ("random", "targeted:transfer")
    assert set(item) >= {"call_id", "agent", "queue", "started_at", "reasons", "due", "state"}
    assert item["due"] == "2024-04-09" and item["overdue"] is True
    assert item["state"] == "open"

    client.post("/logout", data={"_csrf_token": csrf_token(client, "/review")})
    login(client, "admin")
    everything = client.get("/api/review-queue").json()
    assert everything["total"] == 5
    targeted = client.get("/api/review-queue", params={"reason": "transfer"}).json()
    assert [(i["call_id"], i["sample"], i["reasons"]) for i in targeted["items"]] == [
        ("a-2-t", "targeted:transfer", ["transfer"])
    ]


def test_the_api_is_in_the_openapi_schema(client: Client, queued: None) -> None:
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/api/review-queue"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"reason", "agent", "queue", "due", "state", "reviewer", "period", "page"} <= names
    assert "QueuedCall" in str(schema["components"]["schemas"])


def test_chinese_calls_and_reviewers(client: Client, seed: Any, engine: Engine) -> None:
    from qm.domain.review_queue.sampling import sample_period

    def build(session: Session) -> None:
        user(session, "李娜")
        bank_form(session)
        veteran(session, "张伟")
        from qm.models import Agent

        agent = session.get(Agent, "张伟")
        assert agent is not None
        agent.name = "张伟（客服）"
        done_call(session, "通话-001", agent_id="张伟", transfers=1)
        sample_period(session, period=MARCH, today=TODAY, seed=1)

    seed(build)
    login(client, "李娜")
    page = client.get("/review")
    (row,) = rows(page.text)
    assert "张伟（客服）" in row.text
    assert row.select_one("a")["href"] == "/calls/%E9%80%9A%E8%AF%9D-001"
    (pick,) = picks(engine)
    token = csrf_token(client, "/review")
    started = client.post(
        f"/review/{pick.id}/start", data={"_csrf_token": token}, follow_redirects=False
    )
    assert started.status_code == 303
    assert started.headers["location"].startswith("/calls/%E9%80%9A%E8%AF%9D-001?evaluation=")
    api = client.get("/api/review-queue").json()
    assert api["items"][0]["agent"] == {"id": "张伟", "name": "张伟（客服）"}
    assert api["items"][0]["state"] == "in_progress"
    assert Role.REVIEWER.value == "reviewer"
