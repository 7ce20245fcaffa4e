"""The watched folder: what is dropped there is imported once through `qm ingest`'s
functions and moved to done/, or refused into failed/ with its errors and nothing stored;
files still being written wait for the next pass. The clock is the test's."""

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.imports.watched_folder import MISSING_GRACE, SETTLE, watch_pass
from qm.models import Call, MysteryShop, Script, Segment
from qm.scheduler import WATCHED_FOLDER, JobContext, SchedulerService, run_watched_folder
from qm.settings import Settings
from tests.qm.manifests import row, write_manifest, write_transcript
from tests.qm.reports_world import FakeRenderer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


def later(seconds: float = 60.0) -> datetime:
    """A moment `seconds` after now: the files written so far have settled by then."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def calls_in(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(c.id for c in session.exec(select(Call)).all())


def the_set(parent: Path) -> Path:
    """The one set folder under done/ or failed/."""
    (found,) = [p for p in parent.iterdir() if p.is_dir()]
    return found


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def drop_manifest(folder: Path, name: str = "calls.csv") -> Path:
    """A good manifest of two calls, one with a transcript in a sub-folder."""
    (folder / "transcripts").mkdir(exist_ok=True)
    write_transcript(
        folder / "transcripts" / "w-1.json",
        "w-1",
        [("agent", 0.0, 2.0, "thank you for calling acme"), ("customer", 2.5, 4.0, "hi")],
    )
    return write_manifest(
        folder / name,
        [row("w-1", transcript="transcripts/w-1.json"), row("w-2", customer_id="k-2")],
    )


def test_a_good_manifest_is_imported_once_and_moved_to_done(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    drop_manifest(watched)
    # Just written: left for the next pass.
    first = watch_pass(engine, settings, watched, now=datetime.now(UTC), process=False)
    assert first.waiting == ["calls.csv"] and calls_in(engine) == []

    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.imported == ["calls.csv"] and report.calls == ["w-1", "w-2"]
    assert calls_in(engine) == ["w-1", "w-2"]
    done = the_set(watched / "done")
    assert done.name.endswith("-calls")
    # The CSV and the transcript (which may hold card numbers) are deleted once stored;
    # a receipt says so.
    assert sorted(p.name for p in done.iterdir()) == ["calls.imported.txt"]
    assert "2 call(s) imported" in (done / "calls.imported.txt").read_text(encoding="utf-8")
    # Nothing left behind but done/ (the emptied sub-folder went too).
    assert sorted(p.name for p in watched.iterdir()) == ["done"]
    with Session(engine) as session:
        texts = [s.text for s in session.exec(select(Segment).order_by(Segment.position))]
        assert texts == ["thank you for calling acme", "hi"]

    again = watch_pass(engine, settings, watched, now=later(120), process=False)
    assert (again.imported, again.failed, again.waiting) == ([], [], [])
    assert calls_in(engine) == ["w-1", "w-2"] and len(list((watched / "done").iterdir())) == 1


def test_the_recordings_stay_in_done_for_the_calls_that_point_to_them(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    (watched / "audio").mkdir()
    shutil.copy(FIXTURES / "jfk.wav", watched / "audio" / "w-1.wav")
    drop_manifest(watched)
    write_manifest(
        watched / "calls.csv",
        [row("w-1", audio="audio/w-1.wav", transcript="transcripts/w-1.json")],
    )
    watch_pass(engine, settings, watched, now=later(), process=False)
    done = the_set(watched / "done")
    assert sorted(str(p.relative_to(done)) for p in done.rglob("*") if p.is_file()) == [
        "audio/w-1.wav",
        "calls.imported.txt",
    ]
    with Session(engine) as session:
        call = session.get(Call, "w-1")
        assert call is not None and Path(call.audio_path or "") == done / "audio" / "w-1.wav"


def test_a_bad_manifest_goes_to_failed_with_its_errors_and_stores_nothing(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    write_manifest(
        watched / "bad.csv",
        [row("w-1"), row("w-2", started_at="yesterday"), row("w-3")],
    )
    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.failed == ["bad.csv"] and report.imported == []
    assert calls_in(engine) == []
    failed = the_set(watched / "failed")
    assert (failed / "bad.csv").is_file()
    errors = (failed / "bad.errors.txt").read_text(encoding="utf-8")
    assert errors.startswith("bad.csv, row 3, field started_at: ")
    assert "Nothing of this file was stored." in errors
    assert str(watched) not in errors  # the server's paths are not in it
    assert sorted(p.name for p in watched.iterdir()) == ["failed"]
    # The next pass leaves failed/ alone.
    assert watch_pass(engine, settings, watched, now=later(120), process=False).failed == []


def test_chinese_manifest_data_and_chinese_errors(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    (watched / "转写").mkdir()
    doc = {
        "call_id": "话-1",
        "language": "zh",
        "duration": 5.0,
        "segments": [
            {"speaker": "agent", "start": 0.0, "end": 2.0, "text": "您好，欢迎致电电信"},
            {"speaker": "customer", "start": 2.5, "end": 5.0, "text": "我想查一下话费"},
        ],
    }
    (watched / "转写" / "话-1.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    write_manifest(
        watched / "十一月通话.csv",
        [
            row(
                "话-1",
                agent_id="坐席-1",
                queue="账单",
                reason="查询话费",
                transcript="转写/话-1.json",
            )
        ],
    )
    write_manifest(watched / "坏.csv", [row("话-2", agent_id="")])
    zh = settings.model_copy(update={"default_language": "zh-CN"})
    report = watch_pass(engine, zh, watched, now=later(), process=False)
    assert report.imported == ["十一月通话.csv"] and report.failed == ["坏.csv"]
    with Session(engine) as session:
        call = session.get(Call, "话-1")
        assert call is not None and (call.agent_id, call.queue, call.reason) == (
            "坐席-1",
            "账单",
            "查询话费",
        )
        texts = [s.text for s in session.exec(select(Segment)).all()]
        assert texts == ["您好，欢迎致电电信", "我想查一下话费"]
    done = the_set(watched / "done")
    assert not (done / "转写").exists()
    assert "导入" in (done / "十一月通话.imported.txt").read_text(encoding="utf-8")
    errors = (the_set(watched / "failed") / "坏.errors.txt").read_text(encoding="utf-8")
    assert errors.startswith("坏.csv, 第 2 行, 字段 agent_id: ")
    assert calls_in(engine) == ["话-1"]


def test_mystery_shopper_results_are_imported_and_an_unknown_csv_is_refused(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    body = {"id": "s1", "name": "S", "language": "en", "key_points": [], "forbidden": []}
    body["key_points"] = [{"id": "greeting", "label": "Greets", "phrases": ["hello"]}]
    with session_scope(engine) as session:
        session.add(Script(key="s1", version=1, name="Script", language="en", body=body))
    (watched / "shops.csv").write_text(
        "shop_id,agent_id,date,scenario,greeting\nm1,a-1,2026-11-02,lost card,yes\n", "utf-8"
    )
    (watched / "notes.csv").write_text("what,when\nlunch,noon\n", "utf-8")
    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.imported == ["shops.csv"]
    assert report.failed == ["notes.csv"]
    with Session(engine) as session:
        shop = session.get(MysteryShop, "m1")
        assert shop is not None and shop.items == {"greeting": "yes"}
    errors = (the_set(watched / "failed") / "notes.errors.txt").read_text(encoding="utf-8")
    assert "neither a call manifest" in errors and "row 1" in errors


def test_files_still_being_written_wait_for_the_next_pass(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    path = drop_manifest(watched)
    # The transcript changed a moment ago (the export is still writing it).
    now = later()
    recent = (now - SETTLE / 2).timestamp()
    os.utime(watched / "transcripts" / "w-1.json", (recent, recent))
    report = watch_pass(engine, settings, watched, now=now, process=False)
    assert report.waiting == ["calls.csv"] and calls_in(engine) == []
    assert path.is_file()
    report = watch_pass(engine, settings, watched, now=now + SETTLE, process=False)
    assert report.imported == ["calls.csv"]


def test_a_manifest_waits_for_the_files_it_names_then_fails_naming_them(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    write_manifest(watched / "calls.csv", [row("w-1", audio="audio/w-1.wav")])
    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.waiting == ["calls.csv"]
    report = watch_pass(engine, settings, watched, now=later() + MISSING_GRACE, process=False)
    assert report.failed == ["calls.csv"] and calls_in(engine) == []
    errors = (the_set(watched / "failed") / "calls.errors.txt").read_text(encoding="utf-8")
    assert errors.startswith("calls.csv, row 2, field audio: ")


def test_a_path_out_of_the_folder_is_not_moved_and_is_refused(
    engine: Engine, settings: Settings, watched: Path, tmp_path: Path
) -> None:
    outside = write_transcript(tmp_path / "secret.json", "w-1", [("agent", 0.0, 1.0, "hi")])
    write_manifest(watched / "calls.csv", [row("w-1", transcript="../secret.json")])
    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.failed == ["calls.csv"] and outside.is_file()
    errors = (the_set(watched / "failed") / "calls.errors.txt").read_text(encoding="utf-8")
    assert "field transcript" in errors


def test_the_scheduler_runs_the_watched_folder_every_few_minutes_when_set(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    def service(values: Settings) -> SchedulerService:
        ctx = JobContext(engine, values, FakeRenderer(), None, f"test-{time.monotonic()}")
        return SchedulerService(ctx, clock=later)

    unset = service(settings)
    assert run_watched_folder(unset.ctx, later()) is None
    unset.tick()
    try:
        assert unset.scheduler is not None
        assert unset.scheduler.get_job(WATCHED_FOLDER) is None
    finally:
        unset.stop()

    watching = settings.model_copy(update={"watch_dir": watched, "watch_interval_minutes": 7})
    running = service(watching)
    running.tick()
    try:
        assert running.scheduler is not None
        job = running.scheduler.get_job(WATCHED_FOLDER)
        assert job is not None and job.trigger.interval == timedelta(minutes=7)
        drop_manifest(watched)
        running.fire(WATCHED_FOLDER)  # what APScheduler calls, on the service's clock
    finally:
        running.stop()
    assert calls_in(engine) == ["w-1", "w-2"]
    assert the_set(watched / "done").is_dir()
