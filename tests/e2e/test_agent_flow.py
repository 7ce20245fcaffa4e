"""An agent on a phone (390x844): reads the scorecard, disputes an item of a released
evaluation; a reviewer resolves it on a desktop; the agent sees the outcome. Run once
with the UI in English and once in Chinese (`?lang=zh-CN` on the first page sets the
cookie), with Chinese-named agents; the assertions use ids and data attributes, not
translated text. Screenshots: `test-artifacts/screenshots/agent-*-{en,zh}.png`.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from qm.models import Dispute, Evaluation, EvaluationState
from tests.e2e.conftest import Server
from tests.e2e.test_pages_under_csp import open_page, violations
from tests.e2e.test_reviewer_workspace import shot, wait_until
from tests.factories import PASSWORD
from tests.qm.web.test_agent_pages import build

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# True when the page is no wider than the window: nothing to scroll sideways.
FITS = "document.documentElement.scrollWidth <= window.innerWidth + 1"


@pytest.fixture
def sign_in(browser: Any, server: Server) -> Iterator[Any]:
    """Open a signed-in page for a user in a viewport and UI language; after the test,
    checks there was no CSP violation, page error or request to another site."""
    opened: list[tuple[Any, list[str], list[str]]] = []

    def open_as(username: str, viewport: dict[str, int], lang: str) -> Any:
        context = browser.new_context(
            viewport=viewport, locale="zh-CN" if lang == "zh" else "en-US"
        )
        page, outside, errors = open_page(context, server)
        opened.append((page, outside, errors))
        page.goto(f"{server.base_url}/login?lang={'zh-CN' if lang == 'zh' else 'en'}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not sign in"
        return page

    yield open_as
    for page, outside, errors in opened:
        assert outside == [], outside
        assert violations(page) == []
        assert [e for e in errors if "favicon" not in e] == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_agent_disputes_on_a_phone_and_sees_the_outcome(
    sign_in: Any, server: Server, seed: Any, engine: Any, lang: str
) -> None:
    seed(build)
    html_lang = "zh-CN" if lang == "zh" else "en"
    agent = sign_in("agent1", PHONE, lang)
    base = server.base_url

    agent.goto(f"{base}/me/scorecard")
    assert agent.get_attribute("html", "lang") == html_lang
    assert agent.locator("#components tbody tr").count() == 8
    assert agent.locator("#trend svg").count() == 1
    assert agent.evaluate(FITS), "the scorecard scrolls sideways on a phone"
    assert "李强" not in agent.content()  # a colleague's name never shows
    shot(agent, f"agent-scorecard-{lang}")

    agent.goto(f"{base}/me/evaluations")
    assert agent.evaluate(FITS)
    shot(agent, f"agent-evaluations-{lang}")
    agent.locator("#evaluations a").first.click()
    agent.wait_for_load_state()
    assert agent.locator("#answers li[data-item-id]").count() == 4
    assert agent.evaluate(FITS), "the evaluation page scrolls sideways on a phone"
    shot(agent, f"agent-evaluation-{lang}")
    agent.check('input[name="item.accuracy"]')
    agent.fill("#dispute-comment", "我已经说明了费用，请复听录音。")
    agent.click("#send-dispute")
    wait_until(agent, "document.querySelector('#disputes [data-state=open]') !== null")
    shot(agent, f"agent-disputed-{lang}")

    reviewer = sign_in("rev2", DESKTOP, lang)
    reviewer.goto(f"{base}/disputes")
    assert reviewer.locator("#mine tbody tr").count() == 1
    shot(reviewer, f"agent-disputes-queue-{lang}")
    reviewer.locator("#mine tbody tr a").first.click()
    reviewer.wait_for_load_state()
    assert reviewer.locator("#agent-comment").inner_text() == "我已经说明了费用，请复听录音。"
    reviewer.select_option('select[name="answer.accuracy"]', "yes")
    reviewer.check("input[name=outcome][value=changed]")
    reviewer.fill("#resolution", "复听后确认已说明，已更正。")
    shot(reviewer, f"agent-dispute-resolve-{lang}")
    reviewer.click("#resolve")
    wait_until(reviewer, "document.querySelector('#outcome [data-outcome=changed]') !== null")

    agent.reload()
    wait_until(agent, "document.querySelector('#disputes .outcome[data-outcome=changed]') !== null")
    assert agent.locator('#disputes .changes li[data-item-id="accuracy"]').count() == 1
    assert agent.locator("#score-change").count() == 1
    assert agent.evaluate(FITS)
    shot(agent, f"agent-outcome-{lang}")

    agent.goto(f"{base}/me/training")
    assert agent.locator("section.me-training").count() == 1
    assert agent.evaluate(FITS)
    shot(agent, f"agent-training-{lang}")
    agent.locator("section.me-training button.acknowledge").click()
    wait_until(
        agent, "document.querySelector('section.me-training[data-status=acknowledged]') !== null"
    )

    agent.goto(f"{base}/calls")
    assert agent.evaluate(FITS), "the calls table makes the page scroll sideways on a phone"
    shot(agent, f"agent-calls-{lang}")

    with Session(engine) as s:
        evaluation = s.exec(select(Evaluation).where(col(Evaluation.call_id) == "c-1")).one()
        assert evaluation.state == EvaluationState.RESOLVED
        assert evaluation.answers["accuracy"]["answer"] == "yes"
        assert s.exec(select(Dispute)).one().outcome == "changed"
