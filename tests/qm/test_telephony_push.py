"""Telephony exports pushed over `POST /api/imports` and dropped in the watched folder:
an Asterisk export (real-format files from test_telephony_import's builders) is imported
whole into calls and unanswered contacts; a bad row names its file, row and field and
stores nothing; only admins may push; the watched folder imports an export once."""

import csv
import io
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.app import create_app
from qm.db import session_scope
from qm.domain import tokens
from qm.domain.imports.watched_folder import watch_pass
from qm.models import Call, ImportJob, ImportKind, ImportState, Role, UnansweredContact
from qm.settings import Settings
from tests.factories import make_user
from tests.qm.test_telephony_import import MAPPING, asterisk_export, utc, write_wav

Client = TestClient[Litestar]


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[Client]:
    """The app over the test database; the pipeline is not run over imported calls (the
    import is what these tests check; the upload tests cover the pipeline)."""
    with TestClient(create_app(settings)) as test_client:
        test_client.app.state.imports.process = False
        yield test_client


def bearer(engine: Engine, username: str, role: Role) -> dict[str, str]:
    with session_scope(engine) as session:
        make_user(session, username, role)
    with Session(engine) as session:
        token = tokens.issue_token(session, username, actor="test")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def export_files(directory: Path) -> list[tuple[str, tuple[str, bytes]]]:
    """Every file of an export folder as multipart `files`, paths relative to its parent."""
    return [
        ("files", (str(p.relative_to(directory.parent)), p.read_bytes()))
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    ]


