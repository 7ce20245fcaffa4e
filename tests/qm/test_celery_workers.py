"""Scale-out on Celery: `qm process` queues the stages, `qm worker`s run them.

The end-to-end test uses real parts: PostgreSQL (QM_TEST_DATABASE_URL), Redis
(QM_TEST_REDIS_URL) and two real worker processes, one of which is killed with SIGKILL in
the middle of a task; every call still ends done, each stage stored exactly once. The
queues of each test live under a key prefix of their own (QM_BROKER_KEY_PREFIX), removed
afterwards, so test processes sharing a Redis do not meet.

The task is made slow by the worker's launcher below (a test-only wrapper around the
key-point stage, not a product setting): the first task to reach the slow call writes a
marker file and sleeps, which tells the test which worker to kill, and when.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from qm.domain.pipeline import AsrProvider, PipelineContext, unfinished_call_ids
from qm.domain.pipeline.queued import (
    Outcome,
    TransientError,
    pending_stages,
    run_queued_stage,
)
from qm.models import Call, CallStage, KeyPointResult, Stage, utcnow
from qm.settings import Settings
from tests.qm.commands.subprocess_qm import QM
from tests.qm.test_concurrent_process import import_calls, items_per_call, qm_env

CALLS = 24
SLOW_CALL = "c0005"
VISIBILITY_SECONDS = 5

# Runs `qm worker` with the key-point stage of SLOW_CALL made slow, once (see above).
LAUNCHER = """
import os, sys, time
from qm.domain.pipeline import stages
from qm.models import Stage

marker, slow_call = os.environ["QM_TEST_SLOW_MARKER"], os.environ["QM_TEST_SLOW_CALL"]
runner = stages.RUNNERS[Stage.KEYPOINTS]

def slow_prepare(engine, work, ctx):
    if work.call.id == slow_call:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass  # the redelivered task runs at full speed
        else:
            os.write(fd, str(os.getpgid(0)).encode())
            os.close(fd)
            time.sleep(60)
    return runner.prepare(engine, work, ctx)

