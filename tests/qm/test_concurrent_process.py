"""Several `qm process` runs on one database share the work: each call is processed once.

The runs are real OS processes of the installed `qm` script, on a SQLite file and (when
configured) on PostgreSQL; claims that ran out are taken over, live ones are respected.
"""

import os
import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.claims import (
    CLAIM_SECONDS,
    BatchClaims,
    ClaimCursor,
    claim_calls,
    release_claims,
    renew_claims,
)
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.pipeline import (
    AsrProvider,
    PipelineContext,
    ProcessReport,
    process_call,
    process_parallel,
    process_pending,
    unfinished_call_ids,
)
from qm.models import Call, CallStage, KeyPointResult, Queue, utcnow
from qm.settings import Settings
from tests.conftest import REPO, TEST_SECRET
from tests.qm.commands.subprocess_qm import QM
from tests.qm.manifests import row, write_manifest, write_transcript

SCRIPT = REPO / "qm" / "demo" / "scripts" / "hvnb-retail.yaml"
CALLS = 300
RUNS = 3
LINES = [
    ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is ann"),
    ("agent", 4.5, 6.0, "how can i help you today"),
    ("customer", 7.0, 9.0, "i want to check my balance"),
    ("agent", 10.0, 12.0, "can you confirm your name please"),
    ("agent", 30.0, 33.0, "is there anything else i can help you with"),
    ("agent", 34.0, 36.0, "thank you for calling have a great day"),
]


def import_calls(engine: Engine, folder: Path, count: int) -> None:
    """`count` calls with transcripts (some leave key points out) and the script assigned."""
    rows = []
    for n in range(count):
        call_id = f"c{n:04d}"
        lines = LINES if n % 3 else LINES[:2] + LINES[4:]
        write_transcript(folder / f"{call_id}.json", call_id, lines)
        started = f"2024-05-01T09:{n // 60 % 60:02d}:{n % 60:02d}+00:00"
        rows.append(row(call_id, queue="retail", transcript=f"{call_id}.json", started_at=started))
    ingest_manifest(engine, write_manifest(folder / "calls.csv", rows))
    with session_scope(engine) as session:
        stored = scripts.load_script_file(session, SCRIPT, actor="test")
        scripts.assign_to_queue(session, stored.key, "retail", actor="test")


def qm_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    return env | {"QM_DATABASE_URL": db_url, "QM_SECRET_KEY": TEST_SECRET}


def items_per_call() -> int:
    from scoring.script import load_script

    script = load_script(SCRIPT)
    return len(script.key_points) + len(script.forbidden)


