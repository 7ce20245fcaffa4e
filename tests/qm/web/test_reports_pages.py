"""The report archive over HTTP: /reports, GET /api/reports and GET /api/reports/{id}/pdf.

Managers see their teams' reports, agents their own scorecard PDFs, admins all; reviewers
are refused (403); a report outside the caller's visibility answers 404 like a missing one.
"""

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain.mail import MailError
from qm.domain.report_delivery import deliver_due, monthly_reports
from qm.models import Report, ReportKind
from qm.settings import Settings
from scoring.period import Period
from tests.qm.reports_world import FakeRenderer, build_world
from tests.qm.web.conftest import Client, login, soup

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def refuse(message: EmailMessage) -> None:
    """A mail server that is down."""
    raise MailError("mail.example.com:25: connection refused")


@pytest.fixture
def archive(engine: Engine, settings: Settings) -> dict[tuple[str, str, str], int]:
    """November's reports made and their e-mails tried once (the server was down);
    October's reports made without sending. Report ids by (kind, subject, language)."""
    folder = settings.report_folder()
    with session_scope(engine) as session:
        build_world(session)
    for period, send in ((Period(2026, 10), False), (Period(2026, 11), True)):
        monthly_reports(
            engine,
            folder=folder,
            renderer=FakeRenderer(),
            period=period,
            default_language="en",
            send=send,
        )
    deliver_due(engine, folder=folder, mailer=refuse, sender="qm@example.com", now=NOW)
    with Session(engine) as session:
        rows = session.exec(select(Report).where(col(Report.period) == "2026-11")).all()
        return {
            (
                str(r.kind),
                (r.team_id if r.kind == ReportKind.TEAM else r.agent_id) or "",
                r.language,
            ): r.id or 0
            for r in rows
        }


def ids_on_page(client: Client, query: str = "") -> set[int]:
    response = client.get(f"/reports{query}")
    assert response.status_code == 200, response.text
    return {int(str(row["data-report-id"])) for row in soup(response.text).select("tr.report")}


def test_a_manager_sees_their_teams_reports_and_the_failed_e_mails(
    client: Client, archive: dict[tuple[str, str, str], int]
) -> None:
    login(client, "mia")
    page = client.get("/reports?period=2026-11")
    assert page.status_code == 200
    html = soup(page.text)
    shown = {int(str(row["data-report-id"])) for row in html.select("tr.report")}
    assert shown == {
        archive[("team", "T1", "en")],
        archive[("team", "T1", "zh-CN")],
        archive[("agent", "a-1", "zh-CN")],
    }
    row = html.select_one(f'tr[data-report-id="{archive[("team", "T1", "en")]}"]')
    assert row is not None
    assert "一组" in row.get_text()
    link = row.select_one("a.download")
    assert link is not None and link["href"] == f"/api/reports/{archive[('team', 'T1', 'en')]}/pdf"
    failed = row.select("li.delivery[data-state=failed]")
    assert len(failed) == 1  # mia's own e-mail: English report; 王芳 gets the Chinese one
    assert "connection refused" in failed[0].get_text()
    # Both months are listed, newest first, and can be picked.
    options = [o["value"] for o in html.select('select[name="period"] option')]
    assert options == ["", "2026-11", "2026-10"]
    assert len(ids_on_page(client)) == 6

    listed = client.get("/api/reports", params={"period": "2026-11", "kind": "team"}).json()
    assert {r["id"] for r in listed} == {
        archive[("team", "T1", "en")],
        archive[("team", "T1", "zh-CN")],
    }
    english = next(r for r in listed if r["language"] == "en")
    (delivery,) = english["deliveries"]
    assert delivery["recipient"] == "mia" and delivery["state"] == "failed"
    assert delivery["attempts"] == 1 and delivery["next_attempt_at"] is not None
    assert "connection refused" in delivery["last_error"]


