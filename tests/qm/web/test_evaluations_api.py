"""The review loop over HTTP: `/api/calls/{id}/evaluations`, `/api/evaluations/{id}` and its
state changes, disputes and their resolution, with API tokens and with a browser session.

The world: team north has agent a-1 (user `agent1`, manager `mgr`), team south agent a-2
(user `agent2`). Calls c-1 (a-1, with automatic results: greeting hit, verify uncertain)
and c-3 (a-2) are in queue billing, assigned the bank-standard form. Totals by hand as in
tests/qm/evaluations/test_lifecycle.py: greeting yes, verify yes, accuracy partial, tone 3
give (1 x 100 + 2 x 50) / 3 = 66.67; with accuracy yes (100 + 2 x 75) / 3 = 83.33.
"""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import tokens
from qm.domain.evaluations.forms import assign_form, load_form_file, save_form
from qm.domain.users import create_user
from qm.models import AuditEvent, Evaluation, EvaluationChange, Role
from tests.factories import PASSWORD, make_call, make_results, make_transcript
from tests.qm.evaluations.conftest import FORMS
from tests.qm.web.conftest import Client, csrf_token, login

FILLED = {
    "verify": {"answer": "yes"},
    "accuracy": {"answer": "partial", "comment": "fee amount was vague"},
    "tone": {"answer": 3},
}
PROBLEM = "application/problem+json"


def build_world(s: Session) -> None:
    """Users, calls, automatic results and the assigned form (see the module docstring)."""
    make_call(s, "c-1", agent_id="a-1")
    make_call(s, "c-3", agent_id="a-2")
    make_results(
        s,
        "c-1",
        [
            {"item_id": "greeting", "hit": True, "start": 1.5, "end": 3.25, "evidence": "hi"},
            {"item_id": "verify", "hit": False, "uncertain": True, "evidence": ""},
        ],
    )
    for name, role, agent, teams in (
        ("rev1", Role.REVIEWER, None, ()),
        ("rev2", Role.REVIEWER, None, ()),
        ("admin", Role.ADMIN, None, ()),
        ("mgr", Role.MANAGER, None, ("north",)),
        ("mgr_south", Role.MANAGER, None, ("south",)),
        ("agent1", Role.AGENT, "a-1", ("north",)),
        ("agent2", Role.AGENT, "a-2", ("south",)),
    ):
        create_user(s, username=name, password=PASSWORD, role=role, agent_id=agent, team_ids=teams)
    load_form_file(s, FORMS / "bank-standard.yaml", actor="admin")
    assign_form(s, "bank-standard", queue="billing", actor="admin")


class Api:
    """Requests as one user with an API token (no cookie, no CSRF token)."""

    def __init__(self, client: Client, engine: Engine, username: str) -> None:
        self.client = client
        with session_scope(engine) as s:
            self.headers = {"Authorization": f"Bearer {tokens.issue_token(s, username, actor='t')}"}

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.post(url, json=body, headers=self.headers)

    def patch(self, url: str, body: Any) -> Any:
        return self.client.patch(url, json=body, headers=self.headers)


@pytest.fixture
def as_user(client: Client, engine: Engine, seed: Callable[..., None]) -> Callable[[str], Api]:
    seed(build_world)
    return lambda username: Api(client, engine, username)


