"""Re-checking: a new script version for a queue re-checks that queue's calls (and no
other queue's), results name the version that produced them, purged calls and reviewer
overrides are left as they are, and the CLI says how many calls it marked."""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm import migrate
from qm.db import make_engine, session_scope
from qm.domain import rechecks, scripts
from qm.domain.pipeline import ProcessReport, process_pending
from qm.domain.stored_transcripts import replace_transcript
from qm.errors import NotFound
from qm.models import (
    AuditEvent,
    Call,
    CallMetrics,
    CallStage,
    KeyPointOverride,
    KeyPointResult,
    ResultKind,
    Script,
    Stage,
    StageStatus,
    utcnow,
)
from qm.settings import Settings
from qm.web.rechecks import RecheckScope, RecheckWorker
from scoring.script import load_script, parse_script
from tests.conftest import REPO
from tests.factories import T0, make_agent, make_call, make_queue, make_user
from tests.qm.commands.cli import invoke
from transcripts import Segment as DocSegment
from transcripts import Transcript as DocTranscript

SCRIPTS = REPO / "qm" / "demo" / "scripts"
RETAIL = [
    ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is ann"),
    ("agent", 4.5, 6.0, "how can i help you today"),
    ("customer", 7.0, 9.0, "i want to check my balance"),
    ("agent", 30.0, 33.0, "is there anything else i can help you with"),
    ("agent", 34.0, 36.0, "thank you for calling have a great day"),
]
BILLING_ZH = [
    ("agent", 1.0, 4.0, "您好星河通信客服，我是客服小王"),
    ("agent", 4.5, 6.0, "请问有什么可以帮您"),
    ("customer", 7.0, 9.0, "我想查一下这个月的话费"),
]


def _store(session: Session, call_id: str, queue: str, lines: list[Any], language: str) -> None:
    make_call(session, call_id, queue=queue)
    doc = DocTranscript(
        call_id, language, lines[-1][2], tuple(DocSegment(s, a, b, t) for s, a, b, t in lines)
    )
    replace_transcript(session.connection(), call_id, doc, source="import:test")


def _script_version(session: Session, path: Path, change: Callable[[dict[str, Any]], None]) -> int:
    """Store `path`'s script, changed by `change`, as a new version; returns the version."""
    body = load_script(path).to_dict()
    change(body)
    return scripts.save_script(session, parse_script(body), actor="test").version


def _results(engine: Engine, call_id: str) -> dict[str, bool]:
    with Session(engine) as session:
        rows = session.exec(select(KeyPointResult).where(KeyPointResult.call_id == call_id))
        return {r.item_id: r.hit for r in rows}


def _metrics(engine: Engine, call_id: str) -> CallMetrics:
    with Session(engine) as session:
        row = session.get(CallMetrics, call_id)
        assert row is not None
        return row


def _stages(engine: Engine, call_id: str) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(select(CallStage).where(CallStage.call_id == call_id))
        return {r.stage: r.status for r in rows}


@pytest.fixture
def checked(engine: Engine, settings: Settings) -> Engine:
    """Two queues with a script each (English retail, Chinese billing), one call each,
    checked with version 1 of their scripts."""
    with session_scope(engine) as session:
        _store(session, "r-1", "retail", RETAIL, "en")
        _store(session, "r-gone", "retail", RETAIL, "en")
        _store(session, "z-1", "billing-zh", BILLING_ZH, "zh")
        for path, queue in (("hvnb-retail.yaml", "retail"), ("zh-billing.yaml", "billing-zh")):
            row = scripts.load_script_file(session, SCRIPTS / path, actor="test")
            scripts.assign_to_queue(session, row.key, queue, actor="test")
    process_pending(engine, settings)
    with session_scope(engine) as session:
        # A call whose recording and transcript were removed after it was checked.
        gone = session.get(Call, "r-gone")
        assert gone is not None
        gone.purged_at, gone.purge_reason = utcnow(), "retention"
        session.add(gone)
    return engine


