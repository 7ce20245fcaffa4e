"""The script editor: edit key points and forbidden phrases in a form (or YAML), errors
beside the field, a live preview on a call with the unsaved script, new versions, and
assignment to a queue that re-checks its calls."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.scripts import assign_to_queue, save_script
from qm.models import AuditEvent, CallStage, Queue, Role, Script, Stage, StageStatus
from qm.web.admin.scripts import script_from_form
from scoring.script import parse_script
from tests.factories import make_call, make_stage, make_transcript, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

ZH_SCRIPT = {
    "id": "zh-billing",
    "name": "话费查询",
    "language": "zh",
    "key_points": [
        {"id": "greeting", "label": "问候", "phrases": ["您好，星河通信"]},
        {"id": "verify", "label": "核实身份", "phrases": ["请提供身份证号"], "critical": True},
    ],
    "forbidden": [{"id": "rude", "label": "服务禁语", "phrases": ["不知道"]}],
    "courtesy": {"polite": ["请稍等"]},
}


def world(s: Session) -> None:
    make_user(s, "ada", Role.ADMIN)
    make_user(s, "rita", Role.REVIEWER)
    make_user(s, "mona", Role.MANAGER)
    make_call(s, "c-1", queue="zh-hotline")
    make_transcript(
        s,
        "c-1",
        [
            ("agent", 1.0, 3.0, "您好，星河通信，请问有什么可以帮您"),
            ("customer", 3.5, 5.0, "我想查话费"),
            ("agent", 6.0, 8.0, "好的，请您提供身份证号码"),
        ],
        language="zh",
    )
    make_stage(s, "c-1", Stage.TRANSCRIBE, StageStatus.DONE)
    make_stage(s, "c-1", Stage.KEYPOINTS, StageStatus.DONE)
    make_stage(s, "c-1", Stage.METRICS, StageStatus.DONE)
    save_script(s, parse_script(ZH_SCRIPT, source="test"), actor="test")
    assign_to_queue(s, "zh-billing", "zh-hotline", actor="test")


@pytest.fixture
def admin(client: Client, seed: Callable[..., None]) -> Client:
    seed(world)
    login(client, "ada")
    return client


def form_fields(client: Client, path: str) -> dict[str, Any]:
    """The editor's fields as a browser would send them (checkboxes only when ticked)."""
    page = soup(client.get(path).text)
    form = page.select_one("#script-form")
    assert form is not None
    fields: dict[str, Any] = {}
    for node in form.select("input[name], textarea[name], select[name]"):
        if node.find_parent("template") is not None:
            continue
        name = str(node["name"])
        if node.name == "textarea":
            fields[name] = node.text
        elif node.name == "select":
            chosen = node.select_one("option[selected]") or node.select_one("option")
            fields[name] = str(chosen["value"]) if chosen else ""
        elif node.get("type") == "checkbox":
            if node.has_attr("checked"):
                fields[name] = str(node["value"])
        else:
            fields[name] = str(node.get("value", ""))
    return fields


def test_editor_shows_the_stored_script_in_chinese(admin: Client) -> None:
    response = admin.get("/admin/scripts/zh-billing/edit?lang=zh-CN")
    assert response.status_code == 200
    page = soup(response.text)
    assert page.select_one('input[name="kp-0-id"]')["value"] == "greeting"  # type: ignore[index]
    assert "请提供身份证号" in page.select_one('textarea[name="kp-1-phrases"]').text  # type: ignore[union-attr]
    assert page.select_one('input[name="kp-1-critical"]').has_attr("checked")  # type: ignore[union-attr]
    assert page.select_one('input[name="fb-0-id"]')["value"] == "rude"  # type: ignore[index]
    assert page.select_one("#script-queues").text == "zh-hotline"  # type: ignore[union-attr]
    assert '<script src="/static/script_editor.js" defer>' in response.text
    listing = soup(admin.get("/admin/scripts").text)
    assert listing.select_one('tr[data-key="zh-billing"] .queues').text == "zh-hotline"  # type: ignore[union-attr]


