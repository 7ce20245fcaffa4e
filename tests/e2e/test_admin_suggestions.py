"""An admin in a real browser, in English and in Chinese, adds a phrase that a reviewer's
decision suggests to a new version of the script: from the script list's badge to the
suggestions page, a tick and "Add to a new version", then the confirmation naming
version 2 (the refusals are tested over HTTP in tests/qm/web/test_admin_suggestions.py).

Screenshots: `test-artifacts/screenshots/admin-suggestions-*-en.png` and `-zh.png`.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.overrides import override_key_point
from qm.models import User
from qm.settings import Settings
from tests.e2e.conftest import Server
from tests.e2e.test_reviewer_workspace import page_for, shot  # noqa: F401
from tests.e2e.world import World, build_world

LANGUAGES = [("en", "en-US"), ("zh", "zh-CN")]


@pytest.fixture
def world(engine: Engine, settings: Settings, tmp_path: Path) -> World:
    """The small call center, with a reviewer's decision that the English call's agent
    verified the caller (missed by the checker) in its first line."""
    world = build_world(engine, settings, tmp_path / "audio")
    with session_scope(engine) as session:
        reviewer = session.exec(select(User).where(User.username == world.reviewer)).one()
        override_key_point(
            session,
            call_id=world.en_call,
            item_id="verify",
            hit=True,
            start=0.0,
            end=2.4,
            comment="said in other words",
            actor=reviewer,
        )
    return world


@pytest.mark.parametrize(("suffix", "locale"), LANGUAGES)
def test_admin_adds_a_suggested_phrase_to_a_new_version(
    page_for: Any,  # noqa: F811
    server: Server,
    world: World,
    engine: Engine,
    suffix: str,
    locale: str,
) -> None:
    page = page_for(world.manager, world.password, locale)  # the world's admin
    page.goto(f"{server.base_url}/admin/scripts")
    badge = page.locator('#scripts tr[data-key="e2e-en"] .suggested a')
    assert badge.inner_text() == "1"
    badge.click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/scripts/e2e-en/suggestions")
    row = page.locator("#suggestions tbody tr")
    assert row.count() == 1
    phrase = row.locator(".phrase").inner_text().strip()
    assert "fellow americans" in phrase.lower()
    assert row.locator(f'.sources a[href="/calls/{world.en_call}"]').count() == 1
    row.locator('input[name="id"]').check()  # ticking the phrase's label does the same
    shot(page, f"admin-suggestions-{suffix}")

    page.click("#accept-button")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/scripts/e2e-en/suggestions?accepted=2")
    assert re.search(r"(version|版本) 2\b", page.locator("#notice").inner_text())
    assert page.locator("#no-suggestions").count() == 1
    shot(page, f"admin-suggestions-accepted-{suffix}")
    page.click("#notice a")
    page.wait_for_load_state()
    assert phrase in page.locator('textarea[name="kp-1-phrases"]').input_value()
    with Session(engine) as session:
        row_, parsed = scripts.latest_parsed(session, "e2e-en")
        verify = next(kp for kp in parsed.key_points if kp.id == "verify")
        assert row_.version == 2 and verify.phrases[-1] == phrase
