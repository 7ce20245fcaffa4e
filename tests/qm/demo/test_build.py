"""Building a (small) demo through the product's own paths, on SQLite and PostgreSQL."""

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm import migrate
from qm.db import make_engine
from qm.domain.demo import build
from qm.domain.demo.generate import Generated
from qm.domain.evaluations.calibration import calibration_results
from qm.domain.pipeline import process_pending
from qm.models import (
    Agent,
    CalibrationSession,
    Call,
    Dispute,
    Evaluation,
    Queue,
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
    yield engine, generated, logins, tmp_path / "demo"
    engine.dispose()


def test_the_demo_is_loaded_with_people_and_history(built) -> None:  # type: ignore[no-untyped-def]
    """One build (it takes a while) checked twice: what it holds, and no card number."""
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
