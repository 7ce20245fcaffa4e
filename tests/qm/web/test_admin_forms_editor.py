"""The evaluation-form editor: sections and items as tables (or YAML), a new version on
save, the parser's error shown beside the row it is about, nothing stored on refusal."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.evaluations.forms import save_form
from qm.domain.teams import save_team
from qm.models import AuditEvent, EvaluationForm, Role
from qm.web.admin.form_fields import editable, form_from_fields
from tests.factories import make_call, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

ZH_FORM = {
    "id": "zh-review",
    "name": "银行通话评估",
    "scoring": "additive",
    "sections": [
        {"id": "opening", "label": "开场", "items": [
            {"id": "greet", "label": "使用标准问候语", "critical": True, "key_point": "greeting"},
            {"id": "tone", "label": "语气", "type": "scale", "weight": 2},
        ]},
        {"id": "close", "label": "结束", "weight": 0.5, "items": [
            {"id": "recap", "label": "复述", "type": "partial", "na_allowed": False},
        ]},
    ],
}  # fmt: skip


def world(s: Session) -> None:
    make_user(s, "ada", Role.ADMIN)
    make_user(s, "rita", Role.REVIEWER)
    make_call(s, "c-1", queue="billing")
    save_team(s, "north", name="North", actor="test")
    save_form(s, ZH_FORM, actor="test", source="test")


@pytest.fixture
def admin(client: Client, seed: Callable[..., None]) -> Client:
    seed(world)
    login(client, "ada")
    return client


def editor_fields(client: Client, path: str) -> dict[str, Any]:
    """The editor's fields as a browser sends them (checkboxes only when ticked)."""
    form = soup(client.get(path).text).select_one("#form-editor")
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


def test_fields_and_format_round_trip() -> None:
    shown = editable(ZH_FORM)
    data: dict[str, Any] = {"id": shown["id"], "name": shown["name"], "scoring": "additive"}
    for n, section in enumerate(shown["sections"]):
        data |= {f"sec-{n}-{k}": v for k, v in section.items()}
    for n, item in enumerate(shown["items"]):
        for k, v in item.items():
            if isinstance(v, bool):
                if v:
                    data[f"it-{n}-{k}"] = "1"
            else:
                data[f"it-{n}-{k}"] = v
    back = form_from_fields(data)
    assert [s["id"] for s in back["sections"]] == ["opening", "close"]
    assert [i["id"] for i in back["sections"][0]["items"]] == ["greet", "tone"]
    assert back["sections"][0]["items"][0]["critical"] is True
    assert back["sections"][0]["items"][0]["key_point"] == "greeting"
    assert back["sections"][1]["items"][0]["na_allowed"] is False
    assert back["sections"][1]["weight"] == 0.5


def test_editing_an_item_stores_a_new_version(admin: Client, engine: Engine) -> None:
    page = soup(admin.get("/admin/forms/zh-review/edit?lang=zh-CN").text)
    assert page.select_one('input[name="it-1-label"]')["value"] == "语气"  # type: ignore[index]
    fields = editor_fields(admin, "/admin/forms/zh-review/edit")
    fields |= {"it-1-label": "语气亲切", "it-3-section": "close", "it-3-id": "thanks",
               "it-3-label": "致谢", "action": "save"}  # fmt: skip
    response = admin.post("/admin/forms/edit", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/forms/zh-review/edit?saved=2"
    with session_scope(engine) as s:
        row = s.exec(
            select(EvaluationForm).where(
                EvaluationForm.key == "zh-review", EvaluationForm.version == 2
            )
        ).one()
        opening, close = row.body["sections"]
        assert opening["items"][1]["label"] == "语气亲切"
        assert [i["id"] for i in close["items"]] == ["recap", "thanks"]
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "form.save")).all()
    notice = soup(admin.get(response.headers["location"]).text).select_one("#notice")
    assert notice is not None and "2" in notice.text


def test_a_bad_item_is_named_beside_its_row(admin: Client, engine: Engine) -> None:
    fields = editor_fields(admin, "/admin/forms/zh-review/edit")
    fields |= {"it-2-weight": "-3", "action": "save"}
    response = admin.post("/admin/forms/edit", data=fields)
    assert response.status_code == 422
    page = soup(response.text)
    error = page.select_one("#items .field-error")
    assert error is not None and error["data-field"] == "sections[1].items[0].weight"
    assert error.find_parent("tr").select_one('input[name="it-2-id"]')["value"] == "recap"  # type: ignore[union-attr, index]
    with session_scope(engine) as s:
        assert len(s.exec(select(EvaluationForm)).all()) == 1
    # In Chinese, the form library's reason is Chinese too.
    page = soup(admin.post("/admin/forms/edit?lang=zh-CN", data=fields).text)
    error = page.select_one("#items .field-error")
    assert error is not None and "必须是大于 0 的有限数，收到的是 -3" in error.text


def test_yaml_box_stores_a_new_form(admin: Client) -> None:
    token = csrf_token(admin, "/admin/forms/new")
    text = "id: short\nname: 短表\nsections:\n  - id: s\n    items: [{id: q1, type: maybe}]\n"
    response = admin.post("/admin/forms/edit", data={"_csrf_token": token, "yaml": text,
                                                     "action": "save-yaml"})  # fmt: skip
    assert response.status_code == 422
    assert soup(response.text).select_one("#problem .field").text == "sections[0].items[0].type"  # type: ignore[union-attr]
    response = admin.post(
        "/admin/forms/edit",
        data={"_csrf_token": token, "yaml": text.replace("maybe", "yes_no"), "action": "save-yaml"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin/forms/short/edit?saved=1"


def test_reviewer_cannot_edit_forms(client: Client, seed: Callable[..., None]) -> None:
    seed(world)
    login(client, "rita")
    assert client.get("/admin/forms/zh-review/edit").status_code == 403
    assert client.get("/admin/forms/new").status_code == 403
    token = csrf_token(client, "/calls")
    assert client.post("/admin/forms/edit", data={"_csrf_token": token}).status_code == 403


def test_unknown_form_is_404(admin: Client) -> None:
    assert admin.get("/admin/forms/nope/edit").status_code == 404
