"""`/api/scripts` and `/api/forms`: versioned definitions read by reviewers+, stored by admins
as JSON or YAML; and `GET /api/me`."""

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain import tokens
from qm.domain.users import create_user
from qm.models import AuditEvent, CallStage, Queue, Role, Script, Stage
from tests.factories import PASSWORD, make_call, make_done
from tests.qm.web.conftest import Client, csrf_token, login

SCRIPT: dict[str, Any] = {
    "id": "billing-inbound",
    "name": "Billing inquiry, inbound",
    "language": "en",
    "key_points": [
        {"id": "greeting", "label": "Greets", "phrases": ["thank you for calling acme"]},
        {"id": "verify", "label": "Verifies", "phrases": ["date of birth"], "critical": True},
    ],
}
ZH_SCRIPT: dict[str, Any] = {
    "id": "zh-billing",
    "name": "账单查询（呼入）",
    "language": "zh",
    "key_points": [{"id": "greeting", "label": "标准问候", "phrases": ["您好，欢迎致电"]}],
    "forbidden": [{"id": "rude", "phrases": ["不归我管"]}],
}
FORM: dict[str, Any] = {
    "id": "bank-standard",
    "name": "Retail bank call review",
    "sections": [
        {
            "id": "opening",
            "label": "Opening",
            "items": [{"id": "greeting", "label": "Greets", "key_point": "greeting"}],
        }
    ],
}
ZH_FORM_YAML = """\
id: zh-review
name: 银行通话评估
sections:
  - id: opening
    label: 开场
    items:
      - {id: greet, label: 使用标准问候语}
      - {id: polite, label: 礼貌用语, type: scale}
"""


def build_world(s: Session) -> None:
    for name, role, agent, teams in (
        ("admin", Role.ADMIN, None, ()),
        ("rita", Role.REVIEWER, None, ()),
        ("mgr", Role.MANAGER, None, ("north", "south")),
        ("alex", Role.AGENT, "a-1", ("north",)),
    ):
        if agent:
            make_call(s, "c-1", agent_id=agent)  # creates the agent and queue billing
        create_user(
            s,
            username=name,
            password=PASSWORD,
            role=role,
            agent_id=agent,
            team_ids=teams,
            language="zh-CN" if name == "alex" else None,
        )


class Api:
    def __init__(self, client: Client, engine: Engine, username: str) -> None:
        self.client = client
        with session_scope(engine) as s:
            self.headers = {"Authorization": f"Bearer {tokens.issue_token(s, username, actor='t')}"}

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=self.headers)

    def post_json(self, url: str, body: Any, **params: Any) -> Any:
        return self.client.post(url, json=body, params=params, headers=self.headers)

    def post_yaml(self, url: str, text: str, **params: Any) -> Any:
        headers = {**self.headers, "content-type": "application/yaml"}
        return self.client.post(url, content=text.encode(), params=params, headers=headers)


@pytest.fixture
def as_user(client: Client, engine: Engine, seed: Callable[..., None]) -> Callable[[str], Api]:
    seed(build_world)
    return lambda username: Api(client, engine, username)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    found: dict[str, Any] = response.json()
    return found


def test_admin_stores_script_versions_as_json_or_yaml(
    as_user: Callable[[str], Api], engine: Engine
) -> None:
    admin, rita = as_user("admin"), as_user("rita")
    first = admin.post_json("/api/scripts", SCRIPT)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "key": "billing-inbound",
        "version": 1,
        "new_version": True,
        "queue": None,
        "rechecks": 0,
    }
    # The same script again (as YAML, with a default spelled out) stores nothing new.
    same = dict(SCRIPT, forbidden=[])
    again = admin.post_yaml("/api/scripts", yaml.safe_dump(same))
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 1 and again.json()["new_version"] is False
    changed = dict(SCRIPT, name="Billing, inbound (2025)")
    second = admin.post_yaml("/api/scripts", yaml.safe_dump(changed, allow_unicode=True))
    assert second.status_code == 201 and second.json()["version"] == 2

    listed = rita.get("/api/scripts")
    assert listed.status_code == 200
    [script] = listed.json()
    assert script["key"] == "billing-inbound" and script["latest_version"] == 2
    assert [v["version"] for v in script["versions"]] == [1, 2]
    assert script["name"] == "Billing, inbound (2025)" and script["queues"] == []
    latest = rita.get("/api/scripts/billing-inbound").json()
    assert latest["version"] == 2 and latest["latest_version"] == 2
    assert latest["body"]["key_points"][1]["critical"] is True
    old = rita.get("/api/scripts/billing-inbound", version=1).json()
    assert old["version"] == 1 and old["name"] == "Billing inquiry, inbound"
    problem(rita.get("/api/scripts/billing-inbound", version=3), 404)
    problem(rita.get("/api/scripts/nope"), 404)
    problem(rita.get("/api/scripts/a%00b"), 404)
    with session_scope(engine) as s:
        saved = s.exec(select(AuditEvent).where(AuditEvent.action == "script.save")).all()
        assert [(e.actor, e.entity_id) for e in saved] == [
            ("admin", "billing-inbound@1"),
            ("admin", "billing-inbound@2"),
        ]