def test_adding_a_phrase_stores_a_new_version(admin: Client, engine: Engine) -> None:
    fields = form_fields(admin, "/admin/scripts/zh-billing/edit")
    fields["kp-1-phrases"] += "\n请您提供身份证号码"
    fields["action"] = "save"
    response = admin.post("/admin/scripts/edit", data=fields, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/scripts/zh-billing/edit?saved=2"
    with session_scope(engine) as s:
        latest = s.exec(select(Script).where(Script.key == "zh-billing", Script.version == 2)).one()
        assert latest.body["key_points"][1]["phrases"] == ["请提供身份证号", "请您提供身份证号码"]
        assert latest.body["courtesy"] == {"polite": ["请稍等"]}  # kept through the form
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "script.save")).all()
    page = soup(admin.get(response.headers["location"]).text)
    assert "2" in page.select_one("#notice").text  # type: ignore[union-attr]
    # The same script again stores nothing new.
    again = form_fields(admin, "/admin/scripts/zh-billing/edit") | {"action": "save"}
    response = admin.post("/admin/scripts/edit", data=again, follow_redirects=False)
    assert response.headers["location"].endswith("saved=2&same=true")


def test_a_bad_field_is_shown_beside_its_row_and_nothing_is_stored(
    admin: Client, engine: Engine
) -> None:
    fields = form_fields(admin, "/admin/scripts/zh-billing/edit")
    fields |= {"kp-1-weight": "heavy", "action": "save"}
    response = admin.post("/admin/scripts/edit", data=fields)
    assert response.status_code == 422
    page = soup(response.text)
    error = page.select_one('#key-points .field-error[data-field="key_points[1].weight"]')
    assert error is not None and "must be a number" in error.text
    assert page.select_one('input[name="kp-1-weight"]')["value"] == "heavy"  # type: ignore[index]
    fields |= {"kp-1-weight": "1", "kp-0-phrases": "", "action": "save"}
    page = soup(admin.post("/admin/scripts/edit", data=fields).text)
    assert page.select_one(".field-error").get("data-field") == "key_points[0].phrases"  # type: ignore[union-attr]
    with session_scope(engine) as s:
        assert len(s.exec(select(Script)).all()) == 1
    # The script library's reasons are in the reader's language too.
    fields |= {"kp-0-phrases": "您好", "kp-1-weight": "heavy"}
    response = admin.post("/admin/scripts/edit?lang=zh-CN", data=fields)
    error = soup(response.text).select_one('.field-error[data-field="key_points[1].weight"]')
    assert error is not None and "必须是数字，收到的是 'heavy'" in error.text


def test_preview_checks_the_unsaved_script_on_a_call(admin: Client, engine: Engine) -> None:
    fields = form_fields(admin, "/admin/scripts/zh-billing/edit")
    # As stored, "请提供身份证号" does not occur in "请您提供身份证号码"; the edit adds it.
    fields["kp-1-phrases"] += "\n请您提供身份证号码"
    fields |= {"action": "preview", "call_id": "c-1"}
    response = admin.post("/admin/scripts/edit", data=fields)
    assert response.status_code == 200, response.text
    page = soup(response.text)
    verify = page.select_one('#preview-result tr[data-item="verify"]')
    assert verify is not None and "hit" in verify["class"]
    assert "身份证号码" in verify.select_one(".evidence").text  # type: ignore[union-attr]
    greeting = page.select_one('#preview-result tr[data-item="greeting"]')
    assert greeting is not None and "hit" in greeting["class"]
    with session_scope(engine) as s:
        assert len(s.exec(select(Script)).all()) == 1  # a preview stores nothing
    # Unknown call: the call field is named.
    fields["call_id"] = "nope"
    page = soup(admin.post("/admin/scripts/edit", data=fields).text)
    assert page.select_one('.field-error[data-field="call_id"]') is not None