def _drop_anything_else(body: dict[str, Any]) -> None:
    body["key_points"] = [k for k in body["key_points"] if k["id"] != "anything_else"]


def test_results_name_the_script_version_that_produced_them(checked: Engine) -> None:
    retail, zh = _metrics(checked, "r-1"), _metrics(checked, "z-1")
    assert (retail.script_key, retail.script_version) == ("hvnb-retail", 1)
    assert (zh.script_key, zh.script_version) == ("zh-billing", 1)
    assert retail.checked_at is not None
    assert _results(checked, "z-1")["greeting"] is True


def test_a_new_version_for_a_queue_rechecks_that_queue_and_no_other(
    checked: Engine, settings: Settings
) -> None:
    assert "anything_else" in _results(checked, "r-1")
    zh_before = _metrics(checked, "z-1").checked_at
    with session_scope(checked, immediate=True) as session:
        assert _script_version(session, SCRIPTS / "hvnb-retail.yaml", _drop_anything_else) == 2
        marked = rechecks.recheck_queue(session, queue="retail", actor="rita")
    assert marked == 1  # r-gone was purged: left alone
    # Marked: its key-point and metrics stages are pending, its results still shown.
    assert _stages(checked, "r-1") == {Stage.TRANSCRIBE: StageStatus.SKIPPED}
    assert "anything_else" in _results(checked, "r-1")
    assert _stages(checked, "r-gone")[Stage.KEYPOINTS] == StageStatus.DONE

    report = rechecks.run_pending_rechecks(checked, settings)

    assert report.calls == 1 and report.failed == []
    assert "anything_else" not in _results(checked, "r-1")
    metrics = _metrics(checked, "r-1")
    assert (metrics.script_key, metrics.script_version) == ("hvnb-retail", 2)
    # The other queue (Chinese, another script) was not touched.
    zh = _metrics(checked, "z-1")
    assert (zh.script_version, zh.checked_at) == (1, zh_before)
    with Session(checked) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "calls.recheck")).one()
    assert (event.actor, event.entity_id, event.detail) == ("rita", "retail", {"calls": 1})


def test_a_chinese_queue_is_rechecked_with_its_new_version(
    checked: Engine, settings: Settings
) -> None:
    def add_closing_required(body: dict[str, Any]) -> None:
        body["key_points"].append(
            {"id": "record", "label": "告知通话录音", "phrases": ["本次通话将被录音"]}
        )

    with session_scope(checked, immediate=True) as session:
        assert _script_version(session, SCRIPTS / "zh-billing.yaml", add_closing_required) == 2
        assert rechecks.recheck_queue(session, queue="billing-zh", actor="rita") == 1
    rechecks.run_pending_rechecks(checked, settings, queue="billing-zh")
    assert _results(checked, "z-1")["record"] is False
    assert _metrics(checked, "z-1").script_version == 2
    assert _metrics(checked, "r-1").script_version == 1


def test_recheck_call_marks_one_call_and_refuses_nothing_it_cannot_see(
    checked: Engine,
) -> None:
    with session_scope(checked, immediate=True) as session:
        assert rechecks.recheck_call(session, call_id="r-1", actor="rita") is True
        assert rechecks.recheck_call(session, call_id="r-gone", actor="rita") is False
        with pytest.raises(NotFound):
            rechecks.recheck_call(session, call_id="nope", actor="rita")
        with pytest.raises(NotFound):
            rechecks.recheck_queue(session, queue="nope", actor="rita")
    assert Stage.KEYPOINTS not in _stages(checked, "r-1")
    assert Stage.KEYPOINTS in _stages(checked, "z-1")
    with Session(checked) as session:
        assert rechecks.pending_rechecks(session) == ["r-1"]
        assert rechecks.pending_rechecks(session, queue="billing-zh") == []