def test_a_script_for_a_queue_rechecks_its_calls(
    as_user: Callable[[str], Api], client: Client, engine: Engine, seed: Callable[..., None]
) -> None:
    def calls(s: Session) -> None:
        for call_id in ("c-2", "c-3"):
            make_call(s, call_id, agent_id="a-1", queue="账单")
            make_done(s, call_id)
        make_call(s, "c-other", agent_id="a-1", queue="sales")
        make_done(s, "c-other")

    seed(calls)
    with session_scope(engine) as s:
        seeded = max(st.id or 0 for st in s.exec(select(CallStage)).all())
    admin = as_user("admin")
    stored = admin.post_json("/api/scripts", ZH_SCRIPT, queue="账单")
    assert stored.status_code == 201, stored.text
    assert stored.json() == {
        "key": "zh-billing",
        "version": 1,
        "new_version": True,
        "queue": "账单",
        "rechecks": 2,
    }
    # The queue's calls were marked and handed to the app's re-check worker.
    assert client.app.state.rechecks.wait_idle(60)
    with session_scope(engine) as s:
        assert (s.get(Queue, "账单") or Queue(id="?")).script_key == "zh-billing"
        marked = s.exec(select(AuditEvent).where(AuditEvent.action == "calls.recheck")).one()
        assert (marked.entity_id, marked.detail) == ("账单", {"calls": 2})
        stages = {(st.call_id, st.stage): st.id or 0 for st in s.exec(select(CallStage)).all()}
    # The queue's calls ran their key-point and metrics stages anew (new stage rows) ...
    for call_id in ("c-2", "c-3"):
        assert stages[(call_id, Stage.KEYPOINTS)] > seeded
        assert stages[(call_id, Stage.METRICS)] > seeded
        assert stages[(call_id, Stage.TRANSCRIBE)] <= seeded
    # ... while a call of another queue was left alone.
    assert stages[("c-other", Stage.KEYPOINTS)] <= seeded
    with session_scope(engine) as s:
        body = s.exec(select(Script)).one().body
        assert body["forbidden"][0]["phrases"] == ["不归我管"]
    [script] = admin.get("/api/scripts").json()
    assert script["queues"] == ["账单"] and script["name"] == "账单查询（呼入）"


def test_bad_scripts_answer_422_naming_the_field(as_user: Callable[[str], Api]) -> None:
    admin = as_user("admin")
    bad = dict(SCRIPT, language="fr")
    assert problem(admin.post_json("/api/scripts", bad), 422)["field"] == "language"
    points = [dict(SCRIPT["key_points"][0], phrases="one phrase")]
    found = problem(admin.post_json("/api/scripts", dict(SCRIPT, key_points=points)), 422)
    assert found["field"].startswith("key_points[0]")
    not_yaml = problem(admin.post_yaml("/api/scripts", "id: [unclosed"), 422)
    assert "not valid YAML" in not_yaml["detail"]
    a_list = problem(admin.post_json("/api/scripts", [SCRIPT]), 422)
    assert "expected an object" in a_list["detail"]
    nul = problem(admin.post_json("/api/scripts", dict(SCRIPT, name="a\x00b")), 422)
    assert nul["field"] == "name" and "U+0000" in nul["detail"]
    aliases = "a: &x [1, 2]\nb: *x\n"
    assert "aliases" in problem(admin.post_yaml("/api/scripts", aliases), 422)["detail"]
    blank = problem(admin.post_json("/api/scripts", SCRIPT, queue=" "), 422)
    assert blank["field"] == "queue"
    huge = admin.post_yaml("/api/scripts", "name: " + "x" * 1_100_000)
    assert huge.status_code == 413
    assert admin.get("/api/scripts").json() == []