def zipped(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for p in sorted(directory.rglob("*")):
            if p.is_file():
                archive.write(p, str(p.relative_to(directory.parent)))
    return buffer.getvalue()


def push(client: Client, auth: dict[str, str], files: Any, **form: str) -> dict[str, Any]:
    """POST the export, wait for its job, and answer the finished job."""
    response = client.post("/api/imports", headers=auth, data=form, files=files)
    assert response.status_code == 201, response.text
    assert client.app.state.imports.wait_idle(60), "the import did not finish"
    job: dict[str, Any] = client.get(f"/api/imports/{response.json()['id']}", headers=auth).json()
    return job


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        n: int = session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
        return n


def break_row_4(directory: Path) -> Path:
    """Master.csv with a start time cdr_csv never writes on its row 4."""
    master = directory / "cdr-csv" / "Master.csv"
    lines = master.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("2024-03-31 01:50:00", "2024-03-31 1:50 AM", 1)
    master.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return master


def test_api_push_of_an_asterisk_export_stores_its_contacts(
    client: Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    auth = bearer(engine, "ada", Role.ADMIN)
    directory = asterisk_export(tmp_path)
    job = push(client, auth, export_files(directory), kind="asterisk", timezone="Europe/Berlin")
    assert job["state"] == "done", job["error"]
    assert job["kind"] == "asterisk" and job["file"] == "asterisk/cdr-csv/Master.csv"
    assert (job["rows"], job["created"], job["updated"]) == (3, 3, 0)
    assert job["timezone"] == "Europe/Berlin"
    summary = "\n".join(job["summary"])
    assert "abandoned 1, ivr 1" in summary and "1711846200.3" in summary  # no recording
    assert str(settings.upload_folder()) not in summary  # server paths are not shown
    with Session(engine) as session:
        first = session.get(Call, "1711789200.1")
        assert first is not None
        assert (first.agent_id, first.queue, first.transfers) == ("张伟", "售后服务", 2)
        assert first.started_at == utc(2024, 3, 30, 9, 0)  # Berlin's +01:00
        dst = session.get(Call, "1711846200.3")
        assert dst is not None and dst.started_at == utc(2024, 3, 31, 0, 50)
        assert dst.audio_path is None
        paired = session.get(Call, "1711872000.9")
        assert paired is not None and paired.agent_channel == "left"
        kinds = {u.id: u.kind for u in session.exec(select(UnansweredContact)).all()}
        assert kinds == {"1711875600.11": "abandoned", "1711879200.12": "ivr"}
        audio = [Path(c.audio_path) for c in (first, paired) if c.audio_path]
    # The recordings the calls point to stay in the upload's folder; the CDRs, the queue
    # log and the joined pair's halves are gone.
    assert len(audio) == 2 and all(a.is_file() for a in audio)
    assert all(settings.upload_folder().resolve() in a.resolve().parents for a in audio)
    upload = audio[0].resolve().parents[2]
    left = sorted(p.name for p in upload.rglob("*") if p.is_file())
    assert left == sorted(a.name for a in audio)

    # Pushed again as a zip, in the site's zone: the same contacts are updated.
    again = push(client, auth, [("files", ("pbx.zip", zipped(directory)))], kind="asterisk")
    assert again["state"] == "done" and (again["created"], again["updated"]) == (0, 3)
    assert again["timezone"] is None
    assert count(engine, Call) == 3


def test_a_bad_row_fails_the_job_naming_file_row_and_field_and_stores_nothing(
    client: Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    auth = bearer(engine, "ada", Role.ADMIN)
    directory = asterisk_export(tmp_path)
    break_row_4(directory)
    files = [("files", ("pbx.zip", zipped(directory)))]
    job = push(client, auth, files, kind="asterisk", timezone="Europe/Berlin")
    assert job["state"] == "failed"
    error = job["error"]
    assert (error["file"], error["row"], error["field"]) == (
        "asterisk/cdr-csv/Master.csv",
        4,
        "start",
    )
    assert count(engine, Call) == 0 and count(engine, UnansweredContact) == 0
    # Nothing of a refused upload is kept.
    assert not any(p.is_file() for p in settings.upload_folder().rglob("*"))


def test_a_cdr_csv_is_pushed_with_its_mapping_file(
    client: Client, engine: Engine, tmp_path: Path
) -> None:
    auth = bearer(engine, "ada", Role.ADMIN)
    path = tmp_path / "话单.csv"
    header = ["通话ID", "坐席通道", "开始时间", "主叫", "队列", "通话秒数", "保持秒数", "排队秒数"]
    row = ["x-1", "PJSIP/赵敏-0001", "2024/05/01 09:30:00", "13800000020", "售前", "200", "5", "12"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, row])
    wav = write_wav(tmp_path / "rec" / "x-1.wav").read_bytes()
    files = [("files", ("话单.csv", path.read_bytes())), ("files", ("rec/x-1.wav", wav))]
    # Without its mapping the upload is refused before anything is queued.
    response = client.post("/api/imports", headers=auth, data={"kind": "cdr"}, files=files)
    assert response.status_code == 422 and response.json()["field"] == "mapping"
    files.append(("mapping", ("map.yaml", MAPPING.encode("utf-8"))))
    job = push(client, auth, files, kind="cdr")
    assert job["state"] == "done" and job["created"] == 1, job["error"]
    with Session(engine) as session:
        call = session.get(Call, "x-1")
        assert call is not None and call.agent_id == "赵敏" and call.audio_path is not None
        assert Path(call.audio_path).is_file()


def test_an_unknown_time_zone_is_refused_naming_the_field(
    client: Client, engine: Engine, tmp_path: Path
) -> None:
    auth = bearer(engine, "ada", Role.ADMIN)
    files = export_files(asterisk_export(tmp_path))
    response = client.post(
        "/api/imports",
        headers=auth,
        data={"kind": "asterisk", "timezone": "Mars/Olympus"},
        files=files,
    )
    assert response.status_code == 422 and response.json()["field"] == "timezone"
    response = client.post(
        "/api/imports",
        headers=auth,
        data={"kind": "freeswitch"},
        files=[("files", ("a.wav", b"x"))],
    )
    assert response.status_code == 422 and response.json()["field"] == "files"
    assert count(engine, ImportJob) == 0


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.MANAGER])
def test_only_admins_may_push(client: Client, engine: Engine, tmp_path: Path, role: Role) -> None:
    auth = bearer(engine, "someone", role)
    files = export_files(asterisk_export(tmp_path))
    response = client.post("/api/imports", headers=auth, data={"kind": "asterisk"}, files=files)
    assert response.status_code == 403
    assert count(engine, ImportJob) == 0 and count(engine, Call) == 0


def test_the_upload_page_offers_the_telephony_kinds_in_chinese(
    client: Client, engine: Engine
) -> None:
    with session_scope(engine) as session:
        make_user(session, "ada", Role.ADMIN)
    from tests.qm.web.conftest import login

    login(client, "ada")
    page = client.get("/admin/imports?lang=zh-CN")
    assert page.status_code == 200
    for kind in ("asterisk", "freeswitch", "cdr"):
        assert f'value="{kind}"' in page.text
    assert 'name="mapping"' in page.text and 'name="timezone"' in page.text
    assert "Asterisk 导出" in page.text and "话单 CSV 及映射文件" in page.text
    with session_scope(engine) as session:
        job = ImportJob(
            kind=ImportKind.ASTERISK,
            state=ImportState.DONE,
            file_name="pbx/Master.csv",
            folder="/nowhere",
            created_by="ada",
            summary="Stored 3 agent contact(s)\nabandoned 1, ivr 1",
        )
        session.add(job)
        session.flush()
        job_id = job.id
    page = client.get(f"/admin/imports/{job_id}?lang=zh-CN")
    assert page.status_code == 200
    assert "Asterisk 导出" in page.text and "站点默认" in page.text
    assert "<li>abandoned 1, ivr 1</li>" in page.text


