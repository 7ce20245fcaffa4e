"""The forms admin pages: upload a YAML/JSON form file (errors on the page naming the file,
the item and the field), assign a form to a queue or team, read a version."""

from collections.abc import Callable
from typing import Any

import pytest
from bs4 import Tag
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.teams import save_team
from qm.models import EvaluationForm, FormAssignment, Role
from qm.web.forms_admin import MAX_FILE_BYTES
from tests.factories import make_call, make_user
from tests.qm.evaluations.conftest import FORMS
from tests.qm.web.conftest import Client, csrf_token, login, soup

ZH_FORM = """\
id: zh-review
name: 银行通话评估
scoring: deductive
sections:
  - id: opening
    label: 开场
    items:
      - {id: greet, label: 使用标准问候语, deduction: 5, critical: true}
      - {id: polite, label: 礼貌用语, type: count, deduction: 2, key_point: polite}
"""


@pytest.fixture
def admin(client: Client, seed: Callable[..., None]) -> Client:
    def world(s: Session) -> None:
        make_user(s, "ada", Role.ADMIN)
        make_user(s, "rita", Role.REVIEWER)
        make_call(s, "c-1", queue="billing")
        save_team(s, "north", name="North", actor="test")

    seed(world)
    login(client, "ada")
    return client


def text_of(page: Tag, selector: str) -> str:
    """The text of the one element `selector` finds on `page` (which must be there)."""
    found = page.select_one(selector)
    assert found is not None, f"nothing matches {selector!r}"
    return found.text


def upload(client: Client, name: str, content: bytes | str, *, csrf: bool = True) -> Any:
    data = {"_csrf_token": csrf_token(client, "/admin/forms")} if csrf else {}
    raw = content.encode() if isinstance(content, str) else content
    return client.post(
        "/admin/forms", data=data, files={"file": (name, raw)}, follow_redirects=False
    )


def test_admin_uploads_a_form_and_reads_it(admin: Client, engine: Engine) -> None:
    empty = soup(admin.get("/admin/forms").text)
    assert empty.select_one(".empty") is not None
    assert empty.select_one('nav a[href="/admin"]') is not None
    form = empty.select_one("#upload-form")
    assert form is not None and form["enctype"] == "multipart/form-data"

    text = (FORMS / "bank-standard.yaml").read_text(encoding="utf-8")
    stored = upload(admin, "bank-standard.yaml", text)
    assert stored.status_code == 303, stored.text
    page = soup(admin.get(stored.headers["location"]).text)
    assert "Stored bank-standard as version 1." in text_of(page, "#notice")
    row = page.select_one('#forms tr[data-key="bank-standard"]')
    assert row is not None and "Retail bank call review" in row.text
    # The same file again stores nothing new and says so.
    again = upload(admin, "bank-standard.yaml", text)
    notice = text_of(soup(admin.get(again.headers["location"]).text), "#notice")
    assert "unchanged" in notice and "version 1" in notice
    changed = upload(
        admin,
        "v2.json",
        '{"id": "bank-standard", "sections": [{"id": "s", "items": [{"id": "q1"}]}]}',
    )
    assert changed.status_code == 303
    with session_scope(engine) as s:
        versions = s.exec(select(EvaluationForm.version)).all()
    assert sorted(versions) == [1, 2]

    detail = soup(admin.get("/admin/forms/bank-standard?version=1").text)
    assert "version 1 of 2" in text_of(detail, "h1")
    assert detail.select_one("#item-verify .flag.critical") is not None
    assert text_of(detail, "#item-tone .type") == "scale"
    assert text_of(detail, "#item-greeting .key-point") == "greeting"
    assert [a.text for a in detail.select("#versions a")] == ["v2"]
    latest = soup(admin.get("/admin/forms/bank-standard").text)
    assert "version 2 of 2" in text_of(latest, "h1")
    assert admin.get("/admin/forms/nope").status_code == 404
    assert admin.get("/admin/forms/bank-standard?version=7").status_code == 404
    assert admin.get("/admin/forms/a%00b").status_code == 404


def test_a_chinese_form_is_shown_as_written(admin: Client) -> None:
    assert upload(admin, "评估表.yaml", ZH_FORM).status_code == 303
    page = soup(admin.get("/admin/forms/zh-review").text)
    assert "银行通话评估" in text_of(page, "h1")
    assert "开场" in text_of(page, "#section-opening h2")
    assert text_of(page, "#item-greet td:nth-of-type(2)") == "使用标准问候语"
    assert text_of(page, "#scoring") == "deductive"
    assert "Deduction" in text_of(page, "#section-opening thead")


