"""The reviewer's day in a real browser: from the review queue to a released, audited
evaluation, with the audio player, a key-point override and the evaluation form; then a
blind calibration scored by two reviewers and compared by the manager; the main pages
in Chinese and in English, and the language switch.

Screenshots of each main page go to `test-artifacts/screenshots/` (kept out of git), in
both languages (`*-zh.png`, `*-en.png`).
"""

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain.review_queue.rules import RuleInput, store_rule
from qm.domain.review_queue.sampling import sample_period
from qm.models import AuditEvent, Evaluation, EvaluationState, KeyPointOverride
from qm.settings import Settings
from scoring.period import Period
from tests.e2e.conftest import Server
from tests.e2e.test_pages_under_csp import open_page, violations
from tests.e2e.world import World, build_world

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def world(engine: Engine, settings: Settings, tmp_path: Path) -> World:
    """The small call center, with November sampled for review into rita's queue."""
    built = build_world(engine, settings, tmp_path / "audio")
    with session_scope(engine) as session:
        store_rule(
            session,
            data=RuleInput(random_per_agent=5, reviewers=[built.reviewer]),
            actor="test",
        )
        sample_period(session, period=Period.parse("2026-11"), today=date(2026, 11, 20))
    return built


def shot(page: Any, name: str) -> None:
    """A full-page screenshot for people to look at (CI keeps the folder as an artifact)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page_for(browser: Any, server: Server) -> Iterator[Any]:
    """Sign a new browser page in as a user; checks no CSP violation or page error."""
    opened: list[tuple[Any, list[str], list[str]]] = []

    def sign_in(username: str, password: str, locale: str = "en-US") -> Any:
        # The context's locale is the browser's Accept-Language.
        context = browser.new_context(locale=locale)
        page, outside, errors = open_page(context, server)
        opened.append((page, outside, errors))
        page.goto(f"{server.base_url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")  # not the language switch
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not sign in"
        return page

    yield sign_in
    for page, outside, errors in opened:
        assert outside == [], outside
        assert violations(page) == []
        assert [e for e in errors if "favicon" not in e] == []


def wait_until(page: Any, expression: str, seconds: float = 10.0) -> None:
    """Poll a JavaScript expression until it is true (Playwright's wait_for_function
    evaluates its predicate with eval, which the site's CSP rightly refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {expression}")
        time.sleep(0.05)


def state(page: Any) -> str:
    """The evaluation's state as the panel shows it."""
    return str(page.locator("#evaluation").get_attribute("data-state"))


def _time(page: Any) -> float:
    value: float = page.evaluate("document.getElementById('player').currentTime")
    return value


def test_from_the_queue_to_a_released_audited_evaluation(
    page_for: Any, server: Server, world: World, engine: Engine
) -> None:
    page = page_for(world.reviewer, world.password)
    page.goto(f"{server.base_url}/review")
    row = page.locator("tr", has_text=world.en_call).first
    assert row.is_visible()
    shot(page, "01-review-queue")

    # Start the review: the call page opens with the form beside the transcript.
    row.locator("button", has_text=re.compile("Start|Continue|Open", re.I)).first.click()
    page.wait_for_url(re.compile(rf"/calls/{world.en_call}\?evaluation=\d+"))
    assert page.locator("#evaluation-form").is_visible()
    assert page.locator("#timeline").is_visible()

    # Play and seek: clicking a line plays from there and marks the line current.
    page.evaluate("document.getElementById('player').muted = true")
    page.locator("li.seg").nth(2).click()
    wait_until(page, "document.getElementById('player').currentTime >= 5.3")
    assert 5.3 <= _time(page) <= 7.0
    wait_until(page, "document.querySelectorAll('li.seg')[2].classList.contains('playing')")
    page.keyboard.press("Space")  # space is play/pause (and must not scroll the page)
    wait_until(page, "document.getElementById('player').paused")
    page.keyboard.press("Space")
    wait_until(page, "!document.getElementById('player').paused")
    page.keyboard.press("j")  # back to the previous line
    wait_until(page, "document.getElementById('player').currentTime < 5.0")
    assert 2.5 <= _time(page) <= 4.0
    page.keyboard.press("Space")
    wait_until(page, "document.getElementById('player').paused")
    # An evidence chip seeks to its time too.
    chip = page.locator("#key-points [data-seek]").first
    target = float(chip.get_attribute("data-seek") or "0")
    chip.click()
    wait_until(page, f"Math.abs(document.getElementById('player').currentTime - {target}) < 1")
    page.evaluate("document.getElementById('player').pause()")
    shot(page, "02-call-page-evaluation")

    # The machine found "closing"; the reviewer disagrees, marks it a miss with a comment,
    # and picks the line it rests on as the evidence span.
    closing = page.locator("form.decide[data-item=closing]")
    page.locator("details.decide-box", has=closing).locator("summary").click()
    closing.locator("button.pick-evidence").click()
    page.locator("li.seg").nth(2).click()
    assert closing.locator("input[data-span=start]").input_value() == "5.40"
    closing.locator("textarea[name=comment]").fill("Asked too early, not at the end")
    closing.locator("button[data-action=miss]").click()
    page.wait_for_load_state()
    assert page.locator("[data-override-hit=false]").first.is_visible()

    # Fill the form: tone 4, the rest keeps the prefilled answers; live total updates.
    form = page.locator("#evaluation-form")
    form.locator("[data-item=tone] input[value='4']").check()
    form.locator("input[name='comment.tone']").fill("Warm and clear")
    wait_until(page, "document.getElementById('eval-total').textContent.trim() !== '—'")
    page.click("#save-draft")
    page.wait_for_load_state()
    page.click("#submit-evaluation")
    page.wait_for_load_state()
    assert state(page) == "submitted"
    page.click("#release-evaluation")
    page.wait_for_load_state()
    assert state(page) == "released"
    page.locator("#eval-history-box summary").click()
    assert page.locator("#eval-history tr[data-action]").count() >= 3
    shot(page, "03-released-evaluation")

    # Machine vs human: the overridden key point counts as one disagreement.
    page.goto(f"{server.base_url}/agreement?period=2026-11")
    assert page.locator("tr", has_text=re.compile("closing|Offers more help")).first.is_visible()
    shot(page, "07-agreement")

    with Session(engine) as session:
        evaluation = session.exec(
            select(Evaluation).where(col(Evaluation.call_id) == world.en_call)
        ).one()
        assert evaluation.state == EvaluationState.RELEASED
        assert evaluation.answers["tone"]["answer"] == 4
        assert evaluation.answers["closing"]["answer"] == "no"  # from the override
        assert evaluation.answers["closing"]["auto"] == "yes"  # the machine's kept beside
        override = session.exec(
            select(KeyPointOverride).where(col(KeyPointOverride.call_id) == world.en_call)
        ).one()
        assert override.hit is False and override.auto_hit is True
        actions = set(session.exec(select(AuditEvent.action)).all())
        assert any("override" in a for a in actions)
        assert any("release" in a for a in actions)


def test_the_chinese_call_page_and_transcript_correction(
    page_for: Any, server: Server, world: World
) -> None:
    page = page_for(world.reviewer, world.password)
    page.goto(f"{server.base_url}/calls/{world.zh_call}")
    assert page.locator("text=您好，很高兴为您服务").first.is_visible()
    shot(page, "04-call-page-chinese")
    page.goto(f"{server.base_url}/calls/{world.zh_call}/transcript/edit")
    shot(page, "05-transcript-correction")
    page.locator("textarea, input[type=text]").nth(1).fill(
        "我的话费怎么这么高，卡号6222020200112230"  # a valid card number (Luhn)
    )
    page.locator("button[type=submit]").last.click()
    page.wait_for_url(re.compile(rf"/calls/{world.zh_call}"))
    assert page.locator("text=6222020200112230").count() == 0


def test_pages_search_agreement_and_forms_admin(
    page_for: Any, server: Server, world: World
) -> None:
    page = page_for(world.reviewer, world.password)
    page.goto(f"{server.base_url}/calls?q=话费")
    assert page.locator(f"a[href*='/calls/{world.zh_call}']").first.is_visible()
    shot(page, "06-search-chinese")
    admin = page_for(world.manager, world.password)
    admin.goto(f"{server.base_url}/admin/forms")
    assert admin.locator("text=e2e-form").first.is_visible()
    shot(admin, "08-forms-admin")


def test_two_reviewers_calibrate_blind_and_the_manager_compares(
    page_for: Any, server: Server, world: World
) -> None:
    manager = page_for(world.manager, world.password)
    manager.goto(f"{server.base_url}/calibrations/new")
    form = manager.locator("#new-calibration")
    form.locator("input[name=name]").fill("November round")
    form.locator("textarea[name=call_ids_text], textarea").first.fill(world.en_call)
    for name in (world.reviewer, world.reviewer2):
        form.locator("label", has_text=name).locator("input[name=reviewer_ids]").check()
    form.locator("button[type=submit]").click()
    manager.wait_for_url(re.compile(r"/calibrations/\d+$"))
    session_url = manager.url
    shot(manager, "09-calibration-created")

    for name, tone in ((world.reviewer, "5"), (world.reviewer2, "2")):
        page = page_for(name, world.password)
        page.goto(session_url)
        assert page.locator("#blind-notice, .blind").first.is_visible()
        page.locator("#my-evaluations a").first.click()
        page.wait_for_url(re.compile(r"evaluation=\d+"))
        # Blind: the other reviewer's evaluation is not listed on the call page.
        form = page.locator("#evaluation-form")
        for item in ("greeting", "verify", "closing"):
            form.locator(f"[data-item={item}] input[value='yes']").check()
        form.locator(f"[data-item=tone] input[value='{tone}']").check()
        page.click("#save-draft")
        page.wait_for_load_state()
        page.click("#submit-evaluation")
        page.wait_for_load_state()
        assert state(page) == "submitted"

    manager.goto(session_url)
    manager.locator("#close-session button").click()
    manager.wait_for_load_state()
    assert manager.locator("tr.disagree").first.is_visible()  # tone: 5 against 2
    assert manager.locator("#item-agreement").is_visible()
    shot(manager, "10-calibration-comparison")


# The main pages of the reviewer's workspace, each with a text that shows its language.
MAIN_PAGES = (
    ("review", "/review", {"zh": "复核队列", "en": "Review queue"}),
    ("calls", "/calls", {"zh": "处理时长", "en": "Handle time"}),
    ("search", "/calls?q=话费", {"zh": "遗漏的关键点", "en": "Key point missed"}),
    ("call", "/calls/{zh_call}", {"zh": "通话 / 保持 / 话后处理", "en": "Talk / hold / wrap"}),
    ("calibrations", "/calibrations", {"zh": "校准会议", "en": "Calibration sessions"}),
    ("agreement", "/agreement?period=2026-11", {"zh": "机器与人工对比", "en": "Machine vs human"}),
)


@pytest.mark.parametrize(("lang", "locale"), [("zh", "zh-CN"), ("en", "en-US")])
def test_the_main_pages_in_the_browsers_language(
    page_for: Any, server: Server, world: World, lang: str, locale: str
) -> None:
    page = page_for(world.reviewer, world.password, locale)
    for name, path, texts in MAIN_PAGES:
        page.goto(server.base_url + path.format(zh_call=world.zh_call))
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
        assert page.locator(f"text={texts[lang]}").first.is_visible(), (name, lang)
        other = texts["en" if lang == "zh" else "zh"]
        assert page.locator(f"text={other}").count() == 0, (name, lang)
        shot(page, f"20-{name}-{lang}")


def test_the_language_switch_changes_every_page(
    page_for: Any, server: Server, world: World
) -> None:
    page = page_for(world.reviewer, world.password)
    page.goto(f"{server.base_url}/review")
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator("form.language button").click()
    page.wait_for_url(re.compile(r"/review$"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1", has_text="复核队列").is_visible()
    # Remembered: the next page, and the user's stored language, are Chinese too.
    page.goto(f"{server.base_url}/calls/{world.zh_call}")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    shot(page, "21-call-page-switched-zh")
    page.locator("form.language button").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
