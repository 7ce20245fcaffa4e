"""The report archive in a real browser: a manager sees their team's PDFs with the state
of each e-mail, in English and in Chinese, and downloads one; an agent sees their own.

Screenshots go to `test-artifacts/screenshots/` (`reports-*-en.png`, `reports-*-zh.png`).
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from qm.db import session_scope
from qm.domain.mail import MailError
from qm.domain.report_delivery import deliver_due, monthly_reports
from qm.settings import Settings
from scoring.period import Period
from tests.e2e.conftest import Server
from tests.e2e.test_pages_under_csp import open_page, violations
from tests.factories import PASSWORD
from tests.qm.reports_world import FakeRenderer, build_world

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class OneRefusal:
    """A mail server that refuses the first message and takes the others."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls == 1:
            raise MailError("mail.example.com:25: 451 mailbox busy, try later")


@pytest.fixture
def archive(engine: Engine, settings: Settings) -> None:
    """October and November archived; November's e-mails tried once, one refused."""
    folder = settings.report_folder()
    with session_scope(engine) as session:
        build_world(session)
    for period in (Period(2026, 10), Period(2026, 11)):
        monthly_reports(
            engine,
            folder=folder,
            renderer=FakeRenderer(),
            period=period,
            default_language="en",
            send=period == Period(2026, 11),
        )
    deliver_due(
        engine,
        folder=folder,
        mailer=OneRefusal(),
        sender="qm@example.com",
        now=datetime(2026, 12, 1, 6, tzinfo=UTC),
    )


@pytest.fixture
def signed_in(browser: Any, server: Server) -> Iterator[Any]:
    opened: list[tuple[Any, list[str], list[str]]] = []

    def sign_in(username: str, locale: str) -> Any:
        context = browser.new_context(locale=locale)
        page, outside, errors = open_page(context, server)
        opened.append((page, outside, errors))
        page.goto(f"{server.base_url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url
        return page

    yield sign_in
    for page, outside, errors in opened:
        assert outside == [], outside
        assert violations(page) == []
        assert [e for e in errors if "favicon" not in e] == []


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(
    ("username", "locale", "suffix"), [("mia", "en-US", "en"), ("王芳", "zh-CN", "zh")]
)
def test_a_manager_reads_the_archive_and_downloads_a_pdf(
    archive: None, signed_in: Any, server: Server, username: str, locale: str, suffix: str
) -> None:
    page = signed_in(username, locale)
    page.goto(f"{server.base_url}/reports")
    assert page.locator("tr.report").count() == 6  # T1 en + zh, a-1's PDF; two months
    page.select_option("select[name=period]", "2026-11")
    page.click("#report-filters button[type=submit]")
    page.wait_for_load_state()
    assert "period=2026-11" in page.url
    assert page.locator("tr.report").count() == 3
    assert page.locator("li.delivery[data-state=failed]").count() == 1
    assert page.locator("li.delivery[data-state=sent]").count() == 1
    assert "451 mailbox busy" in page.locator("li.delivery[data-state=failed]").inner_text()
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if suffix == "zh" else "en")
    shot(page, f"reports-manager-{suffix}")
    href = page.locator("tr.report[data-kind=team] a.download").first.get_attribute("href")
    response = page.request.get(f"{server.base_url}{href}")
    assert response.status == 200 and response.body().startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"


def test_an_agent_sees_only_their_own_pdfs(archive: None, signed_in: Any, server: Server) -> None:
    page = signed_in("ann", "zh-CN")
    page.goto(f"{server.base_url}/reports")
    kinds = page.locator("tr.report").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["agent", "agent"]
    assert page.locator("ul.deliveries").count() == 0
    shot(page, "reports-agent-zh")