def test_a_recheck_never_transcribes(checked: Engine, settings: Settings) -> None:
    """A call of the queue that was never processed is marked with the others, but left
    to `qm process`: a re-check runs only the key-point and metrics stages."""
    with session_scope(checked, immediate=True) as session:
        make_call(session, "r-new", queue="retail")
        assert rechecks.recheck_queue(session, queue="retail", actor="rita") == 2
    report = rechecks.run_pending_rechecks(checked, settings, queue="retail")
    assert report.calls == 1
    assert _stages(checked, "r-new") == {}
    assert _stages(checked, "r-1")[Stage.KEYPOINTS] == StageStatus.DONE


def test_reviewer_overrides_survive_a_recheck(checked: Engine, settings: Settings) -> None:
    with session_scope(checked, immediate=True) as session:
        reviewer = make_user(session, "rita")
        session.add(
            KeyPointOverride(
                call_id="r-1",
                item_id="verify",
                hit=True,
                auto_hit=False,
                comment="asked for the date of birth in other words",
                reviewer_id=reviewer.id or 0,
            )
        )
        _script_version(session, SCRIPTS / "hvnb-retail.yaml", _drop_anything_else)
        rechecks.recheck_queue(session, queue="retail", actor="rita")
    rechecks.run_pending_rechecks(checked, settings)
    assert _metrics(checked, "r-1").script_version == 2
    with Session(checked) as session:
        kept = session.exec(
            select(KeyPointOverride).where(col(KeyPointOverride.call_id) == "r-1")
        ).one()
    assert (kept.item_id, kept.hit, kept.comment) == (
        "verify",
        True,
        "asked for the date of birth in other words",
    )


def test_qm_script_load_with_a_queue_marks_its_calls_and_qm_process_checks_them(
    checked: Engine, db_url: str, tmp_path: Path
) -> None:
    body = load_script(SCRIPTS / "hvnb-retail.yaml").to_dict()
    _drop_anything_else(body)
    path = tmp_path / "retail-v2.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")

    loaded = invoke(db_url, "script", "load", str(path), "--queue", "retail")

    assert loaded.exit_code == 0, loaded.output
    assert "Script hvnb-retail is at version 2." in loaded.output
    assert (
        "Queue retail now uses hvnb-retail: 1 call(s) marked for re-checking with version 2"
        in loaded.output
    )
    assert _metrics(checked, "r-1").script_version == 1  # not yet: `qm process` does it
    processed = invoke(db_url, "process")
    assert "Processed 1 call(s)" in processed.output, processed.output
    assert _metrics(checked, "r-1").script_version == 2
    assert "anything_else" not in _results(checked, "r-1")


def test_the_worker_runs_what_is_submitted_and_survives_a_failing_run(
    engine: Engine, settings: Settings
) -> None:
    seen: list[RecheckScope] = []
    release = threading.Event()

    def run(
        _engine: Engine, _settings: Settings, scope: RecheckScope, stop: Callable[[], bool]
    ) -> ProcessReport:
        release.wait(5)
        seen.append(scope)
        if scope.queue == "broken":
            raise RuntimeError("the database went away")
        return ProcessReport(calls=1)

    worker = RecheckWorker(engine, settings, run=run)
    worker.start()
    try:
        worker.submit(RecheckScope(queue="broken"))
        worker.submit(RecheckScope(call_ids=("c-1",)))
        worker.submit(RecheckScope(call_ids=("c-1",)))  # the same scope waits only once
        assert worker.wait_idle(0.2) is False  # still blocked in the first run
        release.set()
        assert worker.wait_idle(10) is True
    finally:
        worker.stop()
    assert seen == [RecheckScope(queue="broken"), RecheckScope(call_ids=("c-1",))]


def test_stopping_the_worker_ends_a_long_run_between_chunks(
    engine: Engine, settings: Settings
) -> None:
    stopped = threading.Event()

    def run(
        _engine: Engine, _settings: Settings, _scope: RecheckScope, stop: Callable[[], bool]
    ) -> ProcessReport:
        deadline = time.monotonic() + 10
        while not stop() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped.set()
        return ProcessReport()

    worker = RecheckWorker(engine, settings, run=run)
    worker.start()
    worker.submit(RecheckScope(queue="retail"))
    time.sleep(0.05)
    worker.stop(timeout=5)
    assert stopped.is_set()