def test_a_manager_downloads_their_pdf_and_not_another_teams(
    client: Client, archive: dict[tuple[str, str, str], int], settings: Settings
) -> None:
    login(client, "mia")
    mine = archive[("team", "T1", "zh-CN")]
    response = client.get(f"/api/reports/{mine}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="team-T1-2026-11-zh-CN.pdf"' in response.headers["content-disposition"]
    stored = settings.report_folder() / "2026-11" / "team-T1-2026-11-zh-CN.pdf"
    assert response.content == stored.read_bytes() and response.content.startswith(b"%PDF")
    other = archive[("team", "T2", "en")]
    assert client.get(f"/api/reports/{other}/pdf").status_code == 404
    assert client.get("/api/reports/999999/pdf").status_code == 404
    assert client.get("/api/reports/0/pdf").status_code == 404
    assert other not in ids_on_page(client)


def test_an_agent_sees_only_their_own_scorecard_pdf(
    client: Client, archive: dict[tuple[str, str, str], int]
) -> None:
    login(client, "ann")
    own = archive[("agent", "a-1", "zh-CN")]
    listed = client.get("/api/reports").json()
    assert [r["id"] for r in listed if r["period"] == "2026-11"] == [own]
    assert {r["agent_id"] for r in listed} == {"a-1"}
    assert listed[0]["subject"] == "安娜"
    assert client.get(f"/api/reports/{own}/pdf").status_code == 200
    for hidden in (archive[("team", "T1", "en")], archive[("agent", "a-2", "en")]):
        assert client.get(f"/api/reports/{hidden}/pdf").status_code == 404
    page = soup(client.get("/reports").text)
    assert not page.select("ul.deliveries")  # agents are not shown managers' e-mails


def test_an_admin_sees_everything(client: Client, archive: dict[tuple[str, str, str], int]) -> None:
    login(client, "ada")
    assert ids_on_page(client, "?period=2026-11") == set(archive.values())
    assert ids_on_page(client, "?period=2026-11&kind=agent") == {
        archive[("agent", "a-1", "zh-CN")],
        archive[("agent", "a-2", "en")],
    }
    assert client.get(f"/api/reports/{archive[('team', 'T2', 'en')]}/pdf").status_code == 200


def test_reviewers_see_no_reports(client: Client, archive: dict[tuple[str, str, str], int]) -> None:
    login(client, "rita")
    assert client.get("/reports").status_code == 403
    assert client.get("/api/reports").status_code == 403
    assert client.get(f"/api/reports/{archive[('team', 'T1', 'en')]}/pdf").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    assert client.get("/api/reports").status_code == 401
    response = client.get("/reports", follow_redirects=False)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("period=2026-13", "period"), ("period=November", "period"), ("kind=monthly", "kind")],
)
def test_bad_filters_name_the_field(
    client: Client, archive: dict[tuple[str, str, str], int], query: str, field: str
) -> None:
    login(client, "ada")
    response = client.get(f"/api/reports?{query}")
    assert response.status_code == 422
    assert response.json()["field"] == field
    page = client.get(f"/reports?{query}")
    assert page.status_code == 422 and field in page.text


def test_a_pdf_changed_on_disk_is_not_served(
    client: Client, archive: dict[tuple[str, str, str], int], settings: Settings
) -> None:
    login(client, "ada")
    path: Path = settings.report_folder() / "2026-11" / "team-T2-2026-11-en.pdf"
    path.write_bytes(path.read_bytes() + b"% tampered\n")
    assert client.get(f"/api/reports/{archive[('team', 'T2', 'en')]}/pdf").status_code == 409
    path.unlink()
    assert client.get(f"/api/reports/{archive[('team', 'T2', 'en')]}/pdf").status_code == 404


def test_the_archive_in_chinese(client: Client, archive: dict[tuple[str, str, str], int]) -> None:
    login(client, "王芳")
    page = client.get("/reports?lang=zh-CN")
    assert page.status_code == 200
    html = soup(page.text)
    assert html.html is not None and html.html["lang"] == "zh-CN"
    assert "中文" in html.get_text() and "一组" in html.get_text()


def test_an_empty_archive_says_so(client: Client, archive: dict[tuple[str, str, str], int]) -> None:
    login(client, "max")
    html = soup(client.get("/reports?period=2026-09").text)
    assert html.select_one("#no-reports") is not None


@pytest.mark.parametrize("value", ["\x00", "a" * 5_000, "9999-99", "%", "0000-01", "2026-1"])
def test_odd_filters_are_refused_not_crashed(
    client: Client, archive: dict[tuple[str, str, str], int], value: str
) -> None:
    login(client, "ada")
    for name in ("period", "kind"):
        response = client.get("/api/reports", params={name: value})
        assert response.status_code in (400, 422), response.text
    for report_id in ("99999999999999999999", "-1", "abc"):
        assert client.get(f"/api/reports/{report_id}/pdf").status_code in (400, 404)


def test_a_long_archive_says_it_shows_the_newest(
    client: Client, archive: dict[tuple[str, str, str], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("qm.domain.report_archive.LIST_LIMIT", 6)
    monkeypatch.setattr("qm.web.reports.LIST_LIMIT", 6)
    login(client, "ada")
    html = soup(client.get("/reports").text)
    periods = [row["data-period"] for row in html.select("tr.report")]
    assert periods == ["2026-11"] * 5 + ["2026-10"]  # ten in all: the newest six
    assert html.select_one("#reports-capped") is not None
    month = soup(client.get("/reports?period=2026-10").text)
    assert len(month.select("tr.report")) == 5
    assert month.select_one("#reports-capped") is None