def test_concurrent_runs_process_every_call_exactly_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, CALLS)
    started = time.perf_counter()
    runs = [
        subprocess.Popen(
            [QM, "process"],
            cwd=tmp_path,
            env=qm_env(db_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RUNS)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    elapsed = time.perf_counter() - started
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, f"{out}\n{err}"
        assert "locked" not in err and "Traceback" not in err, err
    processed = [int(re.search(r"Processed (\d+) call", out)[1]) for out, _ in outputs]  # type: ignore[index]
    print(f"{RUNS} runs, {CALLS} calls in {elapsed:.1f} s; calls per run: {processed}")
    assert sum(processed) == CALLS  # no call was taken by two runs

    with Session(engine) as session:
        stages = session.exec(select(CallStage)).all()
        assert len(stages) == 3 * CALLS
        assert {s.status for s in stages if s.stage == "keypoints"} == {"done"}
        assert not [s for s in stages if s.status == "failed"]
        assert {s.attempts for s in stages} == {1}  # no stage ran twice
        results = session.exec(select(func.count()).select_from(KeyPointResult)).one()
        assert results == CALLS * items_per_call()
        per_call = session.execute(
            sa.select(col(KeyPointResult.call_id), func.count())
            .group_by(col(KeyPointResult.call_id))
            .having(func.count() != items_per_call())
        ).all()
        assert per_call == []
        assert session.exec(select(Call).where(col(Call.claimed_by).is_not(None))).all() == []
    assert unfinished_call_ids(engine) == []


def test_a_live_claim_is_respected_and_an_expired_one_taken_over(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, 6)
    since = utcnow()
    # One run holds two calls and is alive; another held two and was killed long ago.
    assert claim_calls(engine, "alive", run_started=since, limit=2) == ["c0000", "c0001"]
    assert claim_calls(engine, "killed", run_started=since, limit=2, claim_seconds=-1) == [
        "c0002",
        "c0003",
    ]
    report = process_pending(engine, settings)
    assert report.calls == 4 and not report.failed
    assert unfinished_call_ids(engine) == ["c0000", "c0001"]
    with Session(engine) as session:
        alive = session.get(Call, "c0000")
        assert alive is not None and alive.claimed_by == "alive"
        killed = session.get(Call, "c0002")
        assert killed is not None and killed.claimed_by is None

    # The live run renews and then releases its claims; its calls are free again.
    assert renew_claims(engine, "alive", ["c0000", "c0001", "c0002"]) == {"c0000", "c0001"}
    release_claims(engine, "alive")
    assert process_pending(engine, settings).calls == 2
    assert unfinished_call_ids(engine) == []


def test_a_run_tries_a_failing_call_once_and_the_next_run_retries_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, 3)
    with session_scope(engine) as session:
        session.execute(sa.update(Call).where(col(Call.id) == "c0001").values(queue=None))
    no_script = settings.model_copy(update={"default_script": "not-loaded"})
    report = process_pending(engine, no_script)
    assert report.calls == 3
    assert [(c, s) for c, s, _ in report.failed] == [("c0001", "keypoints")]
    again = process_pending(engine, no_script)
    assert again.calls == 1 and len(again.failed) == 1


def test_claims_run_out(engine: Engine, tmp_path: Path) -> None:
    import_calls(engine, tmp_path, 2)
    since = utcnow()
    assert claim_calls(engine, "a", run_started=since) == ["c0000", "c0001"]
    assert claim_calls(engine, "b", run_started=since) == []
    with session_scope(engine) as session:
        session.execute(sa.update(Call).values(claimed_until=utcnow() - timedelta(seconds=1)))
    assert claim_calls(engine, "b", run_started=since, limit=1) == ["c0000"]


def test_a_stage_is_not_stored_once_another_run_took_the_call_over(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, 1)
    assert claim_calls(engine, "slow", run_started=utcnow()) == ["c0000"]
    claims = BatchClaims(engine, "slow", ["c0000"], CLAIM_SECONDS)
    # The slow run's claim ran out and another run claimed the call meanwhile.
    with session_scope(engine) as session:
        session.execute(sa.update(Call).values(claimed_by="other"))
    report = ProcessReport()
    ctx = PipelineContext(settings, AsrProvider(settings))
    process_call(engine, "c0000", ctx, report, claims=claims)
    assert claims.holds("c0000")  # renewed recently, so the run still believes it holds it
    assert report.done == {} and not report.failed
    with Session(engine) as session:
        assert session.exec(select(CallStage)).all() == []


def test_a_cursor_walks_on_and_a_walk_from_the_start_finds_leftovers(
    engine: Engine, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, 5)
    since, cursor = utcnow(), ClaimCursor()
    assert claim_calls(engine, "me", run_started=since, limit=2, cursor=cursor) == [
        "c0000",
        "c0001",
    ]
    assert cursor.call_id == "c0001"
    release_claims(engine, "me", ["c0000"])  # released unfinished, behind the cursor
    assert claim_calls(engine, "me", run_started=since, limit=2, cursor=cursor) == [
        "c0002",
        "c0003",
    ]
    assert claim_calls(engine, "me", run_started=since, limit=2, cursor=cursor) == ["c0004"]
    assert claim_calls(engine, "me", run_started=since, cursor=cursor) == []
    assert claim_calls(engine, "me", run_started=since, cursor=ClaimCursor()) == ["c0000"]


def test_jobs_share_the_calls_and_merge_their_reports(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, 120)
    with session_scope(engine) as session:
        # One call whose queue names a script that was never loaded: it fails alone.
        session.merge(Queue(id="broken", script_key="not-loaded"))
        session.execute(sa.update(Call).where(col(Call.id) == "c0007").values(queue="broken"))
    finished: list[int] = []
    report = process_parallel(settings, jobs=2, progress=finished.append)
    assert report.calls == 120 and sum(finished) == 120
    assert report.done == {"keypoints": 119, "metrics": 119}
    assert report.skipped == {"transcribe": 120}
    assert [(c, s) for c, s, _ in report.failed] == [("c0007", "keypoints")]
    with Session(engine) as session:
        stages = session.exec(select(CallStage)).all()
        assert {s.attempts for s in stages} == {1}  # no stage ran twice
        results = session.exec(select(func.count()).select_from(KeyPointResult)).one()
        assert results == 119 * items_per_call()
        assert session.exec(select(Call).where(col(Call.claimed_by).is_not(None))).all() == []
    assert unfinished_call_ids(engine) == ["c0007"]


def test_one_job_runs_in_this_process_and_jobs_never_outnumber_the_calls(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    import_calls(engine, tmp_path, 3)

    def no_processes(*_: object) -> None:
        raise AssertionError("no worker process should start")

    monkeypatch.setattr(multiprocessing.context.SpawnContext, "Process", no_processes)
    assert process_parallel(settings, jobs=1).calls == 3
    assert process_parallel(settings, jobs=8).calls == 0  # nothing left: no workers either


def test_qm_process_jobs_option(engine: Engine, db_url: str, tmp_path: Path) -> None:
    import_calls(engine, tmp_path, 40)
    done = subprocess.run(
        [QM, "process", "--jobs", "0"],  # one per CPU core
        cwd=tmp_path,
        env=qm_env(db_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Processed 40 call(s). Done: keypoints 40, metrics 40." in done.stdout
    assert unfinished_call_ids(engine) == []
    help_text = subprocess.run(
        [QM, "process", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--jobs" in help_text and "one per CPU core" in " ".join(help_text.split())