# The watched folder.


def later(seconds: float = 60.0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def drop_export(watched: Path, tmp_path: Path, name: str = "pbx1") -> Path:
    """An Asterisk export moved into the watched folder's asterisk/<name>/."""
    (watched / "asterisk").mkdir(exist_ok=True)
    return Path(shutil.move(asterisk_export(tmp_path / "src"), watched / "asterisk" / name))


def berlin(settings: Settings) -> Settings:
    return settings.model_copy(update={"timezone": "Europe/Berlin"})


def test_the_watched_folder_imports_an_asterisk_export_once(
    engine: Engine, settings: Settings, watched: Path, tmp_path: Path
) -> None:
    drop_export(watched, tmp_path)
    # Just written: it waits for the files to settle.
    waiting = watch_pass(engine, berlin(settings), watched, now=datetime.now(UTC), process=False)
    assert waiting.waiting == ["asterisk/pbx1"] and count(engine, Call) == 0
    report = watch_pass(engine, berlin(settings), watched, now=later(), process=False)
    assert report.imported == ["asterisk/pbx1"] and report.failed == []
    assert sorted(report.calls) == ["1711789200.1", "1711846200.3", "1711872000.9"]
    assert count(engine, Call) == 3 and count(engine, UnansweredContact) == 2
    with Session(engine) as session:
        first = session.get(Call, "1711789200.1")
        assert first is not None and first.started_at == utc(2024, 3, 30, 9, 0)
        assert first.audio_path is not None
        audio = Path(first.audio_path)
    (done,) = (watched / "done").iterdir()
    assert done.name.endswith("-asterisk-pbx1")
    assert audio.is_file() and done.resolve() in audio.resolve().parents
    receipt = (done / "pbx1.imported.txt").read_text(encoding="utf-8")
    assert "abandoned 1, ivr 1" in receipt
    assert not (done / "cdr-csv").exists() and not (done / "queue_log").exists()
    assert not any((watched / "asterisk").iterdir())
    # A second pass finds nothing to import.
    again = watch_pass(engine, berlin(settings), watched, now=later(120), process=False)
    assert (again.imported, again.failed, again.waiting) == ([], [], [])
    assert count(engine, Call) == 3


def test_a_bad_export_lands_in_failed_with_its_errors_and_stores_nothing(
    engine: Engine, settings: Settings, watched: Path, tmp_path: Path
) -> None:
    break_row_4(drop_export(watched, tmp_path))
    report = watch_pass(engine, berlin(settings), watched, now=later(), process=False)
    assert report.failed == ["asterisk/pbx1"] and report.imported == []
    assert count(engine, Call) == 0 and count(engine, UnansweredContact) == 0
    (failed,) = (watched / "failed").iterdir()
    errors = (failed / "pbx1.errors.txt").read_text(encoding="utf-8")
    assert errors.startswith("cdr-csv/Master.csv, row 4, field start:")
    assert "Nothing of this file was stored." in errors
    assert (failed / "cdr-csv" / "Master.csv").is_file()  # kept to be corrected
    assert not (watched / "done").exists() or not any((watched / "done").iterdir())
    again = watch_pass(engine, berlin(settings), watched, now=later(120), process=False)
    assert (again.imported, again.failed) == ([], [])


def test_a_cdr_csv_waits_for_its_mapping_then_is_imported(
    engine: Engine, settings: Settings, watched: Path
) -> None:
    cdr = watched / "cdr"
    cdr.mkdir()
    header = ["通话ID", "坐席通道", "开始时间", "主叫", "队列", "通话秒数", "保持秒数", "排队秒数"]
    row = ["x-1", "PJSIP/赵敏-0001", "2024/05/01 09:30:00", "13800000020", "售前", "200", "5", "12"]
    with (cdr / "day.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, row])
    # The template is relative to the CSV: its recordings come in cdr/day/.
    write_wav(cdr / "day" / "x-1.wav")
    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.waiting == ["cdr/day.csv"] and count(engine, Call) == 0
    mapping = MAPPING.replace('recording: "rec/{call_id}.wav"', 'recording: "day/{call_id}.wav"')
    (cdr / "day.mapping.yaml").write_text(mapping, encoding="utf-8")
    report = watch_pass(engine, settings, watched, now=later(), process=False)
    assert report.imported == ["cdr/day.csv"] and report.calls == ["x-1"]
    with Session(engine) as session:
        call = session.get(Call, "x-1")
        assert call is not None and call.audio_path is not None
        assert Path(call.audio_path).is_file()
    assert not any(cdr.iterdir())