stages.RUNNERS[Stage.KEYPOINTS] = stages.StageRunner(runner.write, prepare=slow_prepare)
from qm.cli import cli
cli(["worker", "--concurrency", "1", "--loglevel", "WARNING"])
"""


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("QM_TEST_REDIS_URL")
    if not url:
        pytest.skip("QM_TEST_REDIS_URL is not set: the Celery worker tests need Redis")
    return url


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"qmtest-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _stop(worker: subprocess.Popen[str]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    # The pool's children, should the main process have left any.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.pg)], indirect=True
)
def test_two_workers_survive_a_killed_one_with_nothing_lost_or_doubled(
    engine: Engine, db_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, CALLS)
    marker = tmp_path / "slow-started"
    env = qm_env(db_url) | {
        "QM_BROKER_URL": redis_url,
        "QM_BROKER_KEY_PREFIX": key_prefix,
        "QM_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "QM_SEMANTIC_MODEL": "off",
        "QM_TEST_SLOW_MARKER": str(marker),
        "QM_TEST_SLOW_CALL": SLOW_CALL,
    }
    queued = subprocess.run(
        [QM, "process"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert queued.returncode == 0, queued.stderr
    assert f"Queued {CALLS} call(s)" in queued.stdout
    from qm.workers import make_celery, queue_depths

    settings = Settings(
        database_url=db_url,
        broker_url=redis_url,
        broker_key_prefix=key_prefix,
        _env_file=None,  # type: ignore[call-arg]
    )
    # Counted under the key prefix (a passive declare finds no queue there).
    assert sum(queue_depths(make_celery(settings)).values()) == CALLS

    workers = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"worker{n}.log").open("w"),
            text=True,
            start_new_session=True,  # its own process group: the pool dies with it
        )
        for n in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline, "no worker reached the slow call"
            assert all(w.poll() is None for w in workers), "a worker stopped"
            time.sleep(0.05)
        killed = next(w for w in workers if w.pid == int(marker.read_text()))
        os.killpg(killed.pid, signal.SIGKILL)  # the whole machine gone, mid-task
        killed.wait()
        killed_at = utcnow()
        survivor = next(w for w in workers if w is not killed)

        deadline = time.monotonic() + 40
        while unfinished_call_ids(engine):
            assert survivor.poll() is None, (tmp_path / "worker0.log").read_text()
            assert time.monotonic() < deadline, f"unfinished: {unfinished_call_ids(engine)}"
            time.sleep(0.2)
        print(f"the killed worker's call was done {utcnow() - killed_at} after the kill")
    finally:
        for w in workers:
            _stop(w)

    with Session(engine) as session:
        stages = session.exec(select(CallStage)).all()
        assert len(stages) == 3 * CALLS
        assert {s.status for s in stages if s.stage == Stage.KEYPOINTS} == {"done"}
        assert {s.status for s in stages if s.stage == Stage.METRICS} == {"done"}
        assert {s.attempts for s in stages} == {1}  # no stage was stored twice
        # The slow call was finished by the survivor, from the redelivered task.
        (slow,) = [s for s in stages if s.call_id == SLOW_CALL and s.stage == Stage.KEYPOINTS]
        assert slow.updated_at > killed_at
        results = session.exec(select(func.count()).select_from(KeyPointResult)).one()
        assert results == CALLS * items_per_call()
        per_call = session.execute(
            sa.select(col(KeyPointResult.call_id), func.count())
            .group_by(col(KeyPointResult.call_id))
            .having(func.count() != items_per_call())
        ).all()
        assert per_call == []
        assert session.exec(select(Call).where(col(Call.claimed_by).is_not(None))).all() == []

    assert queue_depths(make_celery(settings)) == {"asr": 0, "score": 0}
    status = subprocess.run(
        [QM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0, status.stderr
    assert "queue score: 0 task(s) waiting" in status.stdout
    keypoints = next(line for line in status.stdout.splitlines() if line.startswith("keypoints"))
    # pending, done, skipped, failed, finished per minute over the last 5 minutes
    assert keypoints.split() == ["keypoints", "0", str(CALLS), "0", "0", str(round(CALLS / 5))]


def test_a_queued_stage_runs_once_and_in_order(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    import_calls(engine, tmp_path, 2)
    ctx = PipelineContext(settings, AsrProvider(settings))
    assert pending_stages(engine) == [("c0000", Stage.TRANSCRIBE), ("c0001", Stage.TRANSCRIBE)]

    # A stage that is not the call's first unfinished one points at that one.
    early = run_queued_stage(engine, ctx, "c0000", Stage.METRICS, claim_seconds=60)
    assert (early.outcome, early.next_stage) == (Outcome.FINISHED, Stage.TRANSCRIBE)

    outcomes = []
    stage: Stage | None = Stage.TRANSCRIBE
    while stage is not None:
        done = run_queued_stage(engine, ctx, "c0000", stage, claim_seconds=60)
        outcomes.append(done.outcome)
        stage = done.next_stage
    assert outcomes == [Outcome.RAN] * 3
    assert pending_stages(engine) == [("c0001", Stage.TRANSCRIBE)]

    # A task may run the later stages of its queue too: key points, then metrics.
    asr = run_queued_stage(engine, ctx, "c0001", Stage.TRANSCRIBE, claim_seconds=60)
    assert (asr.outcome, asr.next_stage) == (Outcome.RAN, Stage.KEYPOINTS)
    score = run_queued_stage(
        engine, ctx, "c0001", Stage.KEYPOINTS, claim_seconds=60, then=[Stage.METRICS]
    )
    assert (score.outcome, score.next_stage) == (Outcome.RAN, None)
    assert pending_stages(engine) == []

    # Running a task again (a redelivered copy) changes nothing.
    with Session(engine) as session:
        before = [
            (s.stage, s.status, s.attempts, s.updated_at) for s in session.exec(select(CallStage))
        ]
    again = run_queued_stage(engine, ctx, "c0000", Stage.KEYPOINTS, claim_seconds=60)
    assert (again.outcome, again.next_stage) == (Outcome.FINISHED, None)
    with Session(engine) as session:
        after = [
            (s.stage, s.status, s.attempts, s.updated_at) for s in session.exec(select(CallStage))
        ]
    assert after == before
    assert run_queued_stage(engine, ctx, "gone", Stage.KEYPOINTS, claim_seconds=60).outcome == (
        Outcome.GONE
    )


def test_a_claimed_call_waits_and_a_transient_error_is_retried(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qm.domain.claims import claim_calls, release_claims
    from qm.domain.pipeline import queued

    import_calls(engine, tmp_path, 1)
    ctx = PipelineContext(settings, AsrProvider(settings))
    # Another task holds the call: this one is told to come back when the claim runs out.
    assert claim_calls(engine, "other", run_started=utcnow(), claim_seconds=30) == ["c0000"]
    busy = run_queued_stage(engine, ctx, "c0000", Stage.TRANSCRIBE, claim_seconds=60)
    assert busy.outcome == Outcome.BUSY and busy.retry_in is not None and 25 < busy.retry_in <= 31
    release_claims(engine, "other")

    def lost_connection(*args: object) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(queued, "run_stage", lost_connection)
    with pytest.raises(TransientError):
        run_queued_stage(engine, ctx, "c0000", Stage.TRANSCRIBE, claim_seconds=60)
    with Session(engine) as session:
        assert session.exec(select(CallStage)).all() == []  # nothing recorded: retried
        call = session.get(Call, "c0000")
        assert call is not None and call.claimed_by is None  # the claim was given back

    def broken(*args: object) -> None:
        raise ValueError("bad script")

    monkeypatch.setattr(queued, "run_stage", broken)
    failed = run_queued_stage(engine, ctx, "c0000", Stage.TRANSCRIBE, claim_seconds=60)
    assert (failed.outcome, failed.next_stage) == (Outcome.FAILED, None)
    with Session(engine) as session:
        (row,) = session.exec(select(CallStage)).all()
        assert row.status == "failed" and "error id" in row.detail
    # A copy of a later stage's task leaves the failed one to the next `qm process`.
    waiting = run_queued_stage(engine, ctx, "c0000", Stage.KEYPOINTS, claim_seconds=60)
    assert waiting.outcome == Outcome.WAITING


def test_without_a_broker_status_counts_stages_and_worker_refuses(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    from tests.qm.commands.cli import invoke

    import_calls(engine, tmp_path, 3)
    status = invoke(db_url, "status")
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[1].split() == ["transcribe", "3", "0", "0", "0", "0"]
    assert "No broker (QM_BROKER_URL)" in status.output
    refused = invoke(db_url, "worker")
    assert refused.exit_code == 1
    assert "QM_BROKER_URL is not set" in refused.output
    bad = invoke(db_url, "worker", "--queues", "asr,gpu", QM_BROKER_URL="redis://127.0.0.1:1/0")
    assert bad.exit_code == 2 and "choose from asr, score" in bad.output


def test_only_calls_with_speech_to_recognise_go_to_the_asr_queue(
    engine: Engine, tmp_path: Path
) -> None:
    from qm.domain.pipeline.queued import needs_asr

    import_calls(engine, tmp_path, 3)
    audio = tmp_path / "c0001.wav"
    audio.write_bytes(b"RIFF")
    with Session(engine) as session:
        for call_id in ("c0001", "c0002"):
            call = session.get(Call, call_id)
            assert call is not None
            call.audio_path = str(audio)
            session.add(call)
        session.commit()
        # c0002 keeps its imported transcript: nothing to recognise there either.
        session.execute(
            sa.text(
                "DELETE FROM segment WHERE transcript_id IN "
                "(SELECT id FROM transcript WHERE call_id = 'c0001')"
            )
        )
        session.execute(sa.text("DELETE FROM transcript WHERE call_id = 'c0001'"))
        session.commit()
    assert needs_asr(engine, ["c0000", "c0001", "c0002"]) == {"c0001"}
