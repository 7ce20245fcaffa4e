"""An admin in a real browser, in English and in Chinese: edits a script (adds a phrase,
tries the unsaved script on a call), saves a new version, assigns it to the queue and
sees the queue re-checked (the call page names the new version); then the other admin
editors (their refusals, answered 422, are tested over HTTP in tests/qm/web/test_admin_*.py:
the browser fixture fails a page on any failed request).

Screenshots: `test-artifacts/screenshots/admin-*-en.png` and `-zh.png`.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from qm.db import session_scope
from qm.models import KeyPointResult, Script
from qm.settings import Settings
from tests.e2e.conftest import Server
from tests.e2e.test_reviewer_workspace import page_for, shot  # noqa: F401
from tests.e2e.world import World, build_world

LANGUAGES = [("en", "en-US"), ("zh", "zh-CN")]
NEW_PHRASE = "so my fellow americans"  # said by the agent in the English call


@pytest.fixture
def world(engine: Engine, settings: Settings, tmp_path: Path) -> World:
    """The small call center: its English call was checked with e2e-en version 1."""
    return build_world(engine, settings, tmp_path / "audio")


def checked_with(page: Any, server: Server, call_id: str) -> str:
    page.goto(f"{server.base_url}/calls/{call_id}")
    return str(page.locator("#checked-with").inner_text())


@pytest.mark.parametrize(("suffix", "locale"), LANGUAGES)
def test_admin_edits_a_script_and_the_queue_is_rechecked(
    page_for: Any,  # noqa: F811
    server: Server,
    world: World,
    engine: Engine,
    suffix: str,
    locale: str,
) -> None:
    page = page_for(world.manager, world.password, locale)  # the world's admin
    page.goto(f"{server.base_url}/admin")
    assert page.locator("#admin-links a").count() == 7
    shot(page, f"admin-hub-{suffix}")

    page.click('#admin-links a[href="/admin/scripts"]')
    page.wait_for_load_state()
    shot(page, f"admin-scripts-{suffix}")
    page.click('#scripts a[href="/admin/scripts/e2e-en/edit"]')
    page.wait_for_load_state()
    assert re.search(r"(version|版本) 1\b", checked_with(page, server, world.en_call))
    page.goto(f"{server.base_url}/admin/scripts/e2e-en/edit")

    # The row buttons (static/script_editor.js): a key point is added, then removed.
    rows = page.locator("#key-points tbody tr")
    before = rows.count()
    page.click("#add-key-point")
    assert rows.count() == before + 1
    rows.last.locator("[data-remove-row]").click()
    assert rows.count() == before

    # Preview the unsaved edit on the English call: "verify" (missed by version 1) is
    # hit with the phrase added.
    verify = page.locator('textarea[name="kp-1-phrases"]')
    verify.fill(verify.input_value() + "\n" + NEW_PHRASE)
    page.fill('input[name="call_id"]', world.en_call)
    page.click("#preview-button")
    page.wait_for_load_state()
    row = page.locator('#preview-result tr[data-item="verify"]')
    assert "hit" in str(row.get_attribute("class")).split()
    assert NEW_PHRASE in str(page.locator('textarea[name="kp-1-phrases"]').input_value())
    shot(page, f"admin-script-preview-{suffix}")

    page.click("#save-button")
    page.wait_for_load_state()
    assert "/admin/scripts/e2e-en/edit?saved=2" in page.url
    page.select_option('#assign-form select[name="queue"]', "cards")
    page.click('#assign-form button[type="submit"]')
    page.wait_for_load_state()
    assert "cards" in page.locator("#notice").inner_text()
    shot(page, f"admin-script-edit-{suffix}")

    # The worker re-checks the queue after the response; the call page then names v2.
    for _ in range(100):
        if re.search(r"(version|版本) 2\b", checked_with(page, server, world.en_call)):
            break
        page.wait_for_timeout(200)
    text = checked_with(page, server, world.en_call)
    assert re.search(r"(version|版本) 2\b", text), text
    shot(page, f"admin-call-rechecked-{suffix}")
    with session_scope(engine) as session:
        v2 = session.exec(select(Script).where(Script.key == "e2e-en", Script.version == 2)).one()
        results = session.exec(
            select(KeyPointResult).where(KeyPointResult.call_id == world.en_call)
        ).all()
        assert {r.script_id for r in results} == {v2.id}
        assert next(r for r in results if r.item_id == "verify").hit is True


@pytest.mark.parametrize(("suffix", "locale"), LANGUAGES)
def test_the_other_admin_editors(
    page_for: Any,  # noqa: F811
    server: Server,
    world: World,
    suffix: str,
    locale: str,
) -> None:
    page = page_for(world.manager, world.password, locale)
    page.goto(f"{server.base_url}/admin/forms/e2e-form/edit")
    items = page.locator("#items tbody tr")
    before = items.count()
    page.click('button[data-add-row="it"]')
    assert items.count() == before + 1
    shot(page, f"admin-form-edit-{suffix}")

    page.goto(f"{server.base_url}/admin/targets")
    page.fill("#target-fcr", "75")
    page.click('#targets-form button[type="submit"]')
    page.wait_for_load_state()
    assert page.locator("#notice").count() == 1
    shot(page, f"admin-targets-{suffix}")

    page.goto(f"{server.base_url}/admin/teams")
    page.fill('#team-form input[name="team_id"]', "north")
    page.fill('#team-form input[name="name"]', "北区一组")
    page.click('#team-form button[type="submit"]')
    page.wait_for_load_state()
    assert page.locator('#team-list tr[data-team="north"] .name').inner_text() == "北区一组"
    shot(page, f"admin-teams-{suffix}")

    page.goto(f"{server.base_url}/admin/training")
    page.click('button[data-add-row="m"]')
    shot(page, f"admin-training-{suffix}")
