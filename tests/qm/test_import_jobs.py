"""Import jobs without the web: upload names, claiming a job once, and the jobs a stopped
server left running."""

import socket
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.imports import jobs
from qm.errors import ValidationFailed
from qm.models import ImportJob, ImportKind, ImportState
from qm.settings import Settings


@pytest.mark.parametrize(
    ("name", "stored"),
    [("a.csv", "a.csv"), ("export/音频/a.wav", "export/音频/a.wav"), ("x\\y.json", "x/y.json")],
)
def test_safe_names_keep_their_folders(name: str, stored: str) -> None:
    assert str(jobs.safe_relative_path(name)) == stored


@pytest.mark.parametrize(
    "name", ["../a.csv", "a/../../b", "/etc/passwd", "C:/x.csv", "", "./", "a\x00b", "x" * 300]
)
def test_unsafe_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        jobs.safe_relative_path(name, field="files")
    assert refused.value.field == "files"


def _job(engine: Engine, tmp_path: Path, state: ImportState, worker: str | None) -> int:
    with session_scope(engine) as session:
        job = ImportJob(
            kind=ImportKind.MANIFEST,
            state=state,
            file_name="m.csv",
            folder=str(tmp_path),
            created_by="test",
            worker=worker,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        return job.id


def _state(engine: Engine, job_id: int) -> ImportState:
    with Session(engine) as session:
        return jobs.get_job(session, job_id).state


def test_only_jobs_of_gone_processes_of_this_host_are_failed(
    engine: Engine, tmp_path: Path
) -> None:
    host = socket.gethostname()[:80]
    gone = _job(engine, tmp_path, ImportState.RUNNING, f"{host}:{2**22 + 12345}")
    mine = _job(engine, tmp_path, ImportState.RUNNING, jobs.worker_id())
    elsewhere = _job(engine, tmp_path, ImportState.RUNNING, "another-host:1")
    with session_scope(engine) as session:
        assert jobs.fail_interrupted(session) == 1
    assert _state(engine, gone) == ImportState.FAILED
    assert _state(engine, mine) == ImportState.RUNNING
    assert _state(engine, elsewhere) == ImportState.RUNNING


def test_a_job_that_is_not_queued_is_not_run_again(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    job_id = _job(engine, tmp_path, ImportState.DONE, None)
    job = jobs.run_job(engine, settings, job_id)
    assert job.state == ImportState.DONE and job.started_at is None
