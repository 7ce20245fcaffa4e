"""Retention and erasure: recordings, transcripts and evidence text go; scores and the audit
log stay; both are audited, idempotent, and the call page says what was removed."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from qm.app import create_app
from qm.cli import cli
from qm.db import session_scope
from qm.domain.audit import verify_chain
from qm.domain.pipeline import process_pending
from qm.domain.privacy import ERASED_NAME, erase_customer
from qm.models import (
    AuditEvent,
    Call,
    CallMetrics,
    CallStage,
    Customer,
    KeyPointResult,
    Segment,
    Transcript,
    utcnow,
)
from qm.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import (
    make_call,
    make_done,
    make_metrics,
    make_results,
    make_transcript,
    make_user,
)
from tests.qm.web.conftest import login, soup

NAME = "Wang Xiaoming"
LINES = [("agent", 0.0, 3.0, "hello mr wang"), ("customer", 3.5, 6.0, "my number is 138 0000")]


def add_call(
    session: Session, call_id: str, *, days_ago: int, customer: str, audio: Path | None
) -> None:
    make_call(session, call_id, customer_id=customer, started_at=utcnow() - timedelta(days_ago))
    if audio is not None:
        audio.write_bytes(b"RIFF fake recording")
        call = session.get(Call, call_id)
        assert call is not None
        call.audio_path = str(audio)
        session.add(call)
    make_transcript(session, call_id, LINES)
    make_transcript(session, call_id, LINES[:1], kind="corrected")
    make_results(
        session,
        call_id,
        [
            {"item_id": "greeting", "hit": True, "evidence": "hello mr wang", "start": 0.0},
            {"item_id": "verify", "hit": False},
        ],
    )
    make_metrics(session, call_id, compliance=0.5, handle_seconds=300.0, courtesy={"polite": 1})
    make_done(session, call_id)


@pytest.fixture
def calls(engine: Engine, tmp_path: Path) -> Path:
    """Two old calls and a recent one of customer k-1, an old one of k-2."""
    with session_scope(engine) as session:
        add_call(session, "old-1", days_ago=400, customer="k-1", audio=tmp_path / "old-1.wav")
        add_call(session, "old-2", days_ago=200, customer="k-2", audio=tmp_path / "old-2.wav")
        add_call(session, "new-1", days_ago=10, customer="k-1", audio=tmp_path / "new-1.wav")
        add_call(session, "old-3", days_ago=300, customer="k-1", audio=None)
        customer = session.get(Customer, "k-1")
        assert customer is not None
        customer.name = NAME
        session.add(customer)
    return tmp_path


def invoke(settings: Settings, *args: str, **env: str) -> Result:
    environment = {"QM_DATABASE_URL": settings.database_url, "QM_SECRET_KEY": TEST_SECRET, **env}
    return CliRunner().invoke(cli, list(args), env=environment)


def content(engine: Engine, call_id: str) -> dict[str, Any]:
    """What is left of one call."""
    with Session(engine) as session:
        call = session.get(Call, call_id)
        assert call is not None
        transcripts = session.exec(select(Transcript).where(Transcript.call_id == call_id)).all()
        results = session.exec(
            select(KeyPointResult)
            .where(KeyPointResult.call_id == call_id)
            .order_by(col(KeyPointResult.item_id))
        ).all()
        metrics = session.get(CallMetrics, call_id)
        assert metrics is not None
        return {
            "audio": call.audio_path,
            "purged": (call.purge_reason, call.purged_at is not None),
            "transcripts": len(transcripts),
            "results": [(r.item_id, r.hit, r.evidence) for r in results],
            "compliance": metrics.compliance,
            "courtesy": metrics.courtesy,
        }


def audit_actions(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_retention_removes_old_content_and_keeps_scores(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    result = invoke(settings, "retention", "run", QM_RETENTION_DAYS="180")
    assert result.exit_code == 0, result.output
    assert "removed the recordings and transcripts of 3 call(s)" in result.output
    assert "6 transcript(s), 2 recording file(s), 3 evidence excerpt(s)" in result.output
    for call_id in ("old-1", "old-2", "old-3"):
        assert content(engine, call_id) == {
            "audio": None,
            "purged": ("retention", True),
            "transcripts": 0,
            "results": [("greeting", True, ""), ("verify", False, "")],
            "compliance": 0.5,
            "courtesy": {"polite": 1},
        }
    assert not (calls / "old-1.wav").exists() and not (calls / "old-2.wav").exists()
    recent = content(engine, "new-1")
    assert recent["transcripts"] == 2 and recent["purged"] == (None, False)
    assert (calls / "new-1.wav").exists()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Segment)).one() == 3  # new-1's
    [event] = audit_actions(engine, "retention.run")
    assert (event.actor, event.entity) == ("cli", "call")
    assert event.detail is not None
    assert {k: event.detail[k] for k in ("days", "calls", "transcripts", "recordings")} == {
        "days": 180,
        "calls": 3,
        "transcripts": 6,
        "recordings": 2,
    }

    again = invoke(settings, "retention", "run", QM_RETENTION_DAYS="180")
    assert again.exit_code == 0 and "of 0 call(s)" in again.output
    assert len(audit_actions(engine, "retention.run")) == 2  # each run is on record


def test_a_dry_run_lists_and_changes_nothing(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    result = invoke(settings, "retention", "run", "--dry-run", QM_RETENTION_DAYS="180")
    assert result.exit_code == 0, result.output
    assert "Would remove the recordings and transcripts of 3 call(s)" in result.output
    lines = [line.split()[0] for line in result.output.splitlines()[1:]]
    assert lines == ["old-1", "old-3", "old-2"]  # oldest first
    assert "recording, 2 transcript(s)" in result.output
    assert content(engine, "old-1")["transcripts"] == 2
    assert (calls / "old-1.wav").exists()
    assert audit_actions(engine, "retention.run") == []


def test_retention_refuses_to_run_without_a_period(engine: Engine, settings: Settings) -> None:
    result = invoke(settings, "retention", "run")
    assert result.exit_code == 2
    assert "QM_RETENTION_DAYS is not set" in result.output


def test_erasure_removes_one_customers_content_and_name(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    result = invoke(settings, "erase", "--customer", "k-1")
    assert result.exit_code == 0, result.output
    assert (
        "Customer k-1 erased (name replaced by '(erased)'): removed the recordings and "
        "transcripts of 3 call(s)"
    ) in result.output
    for call_id in ("old-1", "new-1", "old-3"):
        left = content(engine, call_id)
        assert left["purged"] == ("erasure", True) and left["transcripts"] == 0
        assert left["results"] == [("greeting", True, ""), ("verify", False, "")]
    assert content(engine, "old-2")["transcripts"] == 2  # another customer's call
    assert not (calls / "new-1.wav").exists() and (calls / "old-2.wav").exists()
    with Session(engine) as session:
        customer = session.get(Customer, "k-1")
        assert customer is not None and customer.name == ERASED_NAME
        # The audit log says who erased how much, never what was erased.
        dump = " ".join(str(e.model_dump()) for e in session.exec(select(AuditEvent)).all())
        assert NAME not in dump and "hello mr wang" not in dump
        assert verify_chain(session).ok
    [event] = audit_actions(engine, "customer.erase")
    assert (event.entity, event.entity_id) == ("customer", "k-1")
    assert event.detail == {"calls": 3, "transcripts": 6, "recordings": 2, "name_replaced": True}

    again = invoke(settings, "erase", "--customer", "k-1")
    assert again.exit_code == 0 and "of 0 call(s)" in again.output
    assert audit_actions(engine, "customer.erase")[-1].detail == {
        "calls": 0,
        "transcripts": 0,
        "recordings": 0,
        "name_replaced": False,
    }


def test_erasing_an_unknown_customer_names_the_option(engine: Engine, settings: Settings) -> None:
    result = invoke(settings, "erase", "--customer", "nobody")
    assert result.exit_code == 2
    assert "--customer" in result.output and "no customer with id 'nobody'" in result.output
    assert audit_actions(engine, "customer.erase") == []


def test_nothing_changes_until_the_caller_commits(engine: Engine, calls: Path) -> None:
    with Session(engine) as session:
        result = erase_customer(session, "k-1", actor="job")
        assert result.calls == 3
        session.rollback()
    assert (calls / "old-1.wav").exists()  # files go only after a commit
    assert content(engine, "old-1")["transcripts"] == 2
    assert audit_actions(engine, "customer.erase") == []


def test_a_recording_another_call_still_uses_stays(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    with session_scope(engine) as session:
        session.execute(
            sa.update(Call)
            .where(col(Call.id) == "new-1")
            .values(audio_path=str(calls / "old-2.wav"))
        )
    assert invoke(settings, "erase", "--customer", "k-2").exit_code == 0
    assert (calls / "old-2.wav").exists()


def test_an_original_kept_beside_its_redacted_copy_goes_too(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    copy = calls / "old-2.redacted.wav"
    copy.write_bytes(b"RIFF beeped")
    with session_scope(engine) as session:
        session.execute(sa.update(Call).where(col(Call.id) == "old-2").values(audio_path=str(copy)))
    (calls / "old-2.json").write_text("{}")  # not a recording: not ours to delete
    assert invoke(settings, "erase", "--customer", "k-2").exit_code == 0
    assert not copy.exists() and not (calls / "old-2.wav").exists()
    assert (calls / "old-2.json").exists()


def test_reprocessing_a_purged_call_keeps_its_scores(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    assert invoke(settings, "erase", "--customer", "k-2").exit_code == 0
    with session_scope(engine) as session:  # as a re-import would: stages to run again
        session.execute(sa.delete(CallStage).where(col(CallStage.call_id) == "old-2"))
    report = process_pending(engine, settings, call_ids=["old-2"])
    assert report.calls == 1 and not report.failed
    left = content(engine, "old-2")
    assert left["results"] == [("greeting", True, ""), ("verify", False, "")]
    assert left["compliance"] == 0.5 and left["courtesy"] == {"polite": 1}
    with Session(engine) as session:
        stage = session.exec(
            select(CallStage).where(CallStage.call_id == "old-2", CallStage.stage == "keypoints")
        ).one()
        assert stage.status == "skipped" and "removed (erasure)" in stage.detail


def test_the_call_page_says_what_was_removed_and_when(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    assert invoke(settings, "erase", "--customer", "k-1").exit_code == 0
    with session_scope(engine) as session:
        make_user(session, "rita")
    with TestClient(create_app(settings)) as client:
        login(client, "rita")
        page = soup(client.get("/calls/old-1").text)
    notice = page.select_one("#purged")
    assert notice is not None
    today = utcnow().strftime("%Y-%m-%d")
    assert f"Recording and transcript removed (erasure) on {today}" in notice.text
    assert page.select(".segments") == []
    assert page.select_one("#customer") is not None
    assert NAME not in page.text and ERASED_NAME in page.select_one("#customer").text  # type: ignore[union-attr]


def test_erasure_clears_the_evidence_text_reviewers_copied(
    engine: Engine, settings: Settings, calls: Path
) -> None:
    from qm.domain.evaluations.forms import load_form_file
    from qm.models import Evaluation, EvaluationKind, KeyPointOverride

    forms = Path(__file__).parent / "evaluations" / "forms"
    evidence = {"start": 0.0, "end": 3.0, "text": "hello mr wang"}
    with session_scope(engine) as session:
        reviewer = make_user(session, "rita")
        form = load_form_file(session, forms / "bank-standard.yaml", actor="t")
        for call_id in ("new-1", "old-2"):
            session.add(
                KeyPointOverride(
                    call_id=call_id, item_id="greeting", hit=True, start=0.0, end=3.0,
                    evidence="hello mr wang", reviewer_id=reviewer.id or 0,
                )
            )  # fmt: skip
            session.add(
                Evaluation(
                    call_id=call_id, form_id=form.id or 0, kind=EvaluationKind.STANDARD,
                    reviewer_id=reviewer.id or 0, agent_id="a-1",
                    answers={"greeting": {"answer": "yes", "auto": "yes", "evidence": evidence}},
                )
            )  # fmt: skip
    assert invoke(settings, "erase", "--customer", "k-1").exit_code == 0
    with Session(engine) as session:
        kept = {o.call_id: o.evidence for o in session.exec(select(KeyPointOverride)).all()}
        assert kept == {"new-1": "", "old-2": "hello mr wang"}  # old-2 is another customer's
        answers = {e.call_id: e.answers for e in session.exec(select(Evaluation)).all()}
        assert answers["new-1"]["greeting"]["evidence"] == {"start": 0.0, "end": 3.0, "text": ""}
        assert answers["new-1"]["greeting"]["answer"] == "yes"  # the judgement stays
        assert answers["old-2"]["greeting"]["evidence"]["text"] == "hello mr wang"
