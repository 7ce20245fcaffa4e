"""An admin's day in a real browser: set a user's language to Chinese, upload a call
manifest with its transcript, and watch the import to done; screenshots in both languages
(`test-artifacts/screenshots/admin-users-*.png`, `admin-imports-*.png`)."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.domain.teams import save_team
from qm.models import Call, ImportJob, ImportState, Role, User
from tests.e2e.conftest import Server
from tests.e2e.test_pages_under_csp import open_page, violations
from tests.e2e.test_reviewer_workspace import shot
from tests.factories import PASSWORD, make_agent, make_user
from tests.qm.manifests import row, write_manifest


@pytest.fixture
def page_for(browser: Any, server: Server) -> Iterator[Any]:
    """Sign a new browser page in as a user; afterwards checks there was no CSP
    violation, page error or request to another site."""
    opened: list[tuple[Any, list[str], list[str]]] = []

    def sign_in(username: str, password: str) -> Any:
        context = browser.new_context(locale="en-US")
        page, outside, errors = open_page(context, server)
        opened.append((page, outside, errors))
        page.goto(f"{server.base_url}/login?lang=en")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not sign in"
        return page

    yield sign_in
    for page, outside, errors in opened:
        assert outside == [], outside
        assert violations(page) == []
        assert [e for e in errors if "favicon" not in e] == []


def _files(folder: Path) -> list[str]:
    """A Chinese manifest and the transcript it names."""
    folder.mkdir(parents=True)
    doc = {
        "call_id": "浏览器-1",
        "language": "zh",
        "duration": 9.0,
        "segments": [
            {"speaker": "agent", "start": 0.0, "end": 3.0, "text": "您好，欢迎致电哈珀谷银行"},
            {"speaker": "customer", "start": 3.5, "end": 9.0, "text": "我想查询一下账单"},
        ],
    }
    transcript = folder / "浏览器-1.json"
    transcript.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    rows = [
        row("浏览器-1", agent_id="a-1", reason="账单查询", transcript=transcript.name),
        row("浏览器-2", agent_id="a-1", reason="挂失"),
    ]
    manifest = write_manifest(folder / "通话清单.csv", rows)
    return [str(manifest), str(transcript)]


def test_admin_sets_a_language_and_uploads_a_manifest(
    page_for: Any,
    server: Server,
    engine: Engine,
    seed: Callable[..., None],
    tmp_path: Path,
) -> None:
    def world(s: Session) -> None:
        make_user(s, "ada", Role.ADMIN)
        make_agent(s, "a-1", name="王小明")
        make_user(s, "xiaoming", Role.AGENT, agent_id="a-1")
        save_team(s, "north", name="北方组", actor="test")

    seed(world)
    page = page_for("ada", PASSWORD)

    # Users: open the agent's page from the list, set Chinese, save.
    page.goto(f"{server.base_url}/users")
    page.click('#users a[href="/users/xiaoming/edit"]')
    page.wait_for_load_state()
    page.select_option("select[name=language]", "zh-CN")
    page.check("input[name=teams][value=north]")
    shot(page, "admin-users-en")
    page.click("#profile-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#notice").is_visible()
    assert page.locator("select[name=language]").input_value() == "zh-CN"
    with Session(engine) as s:
        xiaoming = s.exec(select(User).where(col(User.username) == "xiaoming")).one()
    assert (xiaoming.language, xiaoming.team_id) == ("zh-CN", "north")

    # Uploads: a manifest with its transcript; the job page follows the import to done.
    page.goto(f"{server.base_url}/admin/imports")
    page.set_input_files("input[name=files]", _files(tmp_path / "export"))
    page.click("#upload-form button[type=submit]")
    page.wait_for_load_state()
    assert "/admin/imports/" in page.url
    # imports.js polls the job and reloads the page when its state changes (a selector
    # wait survives those reloads; an evaluated predicate would not).
    page.wait_for_selector('#job[data-state="done"]', timeout=60_000)
    assert page.locator('[data-count="created"]').inner_text().strip() == "2"
    shot(page, "admin-import-job-en")
    job_url = page.url
    with Session(engine) as s:
        assert s.exec(select(ImportJob.state)).one() == ImportState.DONE
        calls = s.exec(select(Call.id, Call.reason).order_by(col(Call.id))).all()
    assert [tuple(c) for c in calls] == [("浏览器-1", "账单查询"), ("浏览器-2", "挂失")]

    page.goto(f"{server.base_url}/admin/imports")
    shot(page, "admin-imports-en")

    # The same pages in Chinese.
    page.goto(f"{job_url}?lang=zh-CN")
    shot(page, "admin-import-job-zh")
    page.goto(f"{server.base_url}/admin/imports")
    assert (page.locator("html").get_attribute("lang") or "").startswith("zh")
    assert "通话清单.csv" in page.locator("#imports").inner_text()
    shot(page, "admin-imports-zh")
    page.goto(f"{server.base_url}/users/xiaoming/edit?lang=zh-CN")
    assert "北方组" in page.inner_text("#profile")
    shot(page, "admin-users-zh")
