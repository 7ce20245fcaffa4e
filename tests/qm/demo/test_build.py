"""Building a (small) demo through the product's own paths, on SQLite and PostgreSQL."""

import io
import re
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm import migrate
from qm.db import make_engine
from qm.domain.demo import build
from qm.domain.demo.generate import Generated
from qm.domain.evaluations.calibration import calibration_results
from qm.domain.pipeline import process_pending
from qm.domain.report_archive import read_report, visible_reports
from qm.models import (
    Agent,
    CalibrationSession,
    Call,
    Dispute,
    Evaluation,
    Queue,
    ReportDelivery,
    ReportKind,
    Segment,
    TrainingAssignment,
    User,
)
from qm.settings import Settings

CENTER = Path(__file__).parent / "fixtures" / "center"


@pytest.fixture
def built(settings: Settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    teams, generated = build.import_demo(engine, tmp_path / "demo", center=CENTER, months=4)
    report = process_pending(engine, settings)
    assert not [f for f in report.failed if f[0] != "demo-stereo-1"]  # no model for the clip
    logins = build.finish_demo(engine, settings, teams, generated)
    # As `qm demo` does last; the site's language Chinese, so that the Harper Valley team
    # (which has no manager) gets its report in Chinese and the mini team's in English.
    zh_site = settings.model_copy(update={"default_language": "zh-CN"})
    assert not build.has_reports(engine, build.last_month())
    run = build.archive_reports(engine, zh_site)
    assert build.has_reports(engine, build.last_month()) and not run.queued
    yield engine, generated, logins, tmp_path / "demo"
    engine.dispose()


def test_the_demo_is_loaded_with_people_and_history(built, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """One build (it takes a while) checked three times: what it holds, no card number,
    and the report archive."""
    engine, generated, logins, folder = built
    assert build.is_built(engine)
    assert (folder / "calls.csv").is_file() and (folder / "mystery-mini.csv").is_file()
    with Session(engine) as session:
        calls = session.exec(select(Call).where(col(Call.queue) == "mini-cards")).all()
        assert len(calls) == len(generated.contacts)
        agent = session.get(Agent, "mini-a02")
        assert agent is not None and (agent.name, agent.team_id) == ("Fred Fast", "mini")
        queue = session.get(Queue, "mini-cards")
        assert queue is not None and (queue.aht_min_seconds, queue.aht_max_seconds) == (90, 400)
        assert queue.script_key == "mini-cards"
        users = {u.username: u for u in session.exec(select(User)).all()}
        assert users["manager.mini"].email == "mona@example.com"
        assert users["agent.mini"].agent_id == "mini-a01"
        assert {u.language for u in users.values()} == {"en"}
        states = {e.state for e in session.exec(select(Evaluation)).all()}
        assert {"draft", "submitted", "released", "acknowledged", "resolved"} <= states
        dispute = session.exec(select(Dispute)).one()
        assert dispute.state == "resolved" and dispute.outcome in ("upheld", "changed")
        calibration = session.exec(select(CalibrationSession)).one()
        assert calibration.state == "closed"
        results = calibration_results(session, calibration.id or 0)
        assert results.items
        training = {t.status for t in session.exec(select(TrainingAssignment)).all()}
        assert {"assigned", "acknowledged"} <= training
    assert [login.username for login in logins][:2] == ["admin", "qa.lead"]
    card_numbers_read_out_are_not_stored(engine, generated)
    the_archive_holds_the_last_month_in_both_languages(engine, settings)


def the_archive_holds_the_last_month_in_both_languages(engine: Engine, settings: Settings) -> None:
    """The PDFs `qm demo` leaves in the archive, as the admin and the mini team's manager
    list them, and what they say when read back."""
    month = build.last_month()
    assert str(month) == "2026-10"
    with Session(engine) as session:
        admin = session.exec(select(User).where(col(User.username) == "admin")).one()
        manager = session.exec(select(User).where(col(User.username) == "manager.mini")).one()
        listed = visible_reports(session, admin, period=month)
        found = {(r.kind, r.team_id, r.agent_id, r.language) for r in listed}
        assert found == {
            (ReportKind.TEAM, "mini", None, "en"),
            (ReportKind.TEAM, build.HV_TEAM[0], None, "zh-CN"),
            (ReportKind.AGENT, "mini", "mini-a01", "en"),
        }
        assert {r.team_id for r in visible_reports(session, manager, period=month)} == {"mini"}
        texts = {
            (r.kind, r.language): pdf_text(read_report(settings.report_folder(), r)) for r in listed
        }
        assert not session.exec(select(ReportDelivery)).all()  # nothing e-mailed
    assert "Mini bank" in texts[ReportKind.TEAM, "en"]
    for agent in ("Ann Thorough", "Fred Fast", "Rod Rude"):
        assert agent in texts[ReportKind.TEAM, "en"], agent
    assert "2026年10月" in texts[ReportKind.TEAM, "zh-CN"]
    assert "Ann Thorough" in texts[ReportKind.AGENT, "en"]


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "".join((page.extract_text() or "").replace("\n", " ") for page in reader.pages)


def card_numbers_read_out_are_not_stored(engine: Engine, generated: Generated) -> None:
    spoken = {
        m.group().replace(" ", "")
        for c in generated.contacts
        for s in c.segments
        for m in re.finditer(r"\d{4}( \d{4}){3}", s["text"])
    }
    assert spoken  # the callers did read some out
    with Session(engine) as session:
        stored = session.exec(select(Segment.text)).all()
    assert sum("[PAN]" in text for text in stored) >= len(spoken) / 2
    digits = [re.sub(r"\D", "", text) for text in stored]
    assert not any(card in d for card in spoken for d in digits)