@pytest.mark.parametrize(
    ("name", "content", "item", "field", "words"),
    [
        (
            "bad-type.yaml",
            "id: f\nsections:\n  - id: s\n    items:\n      - {id: ok}\n"
            "      - {id: stars, type: five-stars}\n",
            "item stars",
            "sections[0].items[1].type",
            "yes_no",
        ),
        (
            "no-items.yaml",
            "id: f\nsections:\n  - id: opening\n    items: []\n",
            "section opening",
            "sections[0].items",
            "",
        ),
        ("broken.json", '{"id": "f", ', None, None, "not valid JSON"),
        ("list.yaml", "- 1\n- 2\n", None, None, "expected an object"),
        ("latin1.yaml", "name: caf\xe9".encode("latin-1"), None, None, "not UTF-8"),
    ],
)
def test_a_refused_file_is_explained_on_the_page(
    admin: Client,
    engine: Engine,
    name: str,
    content: bytes | str,
    item: str | None,
    field: str | None,
    words: str,
) -> None:
    response = upload(admin, name, content)
    assert response.status_code == 422
    problem = soup(response.text).select_one("#upload-problem")
    assert problem is not None, response.text
    assert text_of(problem, ".file") == name
    assert (text_of(problem, ".item") if problem.select_one(".item") else None) == item
    assert (text_of(problem, ".field") if problem.select_one(".field") else None) == field
    assert words in text_of(problem, ".message")
    with session_scope(engine) as s:
        assert s.exec(select(EvaluationForm)).all() == []


def test_size_limit_missing_file_and_csrf(admin: Client, engine: Engine) -> None:
    too_big = upload(admin, "big.yaml", "name: " + "x" * MAX_FILE_BYTES)
    assert too_big.status_code == 413
    assert "larger than" in text_of(soup(too_big.text), "#upload-problem .message")
    # Far beyond the limit, the request is refused before it is read.
    assert upload(admin, "huge.yaml", b"x" * (3 * MAX_FILE_BYTES)).status_code == 413
    token = csrf_token(admin, "/admin/forms")
    missing = admin.post(
        "/admin/forms",
        data={"_csrf_token": token},
        files={"other": ("x.txt", b"")},
        follow_redirects=False,
    )
    assert missing.status_code == 422 and "Choose a YAML or JSON file" in missing.text
    no_csrf = upload(admin, "f.yaml", ZH_FORM, csrf=False)
    assert no_csrf.status_code == 403
    with session_scope(engine) as s:
        assert s.exec(select(EvaluationForm)).all() == []


def test_admin_assigns_a_form_to_a_queue_or_team(admin: Client, engine: Engine) -> None:
    upload(admin, "zh.yaml", ZH_FORM)
    page = soup(admin.get("/admin/forms").text)
    options = [o["value"] for o in page.select('#assign-form select[name="target"] option')]
    assert options == ["queue:billing", "team:north"]

    def assign(target: str, key: str = "zh-review") -> Any:
        return admin.post(
            "/admin/forms/assign",
            data={
                "form_key": key,
                "target": target,
                "_csrf_token": csrf_token(admin, "/admin/forms"),
            },
            follow_redirects=False,
        )

    done = assign("queue:billing")
    assert done.status_code == 303
    after = soup(admin.get(done.headers["location"]).text)
    assert "Queue billing now uses zh-review." in text_of(after, "#notice")
    assert text_of(after, 'tr[data-key="zh-review"] .queues') == "billing"
    assert assign("team:north").status_code == 303
    refused = assign("queue:nowhere")
    assert refused.status_code == 404
    assert "nowhere" in text_of(soup(refused.text), "#form-error")
    assert assign("billing").status_code == 422
    assert assign("queue:billing", key="nope").status_code == 404
    with session_scope(engine) as s:
        rows = s.exec(select(FormAssignment)).all()
    assert sorted((r.queue or "", r.team_id or "", r.form_key) for r in rows) == [
        ("", "north", "zh-review"),
        ("billing", "", "zh-review"),
    ]
    detail = soup(admin.get("/admin/forms/zh-review").text)
    assert text_of(detail, "#queues") == "billing"
    assert text_of(detail, "#teams") == "north"


def test_only_admins_reach_the_pages(client: Client, seed: Callable[..., None]) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    login(client, "rita")
    assert client.get("/admin/forms").status_code == 403
    assert client.get("/admin/forms/x").status_code == 403
    token = csrf_token(client, "/calls")
    response = client.post(
        "/admin/forms", data={"_csrf_token": token}, files={"file": ("f.yaml", ZH_FORM.encode())}
    )
    assert response.status_code == 403
    assert soup(client.get("/calls").text).select_one('nav a[href="/admin/forms"]') is None