def start(api: Api, call_id: str = "c-1", **body: Any) -> dict[str, Any]:
    response = api.post(f"/api/calls/{call_id}/evaluations", {"form_id": "bank-standard", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def released(as_user: Callable[[str], Api]) -> int:
    """A released evaluation of c-1 by rev1 (version 5), its id."""
    rev1 = as_user("rev1")
    eid = start(rev1)["id"]
    assert rev1.patch(f"/api/evaluations/{eid}", {"version": 1, "answers": FILLED}).is_success
    assert rev1.post(f"/api/evaluations/{eid}/submit").status_code == 200
    assert rev1.post(f"/api/evaluations/{eid}/release").status_code == 200
    return int(eid)


def assert_problem(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    for word in words:
        assert word in problem["detail"] or word in str(problem.get("errors")), problem
    return problem


def test_the_whole_loop_with_api_tokens(as_user: Callable[[str], Api], engine: Engine) -> None:
    rev1, rev2, agent1 = as_user("rev1"), as_user("rev2"), as_user("agent1")
    response = rev1.post("/api/calls/c-1/evaluations", {"form_id": "bank-standard"})
    assert response.status_code == 201, response.text
    draft = response.json()
    eid = draft["id"]
    assert response.headers["location"] == f"/api/evaluations/{eid}"
    assert draft == {
        "id": eid,
        "call_id": "c-1",
        "form_id": "bank-standard",
        "kind": "standard",
        "state": "draft",
        "version": 1,
        "answers": {
            "greeting": {"answer": "yes", "comment": "", "auto": "yes"},
            "verify": {"answer": None, "comment": "", "auto": None},
            "accuracy": {"answer": None, "comment": "", "auto": None},
            "tone": {"answer": None, "comment": "", "auto": None},
        },
        "total": None,
        "disputes": [],
    }
    # Drafts and submitted evaluations are not the agent's to see.
    assert_problem(agent1.get(f"/api/evaluations/{eid}"), 404)

    answered = rev1.patch(
        f"/api/evaluations/{eid}", {"version": 1, "answers": FILLED, "why": "listened"}
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["version"] == 2 and body["total"] == pytest.approx(200 / 3)
    assert body["answers"]["accuracy"] == {
        "answer": "partial",
        "comment": "fee amount was vague",
        "auto": None,
    }
    assert rev1.post(f"/api/evaluations/{eid}/submit").json()["state"] == "submitted"
    assert_problem(agent1.get(f"/api/evaluations/{eid}"), 404)
    # Any reviewer may release, not only the one who scored it.
    assert rev2.post(f"/api/evaluations/{eid}/release").json()["state"] == "released"
    seen = agent1.get(f"/api/evaluations/{eid}")
    assert seen.status_code == 200 and seen.json()["total"] == pytest.approx(200 / 3)

    opened = agent1.post(
        f"/api/evaluations/{eid}/disputes",
        {"items": ["accuracy"], "comment": "I quoted the fee exactly"},
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["evaluation_id"] == eid and dispute["items"] == ["accuracy"]
    assert dispute["state"] == "open" and dispute["evaluation_version"] == 5
    assert [d["id"] for d in rev2.get("/api/disputes").json()] == [dispute["id"]]

    resolved = rev2.post(
        f"/api/disputes/{dispute['id']}/resolve",
        {
            "outcome": "changed",
            "answers": {"accuracy": {"answer": "yes"}},
            "comment": "the recording confirms the fee",
        },
    )
    assert resolved.status_code == 200, resolved.text
    final = resolved.json()
    assert final["state"] == "resolved" and final["version"] == 7
    assert final["total"] == pytest.approx(250 / 3)
    assert final["answers"]["accuracy"]["answer"] == "yes"
    assert final["disputes"][0]["outcome"] == "changed"
    assert final["disputes"][0]["resolution"] == "the recording confirms the fee"
    assert agent1.get(f"/api/evaluations/{eid}").json() == final
    assert rev2.get("/api/disputes").json() == []

    history = rev1.get(f"/api/evaluations/{eid}/history")
    assert history.status_code == 200
    changes = history.json()
    assert [(c["version"], c["action"], c["item_id"]) for c in changes] == [
        (1, "create", None),
        (2, "answer", "verify"),
        (2, "answer", "accuracy"),
        (2, "answer", "tone"),
        (3, "submit", None),
        (4, "release", None),
        (5, "dispute", None),
        (6, "answer", "accuracy"),
        (7, "resolve", None),
    ]
    assert changes[2]["actor"] == "rev1" and changes[2]["why"] == "listened"
    assert changes[2]["old"] == {"answer": None, "comment": ""}
    assert changes[7]["actor"] == "rev2"
    assert changes[7]["old"]["answer"] == "partial" and changes[7]["new"]["answer"] == "yes"
    listed = rev1.get("/api/calls/c-1/evaluations").json()
    assert [(e["id"], e["state"], e["form_id"]) for e in listed] == [
        (eid, "resolved", "bank-standard")
    ]
    with session_scope(engine) as s:
        actions = s.exec(
            select(AuditEvent.action).where(col(AuditEvent.entity_id) == str(eid))
        ).all()
    assert "evaluation.resolve" in actions and "evaluation.dispute" in actions


def test_a_browser_session_needs_the_csrf_token(client: Client, seed: Callable[..., None]) -> None:
    seed(build_world)
    login(client, "rev1")
    body = {"form_id": "bank-standard"}
    refused = client.post("/api/calls/c-1/evaluations", json=body)
    assert refused.status_code == 403
    csrf = {"x-csrftoken": csrf_token(client, "/calls")}
    created = client.post("/api/calls/c-1/evaluations", json=body, headers=csrf)
    assert created.status_code == 201, created.text
    eid = created.json()["id"]
    url = f"/api/evaluations/{eid}"
    assert client.patch(url, json={"version": 1, "answers": FILLED}).status_code == 403
    assert client.patch(url, json={"version": 1, "answers": FILLED}, headers=csrf).is_success
    assert client.post(f"{url}/submit", headers=csrf).json()["state"] == "submitted"
    assert client.post(f"{url}/release", headers=csrf).json()["state"] == "released"
    assert client.get("/api/me").json()["username"] == "rev1"

    client.post("/logout", data={"_csrf_token": client.cookies["csrftoken"]})
    login(client, "agent1")
    csrf = {"x-csrftoken": csrf_token(client, "/calls")}
    assert client.post(f"{url}/acknowledge").status_code == 403  # no CSRF token
    acknowledged = client.post(f"{url}/acknowledge", headers=csrf)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["state"] == "acknowledged"
    # Acknowledging accepts it: there is nothing left to dispute.
    late = client.post(f"{url}/disputes", json={"items": ["tone"], "comment": "no"}, headers=csrf)
    assert_problem(late, 409, "acknowledged")


def test_who_may_do_what(as_user: Callable[[str], Api]) -> None:
    rev1, rev2, agent1, agent2 = (as_user(n) for n in ("rev1", "rev2", "agent1", "agent2"))
    mgr, mgr_south, admin = as_user("mgr"), as_user("mgr_south"), as_user("admin")
    assert_problem(agent1.post("/api/calls/c-1/evaluations", {}), 403, "reviewers")
    # A manager evaluates and sees only the calls of the teams they manage.
    assert_problem(mgr_south.post("/api/calls/c-1/evaluations", {}), 404)
    assert_problem(rev1.post("/api/calls/nope/evaluations", {}), 404)
    eid = start(rev1)["id"]
    url = f"/api/evaluations/{eid}"
    assert mgr.get(url).status_code == 200 and admin.get(url).status_code == 200
    assert rev2.get(url).status_code == 200  # QA sees every evaluation
    assert_problem(mgr_south.get(url), 404)
    assert_problem(mgr_south.get(f"{url}/history"), 404)
    # Only its reviewer answers and submits it.
    assert_problem(rev2.patch(url, {"version": 1, "answers": FILLED}), 403, "reviewer")
    assert_problem(admin.post(f"{url}/submit"), 403)
    assert_problem(rev1.post(f"{url}/release"), 409, "draft")  # not submitted yet
    assert rev1.patch(url, {"version": 1, "answers": FILLED}).status_code == 200
    assert rev1.post(f"{url}/submit").status_code == 200
    assert_problem(rev1.post(f"{url}/submit"), 409, "submitted")
    assert_problem(agent1.post(f"{url}/release"), 404)  # not visible to the agent yet
    assert rev1.post(f"{url}/release").status_code == 200
    # Only the evaluated agent acknowledges or disputes; another agent is told "not found".
    assert_problem(rev1.post(f"{url}/acknowledge"), 403, "agent")
    assert_problem(agent2.get(url), 404)
    dispute = {"items": ["tone"], "comment": "it was a calm call"}
    assert_problem(agent2.post(f"{url}/disputes", dispute), 404)
    assert_problem(agent2.post(f"{url}/acknowledge"), 404)
    assert_problem(rev1.post(f"{url}/disputes", dispute), 403)
    dispute_id = agent1.post(f"{url}/disputes", dispute).json()["id"]
    # One dispute per evaluation.
    assert_problem(agent1.post(f"{url}/disputes", dispute), 409, "already been disputed")
    assert agent1.get("/api/disputes").json() == []
    assert [d["id"] for d in mgr.get("/api/disputes").json()] == [dispute_id]
    assert mgr_south.get("/api/disputes").json() == []
    resolve = f"/api/disputes/{dispute_id}/resolve"
    upheld = {"outcome": "upheld", "comment": "the score stands"}
    assert_problem(agent1.post(resolve, upheld), 403)  # the disputing agent
    assert_problem(agent2.post(resolve, upheld), 404)
    assert_problem(mgr_south.post(resolve, upheld), 404)
    assert_problem(rev2.post("/api/disputes/999/resolve", upheld), 404)
    done = rev2.post(resolve, upheld)
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    assert done.json()["disputes"][0]["outcome"] == "upheld"
    assert_problem(rev2.post(resolve, upheld), 409, "already resolved")


def test_a_stale_version_is_refused_and_nothing_is_lost(as_user: Callable[[str], Api]) -> None:
    # The same reviewer in two places (a script and a browser tab) both read version 1.
    first, second = as_user("rev1"), as_user("rev1")
    eid = start(first)["id"]
    url = f"/api/evaluations/{eid}"
    saved = first.patch(url, {"version": 1, "answers": {"tone": {"answer": 4}}})
    assert saved.status_code == 200 and saved.json()["version"] == 2
    stale = second.patch(url, {"version": 1, "answers": {"tone": {"answer": 2, "comment": "x"}}})
    assert_problem(stale, 409, "reload")
    kept = second.get(url).json()
    assert kept["version"] == 2 and kept["answers"]["tone"] == {
        "answer": 4,
        "comment": "",
        "auto": None,
    }
    assert len(second.get(f"{url}/history").json()) == 2
    # Saved again on the version read, the change goes through.
    assert second.patch(url, {"version": 2, "answers": {"tone": {"answer": 2}}}).is_success


def test_bad_bodies_answer_4xx_naming_the_field(
    as_user: Callable[[str], Api], client: Client, engine: Engine
) -> None:
    rev1 = as_user("rev1")
    eid = start(rev1)["id"]
    url = f"/api/evaluations/{eid}"
    wrong_type = rev1.patch(url, {"version": "two", "answers": {}})
    assert_problem(wrong_type, 400, "version")
    no_version = rev1.patch(url, {"answers": {}})
    assert_problem(no_version, 400, "version")
    assert_problem(rev1.patch(url, {"version": 1, "answers": {"tone": {"score": 3}}}), 400, "score")
    assert_problem(rev1.patch(url, {"version": 1, "answers": {"tone": {"answer": True}}}), 400)
    assert_problem(
        rev1.patch(url, {"version": 1, "answers": {"nope": {"answer": "yes"}}}),
        422,
        "answers.nope",
    )
    invalid = rev1.patch(url, {"version": 1, "answers": {"tone": {"answer": 9}}})
    assert assert_problem(invalid, 422)["field"] == "answers.tone"
    nul = rev1.patch(url, {"version": 1, "answers": {"tone": {"comment": "a\x00b"}}})
    assert assert_problem(nul, 422, "U+0000")["field"] == "answers.tone.comment"
    malformed = client.patch(
        url, content=b"{not json", headers={**rev1.headers, "content-type": "application/json"}
    )
    assert_problem(malformed, 400, "JSON")
    assert_problem(rev1.post("/api/calls/c-1/evaluations", {"kind": "weekly"}), 400, "kind")
    assert_problem(rev1.post("/api/calls/c-1/evaluations", {"form_id": "nope"}), 404, "nope")
    assert_problem(rev1.post("/api/calls/c-1/evaluations", {"sample": "whenever"}), 422, "sample")
    huge_session = {"kind": "calibration", "calibration_id": 2**40}
    assert_problem(rev1.post("/api/calls/c-1/evaluations", huge_session), 400, "calibration_id")
    long_why = {"version": 1, "answers": {}, "why": "x" * 2001}
    assert_problem(rev1.patch(url, long_why), 400, "why")
    for missing in (0, -1, 2**31, 10**20):
        assert_problem(rev1.get(f"/api/evaluations/{missing}"), 404)
    assert_problem(rev1.get("/api/evaluations/abc"), 404)
    # Nothing of the refused requests was written.
    with session_scope(engine) as s:
        assert s.exec(select(Evaluation)).one().version == 1
        assert len(s.exec(select(EvaluationChange)).all()) == 1


def test_dispute_and_resolution_bodies_are_checked(as_user: Callable[[str], Api]) -> None:
    eid = released(as_user)
    agent1, rev2 = as_user("agent1"), as_user("rev2")
    url = f"/api/evaluations/{eid}/disputes"
    assert_problem(agent1.post(url, {"items": "tone", "comment": "x"}), 400, "items")
    assert_problem(agent1.post(url, {"items": [], "comment": "x"}), 422, "at least one item")
    assert_problem(agent1.post(url, {"items": ["nope"], "comment": "x"}), 422, "nope")
    assert_problem(agent1.post(url, {"items": ["tone"], "comment": "  "}), 422, "comment")
    dispute_id = agent1.post(url, {"items": ["tone"], "comment": "why 3?"}).json()["id"]
    resolve = f"/api/disputes/{dispute_id}/resolve"
    assert_problem(rev2.post(resolve, {"outcome": "maybe", "comment": "x"}), 400, "outcome")
    assert_problem(rev2.post(resolve, {"outcome": "changed", "comment": "x"}), 422, "answers")
    unchanged = {"outcome": "changed", "comment": "x", "answers": {"tone": {"answer": 3}}}
    assert_problem(rev2.post(resolve, unchanged), 422, "change nothing")
    kept = {"outcome": "upheld", "comment": "x", "answers": {"tone": {"answer": 5}}}
    assert_problem(rev2.post(resolve, kept), 422, "keeps its answers")
    assert as_user("rev1").get(f"/api/evaluations/{eid}").json()["state"] == "disputed"


def test_a_chinese_form_and_evaluation(
    as_user: Callable[[str], Api], seed: Callable[..., None]
) -> None:
    def chinese(s: Session) -> None:
        make_call(s, "c-zh", agent_id="a-1", queue="账单")
        make_transcript(
            s,
            "c-zh",
            [("agent", 0.0, 3.0, "您好，欢迎致电银行"), ("customer", 3.5, 6.0, "我想查询账单")],
            language="zh",
        )
        make_results(
            s,
            "c-zh",
            [{"item_id": "greeting-zh", "hit": True, "start": 0.0, "end": 3.0, "evidence": "您好"}],
        )
        save_form(
            s,
            {
                "id": "zh-form",
                "name": "银行通话评估",
                "sections": [
                    {
                        "id": "opening",
                        "label": "开场",
                        "items": [
                            {"id": "greet", "label": "使用标准问候语", "key_point": "greeting-zh"},
                            {"id": "polite", "label": "礼貌用语", "type": "scale"},
                        ],
                    }
                ],
            },
            actor="admin",
            source="test",
        )

    seed(chinese)
    rev1, agent1 = as_user("rev1"), as_user("agent1")
    draft = start(rev1, "c-zh", form_id="zh-form")
    assert draft["answers"]["greet"] == {"answer": "yes", "comment": "", "auto": "yes"}
    url = f"/api/evaluations/{draft['id']}"
    answers = {"polite": {"answer": 5, "comment": "全程使用“您”，语气亲切"}}
    saved = rev1.patch(url, {"version": 1, "answers": answers, "why": "复听录音"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["answers"]["polite"]["comment"] == "全程使用“您”，语气亲切"
    assert saved.json()["total"] == pytest.approx(100.0)
    rev1.post(f"{url}/submit")
    rev1.post(f"{url}/release")
    opened = agent1.post(f"{url}/disputes", {"items": ["polite"], "comment": "我认为问候不完整"})
    assert opened.status_code == 201 and opened.json()["comment"] == "我认为问候不完整"
    history = rev1.get(f"{url}/history").json()
    assert history[1]["why"] == "复听录音"
    assert history[-1]["why"] == "我认为问候不完整"


def test_the_schema_documents_the_routes_and_their_bodies(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    def body_schema(path: str, method: str) -> dict[str, Any]:
        schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        ref = schema.get("$ref") or schema["allOf"][0]["$ref"]  # allOf: with a description
        found: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
        return found

    def answer_schema(path: str, method: str, status: str) -> str:
        content = paths[path][method]["responses"][status]["content"]["application/json"]
        ref: str = content["schema"].get("$ref") or content["schema"]["items"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    start_path = "/api/calls/{call_id}/evaluations"
    one = "/api/evaluations/{evaluation_id}"
    assert set(body_schema(start_path, "post")["properties"]) == {
        "form_id",
        "kind",
        "sample",
        "calibration_id",
    }
    assert answer_schema(start_path, "post", "201") == "EvaluationOut"
    patch_body = body_schema(one, "patch")
    assert set(patch_body["required"]) == {"version", "answers"}
    assert answer_schema(one, "patch", "200") == "EvaluationOut"
    assert answer_schema(one, "get", "200") == "EvaluationOut"
    evaluation = components["EvaluationOut"]
    assert set(evaluation["properties"]) == {
        "id",
        "call_id",
        "form_id",
        "kind",
        "state",
        "version",
        "answers",
        "total",
        "disputes",
    }
    assert "resolved" in str(evaluation["properties"]["state"]) or "EvaluationState" in str(
        evaluation["properties"]["state"]
    )
    for action in ("submit", "release", "acknowledge"):
        assert answer_schema(f"{one}/{action}", "post", "200") == "EvaluationOut"
    assert set(body_schema(f"{one}/disputes", "post")["required"]) == {"items", "comment"}
    assert answer_schema(f"{one}/disputes", "post", "201") == "DisputeCreated"
    assert answer_schema(f"{one}/history", "get", "200") == "ChangeOut"
    resolve = body_schema("/api/disputes/{dispute_id}/resolve", "post")
    assert set(resolve["properties"]) == {"outcome", "comment", "answers"}
    assert "/api/me" in paths and answer_schema("/api/me", "get", "200") == "MeOut"