def test_migration_0010_names_the_version_of_calls_checked_before_it(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0009")
        with session_scope(engine) as session:
            # The calls as 0009 knew them (an ORM row would name later columns).
            make_agent(session, "a-1")
            make_queue(session, "retail")
            calls = sa.table(
                "call",
                *(sa.column(c) for c in ("id", "agent_id", "queue", "started_at", "source")),
                sa.column("imported_at"),
            )
            session.execute(
                sa.insert(calls),
                [
                    {
                        "id": call_id,
                        "agent_id": "a-1",
                        "queue": "retail",
                        "started_at": T0.replace(tzinfo=None),
                        "source": "manifest",
                        "imported_at": T0.replace(tzinfo=None),
                    }
                    for call_id in ("old", "unchecked")
                ],
            )
            session.add(Script(key="retail", version=3, name="Retail", language="en", body={}))
            session.flush()
            script = session.exec(select(Script)).one()
            session.add(
                KeyPointResult(
                    call_id="old",
                    script_id=script.id or 0,
                    kind=ResultKind.KEY_POINT,
                    item_id="g",
                    hit=True,
                )
            )
            session.add(CallStage(call_id="old", stage=Stage.KEYPOINTS, status=StageStatus.DONE))
            # The metrics table as it was before 0010 (an ORM row would name the new columns).
            metrics = sa.table(
                "call_metrics",
                sa.column("call_id"),
                sa.column("uncertain_items"),
                sa.column("computed_at"),
            )
            now = utcnow().replace(tzinfo=None)
            session.execute(
                sa.insert(metrics),
                [
                    {"call_id": call_id, "uncertain_items": 0, "computed_at": now}
                    for call_id in ("old", "unchecked")
                ],
            )
        migrate.upgrade(engine)
        old, unchecked = _metrics(engine, "old"), _metrics(engine, "unchecked")
        assert (old.script_key, old.script_version) == ("retail", 3)
        assert old.checked_at is not None
        assert (unchecked.script_key, unchecked.script_version, unchecked.checked_at) == (
            None,
            None,
            None,
        )
    finally:
        engine.dispose()


def test_a_recheck_moves_the_call_in_and_out_of_the_critical_filter(
    checked: Engine, settings: Settings
) -> None:
    """The call's copy of `critical_failed` (what the call list filters on) follows each
    check of the call, both ways."""
    from qm.domain.calls.listing import CallFilters, list_calls

    def critical_ids(session: Session) -> list[str]:
        viewer = make_user(session, f"v-{time.monotonic_ns()}", role="reviewer")
        page = list_calls(
            session,
            filters=CallFilters(critical_failed=True),
            page=1,
            page_size=10,
            viewer=viewer,
        )
        return [row.call_id for row in page.items]

    def add_critical_record(body: dict[str, Any]) -> None:
        body["key_points"].append(
            {
                "id": "record",
                "label": "告知通话录音",
                "phrases": ["本次通话将被录音"],
                "critical": True,
            }
        )

    with session_scope(checked, immediate=True) as session:
        assert critical_ids(session) == []
        _script_version(session, SCRIPTS / "zh-billing.yaml", add_critical_record)
        rechecks.recheck_queue(session, queue="billing-zh", actor="rita")
    rechecks.run_pending_rechecks(checked, settings)
    with session_scope(checked) as session:
        assert _metrics(checked, "z-1").critical_failed is True
        assert critical_ids(session) == ["z-1"]
        # The key point made optional again: the call leaves the filter.
        _script_version(
            session,
            SCRIPTS / "zh-billing.yaml",
            lambda body: (add_critical_record(body), body["key_points"][-1].update(critical=False)),
        )
        rechecks.recheck_queue(session, queue="billing-zh", actor="rita")
    rechecks.run_pending_rechecks(checked, settings)
    with session_scope(checked) as session:
        assert _metrics(checked, "z-1").critical_failed is False
        assert critical_ids(session) == []
