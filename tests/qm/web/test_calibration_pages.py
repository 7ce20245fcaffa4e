"""Calibration in the browser and over the JSON API: open a session as a manager, score
blind as two reviewers, close and compare, and every refusal on the way.

The "two-questions" form has two yes/no items, so a total is 100, 50 or 0. Call c-en has
an English transcript, call c-zh a Chinese one; the session's name is Chinese too.
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.app import create_app
from qm.domain.evaluations.calibration import calibration_results
from qm.domain.evaluations.commands import save_answers, submit
from qm.domain.evaluations.forms import load_form_file
from qm.domain.tokens import issue_token
from qm.domain.users import create_user
from qm.models import Agent, CalibrationSession, Evaluation, EvaluationKind, Role, Team, User
from qm.settings import Settings
from tests.factories import PASSWORD, make_call, make_results, make_transcript
from tests.qm.evaluations.conftest import FORMS
from tests.qm.web.conftest import Client, csrf_token, login, soup

NAME = "三月校准 March round"


@dataclass
class World:
    """Users by name (ids), and a function that gives a client signed in as one."""

    ids: dict[str, int]
    client_for: Callable[[str], Client]


@pytest.fixture
def world(engine: Engine, settings: Settings, seed: Any) -> Iterator[World]:
    def build(s: Session) -> dict[str, int]:
        make_call(s, "c-en", agent_id="a-1")
        make_transcript(
            s, "c-en", [("agent", 0.5, 3.0, "thank you for calling acme, this is anna")]
        )
        make_results(s, "c-en", [{"item_id": "greeting", "hit": True, "start": 0.5, "end": 3.0}])
        make_call(s, "c-zh", agent_id="a-2", queue="账单")
        make_transcript(
            s, "c-zh", [("agent", 0.4, 2.8, "您好，感谢致电，工号一二三为您服务")], language="zh"
        )
        load_form_file(s, FORMS / "two-questions.json", actor="admin")
        people = {
            "mgr": Role.MANAGER,
            "rev1": Role.REVIEWER,
            "rev2": Role.REVIEWER,
            "outsider": Role.REVIEWER,
            "boss": Role.ADMIN,
        }
        # The manager manages the team of both agents: a manager sees only the calls of
        # the teams they manage (DESIGN.md), and picks a session's calls among them.
        s.add(Team(id="north", name="north"))
        s.flush()
        for agent_id in ("a-1", "a-2"):
            agent = s.get(Agent, agent_id)
            assert agent is not None
            agent.team_id = "north"
        return {
            name: create_user(
                s,
                username=name,
                password=PASSWORD,
                role=role,
                team_ids=("north",) if role == Role.MANAGER else (),
            ).id
            or 0
            for name, role in people.items()
        }

    holder: dict[str, dict[str, int]] = {}
    seed(lambda s: holder.setdefault("ids", build(s)))
    with ExitStack() as stack:

        def client_for(username: str) -> Client:
            client = stack.enter_context(TestClient(create_app(settings)))
            login(client, username)
            return client

        yield World(holder["ids"], client_for)


def _open_session(client: Client, world: World, **extra: Any) -> Any:
    form = {
        "_csrf_token": csrf_token(client, "/calibrations/new"),
        "name": NAME,
        "form_key": "two-questions",
        "call_ids": ["c-en"],
        "pasted_ids": "c-zh\n",
        "reviewer_ids": [str(world.ids["rev1"]), str(world.ids["rev2"])],
        "expert_id": "",
        **extra,
    }
    return client.post("/calibrations", data=form, follow_redirects=False)


def _score(engine: Engine, username: str, answers: dict[str, str]) -> None:
    """`username` answers q1 and q2 of each call ("yn": q1 yes, q2 no) and submits."""
    words = {"y": "yes", "n": "no"}
    with Session(engine, expire_on_commit=False) as s:
        user = s.exec(select(User).where(col(User.username) == username)).one()
        for call_id, pair in answers.items():
            evaluation = s.exec(
                select(Evaluation).where(
                    col(Evaluation.reviewer_id) == user.id, col(Evaluation.call_id) == call_id
                )
            ).one()
            save_answers(
                s,
                evaluation.id or 0,
                actor=user,
                version=evaluation.version,
                answers={
                    "q1": {"answer": words[pair[0]]},
                    "q2": {"answer": words[pair[1]], "comment": "没有核实身份"},
                },
            )
            submit(s, evaluation.id or 0, actor=user)
        s.commit()


def _calibration_id(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(CalibrationSession.id)).one() or 0


def _bearer(engine: Engine, username: str) -> dict[str, str]:
    with Session(engine) as s:
        token = issue_token(s, username, actor="test")
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def test_manager_opens_a_session_from_search_and_pasted_ids(world: World, engine: Engine) -> None:
    mgr = world.client_for("mgr")
    page = soup(mgr.get("/calibrations/new", params={"q": "c-"}).text)
    found = {str(box["value"]) for box in page.select('#found-calls input[name="call_ids"]')}
    assert found == {"c-en", "c-zh"}
    # The search narrows the calls offered: here by words of the Chinese transcript.
    narrowed = soup(mgr.get("/calibrations/new", params={"q": "感谢致电"}).text)
    assert [str(b["value"]) for b in narrowed.select("#found-calls input")] == ["c-zh"]
    response = _open_session(mgr, world)
    assert response.status_code == 303
    cid = _calibration_id(engine)
    assert response.headers["location"] == f"/calibrations/{cid}"
    with Session(engine) as s:
        calibration = s.get(CalibrationSession, cid)
        assert calibration is not None
        assert (calibration.name, calibration.call_ids) == (NAME, ["c-en", "c-zh"])
        drafts = s.exec(select(Evaluation).where(col(Evaluation.calibration_id) == cid)).all()
        assert len(drafts) == 4 and {e.kind for e in drafts} == {EvaluationKind.CALIBRATION}
    listing = soup(mgr.get("/calibrations").text)
    row = listing.select_one(f'tr[data-calibration-id="{cid}"]')
    assert row is not None and NAME in row.text and "0 / 4" in row.text


def test_bad_form_input_is_refused_naming_the_field(world: World, engine: Engine) -> None:
    mgr = world.client_for("mgr")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"pasted_ids": "c-zh nope"}, "call_ids", "nope"),
        ({"reviewer_ids": [str(world.ids["rev1"])]}, "reviewers", "at least two"),
        ({"reviewer_ids": ["x1"]}, "reviewers", "not a user id"),
        ({"form_key": "no-such-form"}, "form_key", "no-such-form"),
        ({"name": " "}, "name", "required"),
        ({"pasted_ids": "c\x01x"}, "call_ids", "control character"),
    ]
    for extra, field, words in cases:
        response = _open_session(mgr, world, **extra)
        assert response.status_code == 422, (extra, response.text)
        error = soup(response.text).select_one("#form-error")
        assert error is not None and f"field {field}" in error.text and words in error.text
        # What was typed stays in the form.
        assert extra.get("name", NAME) in response.text
    with Session(engine) as s:
        assert s.exec(select(CalibrationSession)).first() is None
        assert s.exec(select(Evaluation)).first() is None


def test_reviewers_score_blind_then_compare_after_close(world: World, engine: Engine) -> None:
    mgr = world.client_for("mgr")
    assert _open_session(mgr, world).status_code == 303
    cid = _calibration_id(engine)
    rev1, rev2 = world.client_for("rev1"), world.client_for("rev2")

    # Each reviewer sees only their own two evaluations, each linked to the call page.
    page = soup(rev1.get(f"/calibrations/{cid}").text)
    assert page.select_one("#blind-notice") is not None
    assert page.select_one("#never-counts") is not None
    links = [str(a["href"]) for a in page.select("#my-evaluations a")]
    with Session(engine) as s:
        own = s.exec(
            select(Evaluation).where(col(Evaluation.reviewer_id) == world.ids["rev1"])
        ).all()
    assert sorted(links) == sorted(f"/calls/{e.call_id}?evaluation={e.id}" for e in own)
    assert page.select_one("#comparison") is None and page.select_one("#agreement") is None

    _score(engine, "rev1", {"c-en": "yy", "c-zh": "yn"})
    # rev1 has submitted, rev2 not: still blind, for the page and the API alike.
    page = soup(rev1.get(f"/calibrations/{cid}").text)
    assert page.select_one("#comparison") is None
    body = rev1.get(f"/api/calibrations/{cid}").json()
    assert body["revealed"] is False and body["results"] is None
    assert {e["reviewer"] for e in body["evaluations"]} == {"rev1"}
    assert body["counts_in_scorecards"] is False
    body = rev2.get(f"/api/calibrations/{cid}").json()
    assert {e["reviewer"] for e in body["evaluations"]} == {"rev2"}
    assert {p["username"]: p["submitted"] for p in body["participants"]} == {"rev1": 2, "rev2": 0}
    # The organiser sees progress, never answers on this page, and a close button.
    page = soup(mgr.get(f"/calibrations/{cid}").text)
    progress = {str(tr["data-user"]): tr.text for tr in page.select("#progress tr[data-user]")}
    assert "2 / 2" in progress["rev1"] and "0 / 2" in progress["rev2"]
    assert page.select_one("#close-session button") is not None

    # rev2 scores c-en over the JSON API (c-zh stays a draft); rev1's answers are hidden
    # from rev2 until the session is revealed.
    with Session(engine) as s:
        evaluations = s.exec(select(Evaluation).where(col(Evaluation.calibration_id) == cid))
        by = {(e.reviewer_id, e.call_id): e for e in evaluations}
    theirs = by[(world.ids["rev1"], "c-en")].id
    assert rev2.get(f"/api/evaluations/{theirs}").status_code == 404
    draft = by[(world.ids["rev2"], "c-en")]
    token = _bearer(engine, "rev2")
    patch = {
        "version": draft.version,
        "answers": {"q1": {"answer": "yes"}, "q2": {"answer": "yes"}},
    }
    saved = rev2.patch(f"/api/evaluations/{draft.id}", json=patch, headers=token)
    assert saved.status_code == 200, saved.text
    assert rev2.post(f"/api/evaluations/{draft.id}/submit", headers=token).status_code == 200
    assert rev2.get(f"/api/evaluations/{theirs}").status_code == 404
    close = mgr.post(
        f"/calibrations/{cid}/close",
        data={"_csrf_token": csrf_token(mgr, f"/calibrations/{cid}")},
        follow_redirects=False,
    )
    assert close.status_code == 303
    assert (
        mgr.post(
            f"/calibrations/{cid}/close",
            data={"_csrf_token": csrf_token(mgr, f"/calibrations/{cid}")},
        ).status_code
        == 409
    )

    with Session(engine) as s:
        expected = calibration_results(s, cid)
    page = soup(rev1.get(f"/calibrations/{cid}").text)
    assert page.select_one("#blind-notice") is None
    grid = page.select_one('table.comparison[data-call-id="c-en"]')
    assert grid is not None
    assert grid.select("tr.disagree") == []  # both said yes, yes on c-en
    zh = page.select_one('table.comparison[data-call-id="c-zh"]')
    assert zh is not None  # rev2 never submitted it: shown as no answer
    q2 = zh.select_one('tr[data-item="q2"]')
    assert q2 is not None and [td.text for td in q2.select("td")][2:] == ["no", "—"]
    # Kappa and ICC on the page are the domain's figures.
    for item in expected.items:
        row = page.select_one(f'#item-agreement tr[data-item="{item.item_id}"]')
        assert row is not None
        kappa = row.select_one(".kappa")
        assert kappa is not None
        shown = "—" if item.kappa is None else f"{item.kappa:.2f}"
        assert kappa.text.strip().startswith(shown)
    assert "every reviewer gave the same single answer" in page.text  # kappa undefined, said why
    assert rev2.get(f"/api/evaluations/{theirs}").json()["answers"]["q1"]["answer"] == "yes"
    # The organiser manages no team of these agents, and sees every answer of their session.
    organiser = soup(mgr.get(f"/calibrations/{cid}").text)
    assert organiser.select_one("#hidden-answers") is None
    theirs_row = organiser.select_one('table.comparison[data-call-id="c-zh"] tr[data-item="q2"]')
    assert theirs_row is not None
    assert [td.text for td in theirs_row.select("td")][2:] == ["no", "—"]
    assert organiser.select_one("#item-agreement") is not None
    api = rev2.get(f"/api/calibrations/{cid}").json()
    assert api["revealed"] is True and api["state"] == "closed"
    # Two calls have submitted answers, but only c-en has both reviewers' (kappa's design).
    assert api["results"]["calls"] == expected.calls == 2
    assert [i["calls"] for i in api["results"]["items"]] == [1, 1]
    assert [i["kappa"] for i in api["results"]["items"]] == [i.kappa for i in expected.items]
    assert api["results"]["baseline"] == "consensus"
    assert {e["reviewer"] for e in api["evaluations"]} == {"rev1", "rev2"}


def test_disagreement_is_highlighted_with_kappa_in_words(world: World, engine: Engine) -> None:
    """By hand, q1 over c-en and c-zh: rev1 yes/no, rev2 yes/yes. Observed 1/2; chance:
    rev1 half yes, rev2 all yes: 1/2 x 1 + 1/2 x 0 = 1/2, so Cohen's kappa is 0: "poor".
    q2: rev1 yes/no, rev2 yes/no: kappa 1, "almost perfect". The expert (boss) is the
    baseline: totals boss (100, 50); rev1 (100, 0): -25 on average; rev2 (100, 100): +25.
    """
    mgr = world.client_for("boss")
    response = _open_session(mgr, world, expert_id=str(world.ids["boss"]))
    assert response.status_code == 303
    cid = _calibration_id(engine)
    _score(engine, "rev1", {"c-en": "yy", "c-zh": "nn"})
    _score(engine, "rev2", {"c-en": "yy", "c-zh": "yy"})
    _score(engine, "boss", {"c-en": "yy", "c-zh": "yn"})
    # Everyone has submitted: revealed without closing.
    page = soup(mgr.get(f"/calibrations/{cid}").text)
    zh = page.select_one('table.comparison[data-call-id="c-zh"]')
    assert zh is not None
    assert [str(tr["data-item"]) for tr in zh.select("tr.disagree")] == ["q1", "q2"]
    q1 = page.select_one('#item-agreement tr[data-item="q1"]')
    assert q1 is not None and "fleiss" in q1.text  # three raters
    deviations = {
        str(tr["data-user"]): tr.select("td")[2].text
        for tr in page.select("#deviations tr[data-user]")
    }
    assert deviations == {"rev1": "-25.0", "rev2": "+25.0"}
    assert "from the expert" in page.text
    api = mgr.get(f"/api/calibrations/{cid}").json()
    assert api["results"]["baseline"] == "boss"
    participants = [(p["username"], p["expert"]) for p in api["participants"]]
    assert participants == [("rev1", False), ("rev2", False), ("boss", True)]


def test_refusals_reviewer_creating_and_outsiders(world: World, engine: Engine) -> None:
    rev1 = world.client_for("rev1")
    assert rev1.get("/calibrations/new").status_code == 403
    response = rev1.post(
        "/calibrations",
        data={"_csrf_token": csrf_token(rev1, "/calibrations"), "name": "x"},
    )
    assert response.status_code == 403
    api = rev1.post(
        "/api/calibrations",
        json={"name": "x", "form_id": "two-questions", "call_ids": ["c-en"], "reviewers": []},
        headers=_bearer(engine, "rev1"),
    )
    assert api.status_code == 403

    mgr = world.client_for("mgr")
    assert _open_session(mgr, world).status_code == 303
    cid = _calibration_id(engine)
    outsider = world.client_for("outsider")
    assert outsider.get(f"/calibrations/{cid}").status_code == 404
    assert outsider.get(f"/api/calibrations/{cid}").status_code == 404
    assert outsider.get("/api/calibrations/999").status_code == 404
    assert f'data-calibration-id="{cid}"' not in outsider.get("/calibrations").text
    # A reviewer cannot close a session either.
    closing = rev1.post(
        f"/calibrations/{cid}/close", data={"_csrf_token": csrf_token(rev1, "/calibrations")}
    )
    assert closing.status_code == 403


def test_api_creates_a_session_and_refuses_bad_bodies(world: World, engine: Engine) -> None:
    headers = _bearer(engine, "mgr")
    mgr = world.client_for("mgr")
    body = {
        "name": NAME,
        "form_id": "two-questions",
        "call_ids": ["c-zh", "c-en"],
        "reviewers": ["rev1", "rev2"],
        "expert": None,
    }
    created = mgr.post("/api/calibrations", json=body, headers=headers)
    assert created.status_code == 201, created.text
    data = created.json()
    assert (data["name"], data["call_ids"], data["state"]) == (NAME, ["c-zh", "c-en"], "open")
    assert (data["submitted"], data["expected"]) == (0, 4)
    assert data["results"] is None
    bad: list[tuple[dict[str, Any], str]] = [
        ({"reviewers": ["rev1", "nobody"]}, "reviewers"),
        ({"expert": "nobody"}, "expert"),
        ({"form_id": "nope"}, "form_id"),
        ({"call_ids": ["c-en", "c-en"]}, "call_ids"),
        ({"call_ids": ["missing"]}, "call_ids"),
    ]
    for change, field in bad:
        response = mgr.post("/api/calibrations", json={**body, **change}, headers=headers)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["field"] == field
    wrong_type = mgr.post("/api/calibrations", json={**body, "call_ids": "c-en"}, headers=headers)
    assert wrong_type.status_code == 400 and "call_ids" in wrong_type.text
    schema = mgr.get("/schema/openapi.json").json()
    post = schema["paths"]["/api/calibrations"]["post"]
    assert "CalibrationRequest" in str(post["requestBody"])
    assert "CalibrationBody" in str(post["responses"]["201"])