def test_yaml_box_saves_and_names_the_field(admin: Client, engine: Engine) -> None:
    token = csrf_token(admin, "/admin/scripts/new")
    bad = (
        "id: en-x\nname: X\nlanguage: en\n"
        "key_points:\n  - {id: hi, phrases: [hello], speaker: robot}\n"
    )
    response = admin.post(
        "/admin/scripts/edit", data={"_csrf_token": token, "yaml": bad, "action": "save-yaml"}
    )
    assert response.status_code == 422
    page = soup(response.text)
    assert page.select_one("#problem .field").text == "key_points[0].speaker"  # type: ignore[union-attr]
    assert "robot" in page.select_one('textarea[name="yaml"]').text  # type: ignore[union-attr]
    good = bad.replace("robot", "agent")
    response = admin.post(
        "/admin/scripts/edit",
        data={"_csrf_token": token, "yaml": good, "action": "save-yaml"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin/scripts/en-x/edit?saved=1"
    page = soup(admin.get("/admin/scripts/en-x/edit").text)
    assert page.select_one('input[name="kp-0-id"]')["value"] == "hi"  # type: ignore[index]


def test_assigning_to_a_queue_rechecks_its_calls(admin: Client, engine: Engine) -> None:
    with session_scope(engine) as s:
        make_call(s, "c-2", queue="billing")
        make_stage(s, "c-2", Stage.KEYPOINTS, StageStatus.DONE)
    token = csrf_token(admin, "/admin/scripts/zh-billing/edit")
    response = admin.post(
        "/admin/scripts/zh-billing/assign",
        data={"_csrf_token": token, "queue": "billing"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "assigned=billing" in response.headers["location"]
    assert "rechecked=1" in response.headers["location"]
    with session_scope(engine) as s:
        assert s.get(Queue, "billing").script_key == "zh-billing"  # type: ignore[union-attr]
        stages = s.exec(select(CallStage.stage).where(CallStage.call_id == "c-2")).all()
        assert Stage.KEYPOINTS not in stages  # marked for re-checking
        actions = s.exec(select(AuditEvent.action)).all()
        assert "script.assign" in actions and "calls.recheck" in actions
    page = soup(admin.get(response.headers["location"]).text)
    assert "billing" in page.select_one("#notice").text  # type: ignore[union-attr]


def test_assign_needs_a_queue(admin: Client) -> None:
    token = csrf_token(admin, "/admin/scripts/zh-billing/edit")
    response = admin.post(
        "/admin/scripts/zh-billing/assign", data={"_csrf_token": token, "queue": ""}
    )
    assert response.status_code == 422
    assert soup(response.text).select_one("#assign-problem .field").text == "queue"  # type: ignore[union-attr]


@pytest.mark.parametrize("user", ["rita", "mona"])
def test_other_roles_are_refused(client: Client, seed: Callable[..., None], user: str) -> None:
    seed(world)
    login(client, user)
    assert client.get("/admin/scripts").status_code == 403
    assert client.get("/admin/scripts/zh-billing/edit").status_code == 403
    token = csrf_token(client, "/calls")
    response = client.post("/admin/scripts/edit", data={"_csrf_token": token, "action": "save"})
    assert response.status_code == 403


def test_unknown_script_or_version_is_404(admin: Client) -> None:
    assert admin.get("/admin/scripts/nope/edit").status_code == 404
    assert admin.get("/admin/scripts/zh-billing/edit?version=9").status_code == 404


def test_form_fields_become_the_script_format() -> None:
    data = {
        "id": "s",
        "name": "S",
        "language": "en",
        "kp-3-id": "b",
        "kp-3-phrases": "two",
        "kp-1-id": "a",
        "kp-1-phrases": "one\n\n uno ",
        "kp-1-within": "30",
        "kp-1-after": "x, y",
        "kp-1-required": "1",
        "kp-2-required": "1",  # a blank row whose box starts ticked
        "fb-0-id": "",
        "fb-0-phrases": "",
    }
    script = script_from_form(data)
    assert [p["id"] for p in script["key_points"]] == ["a", "b"]
    first = script["key_points"][0]
    assert first["phrases"] == ["one", "uno"] and first["within_seconds"] == 30.0
    assert first["after"] == ["x", "y"] and first["required"] is True
    assert script["key_points"][1]["required"] is False
    assert script["forbidden"] == []