def test_admin_stores_and_assigns_forms(as_user: Callable[[str], Api], engine: Engine) -> None:
    admin, mgr = as_user("admin"), as_user("mgr")
    stored = admin.post_json("/api/forms", FORM, queue="billing")
    assert stored.status_code == 201, stored.text
    assert stored.json() == {
        "key": "bank-standard",
        "version": 1,
        "new_version": True,
        "queue": "billing",
        "team": None,
    }
    zh = admin.post_yaml("/api/forms", ZH_FORM_YAML, team="north")
    assert zh.status_code == 201 and zh.json()["team"] == "north"
    assert admin.post_yaml("/api/forms", ZH_FORM_YAML).json()["new_version"] is False
    forms = {f["key"]: f for f in mgr.get("/api/forms").json()}
    assert forms["bank-standard"]["queues"] == ["billing"]
    assert forms["zh-review"]["teams"] == ["north"] and forms["zh-review"]["name"] == "银行通话评估"
    body = mgr.get("/api/forms/zh-review").json()["body"]
    assert [i["label"] for i in body["sections"][0]["items"]] == ["使用标准问候语", "礼貌用语"]
    assert body["sections"][0]["items"][1]["type"] == "scale"

    bad_item = {**FORM, "sections": [{"id": "s", "items": [{"id": "q", "type": "stars"}]}]}
    refused = problem(admin.post_json("/api/forms", bad_item), 422)
    assert refused["field"] == "sections[0].items[0].type"
    both = problem(admin.post_json("/api/forms", FORM, queue="billing", team="north"), 422)
    assert both["field"] == "team"
    problem(admin.post_json("/api/forms", FORM, queue="no-such-queue"), 404)
    problem(admin.get("/api/forms/nope"), 404)
    with session_scope(engine) as s:
        assigned = s.exec(select(AuditEvent).where(AuditEvent.action == "form.assign")).all()
        assert [(e.entity, e.entity_id) for e in assigned] == [
            ("queue", "billing"),
            ("team", "north"),
        ]


def test_who_may_read_and_store_definitions(as_user: Callable[[str], Api], client: Client) -> None:
    admin, rita, mgr, alex = (as_user(n) for n in ("admin", "rita", "mgr", "alex"))
    admin.post_json("/api/scripts", SCRIPT)
    admin.post_json("/api/forms", FORM)
    for reader in (admin, rita, mgr):
        assert reader.get("/api/scripts").status_code == 200
        assert reader.get("/api/forms/bank-standard").status_code == 200
    for url in ("/api/scripts", "/api/forms", "/api/scripts/billing-inbound"):
        problem(alex.get(url), 403)
    for writer in (rita, mgr, alex):
        problem(writer.post_json("/api/scripts", dict(SCRIPT, name="changed")), 403)
        problem(writer.post_json("/api/forms", dict(FORM, name="changed")), 403)
    assert [s["latest_version"] for s in rita.get("/api/scripts").json()] == [1]
    # A signed-in admin browser needs the CSRF token.
    login(client, "admin")
    changed = dict(SCRIPT, name="changed")
    problem(client.post("/api/scripts", json=changed), 403)
    csrf = {"x-csrftoken": csrf_token(client, "/calls")}
    assert client.post("/api/scripts", json=changed, headers=csrf).status_code == 201


def test_me_says_who_is_asking(as_user: Callable[[str], Api], client: Client) -> None:
    assert as_user("alex").get("/api/me").json() == {
        "username": "alex",
        "display_name": "alex",
        "role": "agent",
        "agent_id": "a-1",
        "teams": [{"id": "north", "name": "north"}],
        "language": "zh-CN",
        "email": None,
    }
    mgr = as_user("mgr").get("/api/me").json()
    assert mgr["role"] == "manager" and [t["id"] for t in mgr["teams"]] == ["north", "south"]
    rita = as_user("rita").get("/api/me").json()
    assert rita["teams"] == [] and rita["agent_id"] is None and rita["language"] is None
    signed_out = client.get("/api/me", follow_redirects=False)
    assert signed_out.status_code == 401
    assert signed_out.headers["content-type"].startswith("application/problem+json")


def test_the_schema_documents_definition_bodies(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    paths = schema["paths"]
    for path, required in (("/api/scripts", "key_points"), ("/api/forms", "sections")):
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "application/yaml"}
        assert required in content["application/json"]["schema"]["required"]
        assert set(paths[path]["post"]["responses"]) >= {"200", "201"}
        assert "get" in paths[path] and "get" in paths[path + "/{key}"]
    assert [p["name"] for p in paths["/api/forms"]["post"]["parameters"]] == ["queue", "team"]
