"""Uploads in the browser and over the API: a manifest with its files (or a zip) is imported
in the background with the command line's all-or-nothing rules; a refused row names the
file, row and field and stores nothing; unsafe zips and other roles are refused."""

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.domain import tokens
from qm.domain.imports import jobs
from qm.models import (
    Agent,
    AuditEvent,
    Call,
    ImportJob,
    ImportState,
    MysteryShop,
    Role,
    Script,
    Segment,
)
from qm.settings import Settings
from tests.factories import make_user
from tests.qm.manifests import row
from tests.qm.web.conftest import Client, csrf_token, login, soup

COLUMNS = (
    "call_id,agent_id,customer_id,queue,reason,started_at,talk_seconds,hold_seconds,"
    "wrap_seconds,transfers,resolved,audio,transcript"
)


def manifest(rows: list[dict[str, Any]]) -> bytes:
    """A manifest CSV of `rows` (see tests.qm.manifests.row)."""
    names = COLUMNS.split(",")
    lines = [COLUMNS] + [",".join(str(r[n]) for n in names) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def transcript(call_id: str, lines: list[tuple[str, float, float, str]]) -> bytes:
    doc = {
        "call_id": call_id,
        "language": "zh",
        "duration": max(end for _, _, end, _ in lines),
        "segments": [{"speaker": s, "start": a, "end": b, "text": t} for s, a, b, t in lines],
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


ZH_LINES = [
    ("agent", 0.0, 3.0, "您好，欢迎致电哈珀谷银行，我是小王"),
    ("customer", 3.5, 9.0, "我的卡号是 4111 1111 1111 1111"),
]


@pytest.fixture
def admin(client: Client, seed: Callable[..., None]) -> Client:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    login(client, "ada")
    return client


def wait(client: Client) -> None:
    assert client.app.state.imports.wait_idle(60), "the import did not finish"


def upload(
    client: Client, files: list[tuple[str, bytes]], kind: str = "manifest", *, follow: bool = True
) -> Any:
    data = {"_csrf_token": csrf_token(client, "/admin/imports"), "kind": kind}
    sent = [("files", (name, content)) for name, content in files]
    response = client.post("/admin/imports", data=data, files=sent, follow_redirects=False)
    if follow and response.status_code == 303:
        wait(client)
        return client.get(response.headers["location"])
    return response


def stored(engine: Engine, model: Any) -> list[Any]:
    with Session(engine) as s:
        return list(s.exec(select(model)).all())


def test_chinese_manifest_with_transcript_and_audio_is_imported_redacted_and_kept(
    admin: Client, engine: Engine, settings: Settings
) -> None:
    rows = [
        row("zh-1", agent_id="王小明", reason="账单问题", audio="zh-1.wav", transcript="zh-1.json"),
        row("zh-2", agent_id="王小明", reason="挂失"),
    ]
    audio = Path("tests/fixtures/audio/ldc93s1_8k.wav").read_bytes()
    page = upload(
        admin,
        [
            ("通话清单.csv", manifest(rows)),
            ("zh-1.wav", audio),
            ("zh-1.json", transcript("zh-1", ZH_LINES)),
        ],
    )
    assert page.status_code == 200
    html = soup(page.text)
    assert html.select_one("#job")["data-state"] == "done"  # type: ignore[index]
    assert "通话清单.csv" in html.select_one("h1").text  # type: ignore[union-attr]
    assert html.select_one('[data-count="created"]').text.strip() == "2"  # type: ignore[union-attr]
    calls = {c.id: c for c in stored(engine, Call)}
    assert set(calls) == {"zh-1", "zh-2"}
    assert calls["zh-1"].reason == "账单问题"
    assert stored(engine, Agent)[0].id == "王小明"
    # The audio stays inside the site's upload folder, where the call points: the
    # pipeline's redacted copy (the customer read a card number out), the original gone;
    # the manifest and the transcript (card number and all) are gone from the disk too.
    audio_path = Path(calls["zh-1"].audio_path or "")
    assert audio_path.is_file() and audio_path.read_bytes()[:4] == b"RIFF"
    assert audio_path.read_bytes() != audio
    assert settings.upload_folder().resolve() in audio_path.resolve().parents
    left = [p.name for p in audio_path.parent.rglob("*")]
    assert left == [audio_path.name]
    # The transcript was stored redacted.
    texts = [seg.text for seg in stored(engine, Segment)]
    assert any("欢迎致电" in t for t in texts)
    assert not any("4111" in t for t in texts)
    with Session(engine) as s:
        job = s.exec(select(ImportJob)).one()
        assert job.state == ImportState.DONE and job.created == 2 and job.transcripts == 1
        assert job.processed == 2  # the pipeline ran over both calls
        actions = set(s.exec(select(AuditEvent.action)).all())
    assert {"import.upload", "ingest.manifest"} <= actions


def test_bad_row_fails_the_job_naming_file_row_and_field_and_stores_nothing(
    admin: Client, engine: Engine, settings: Settings
) -> None:
    rows = [row("c-1"), row("c-2", talk_seconds="很长")]
    page = upload(admin, [("calls.csv", manifest(rows))])
    html = soup(page.text)
    assert html.select_one("#job")["data-state"] == "failed"  # type: ignore[index]
    problem = html.select_one("#job-error")
    assert problem is not None
    assert problem.select_one(".file").text == "calls.csv"  # type: ignore[union-attr]
    assert problem.select_one(".row").text == "3"  # type: ignore[union-attr]
    assert problem.select_one(".field").text == "talk_seconds"  # type: ignore[union-attr]
    assert str(settings.upload_folder()) not in page.text  # no server path shown
    assert stored(engine, Call) == []
    assert stored(engine, Agent) == []
    # Nothing of a refused upload stays on the disk either.
    assert not any(settings.upload_folder().iterdir())


def test_missing_transcript_file_is_refused_naming_the_field(admin: Client, engine: Engine) -> None:
    page = upload(admin, [("calls.csv", manifest([row("c-1", transcript="nope.json")]))])
    html = soup(page.text)
    assert html.select_one("#job-error .field").text == "transcript"  # type: ignore[union-attr]
    assert stored(engine, Call) == []


@pytest.mark.parametrize(
    ("cells", "field"),
    [({"transcript": "../../../etc/passwd"}, "transcript"), ({"audio": "/etc/hostname"}, "audio")],
)
def test_manifest_naming_files_outside_its_upload_is_refused(
    admin: Client, engine: Engine, settings: Settings, cells: dict[str, str], field: str
) -> None:
    page = upload(admin, [("calls.csv", manifest([row("c-1", **cells)]))])
    html = soup(page.text)
    assert html.select_one("#job-error .field").text == field  # type: ignore[union-attr]
    assert "outside" in html.select_one("#job-error .message").text  # type: ignore[union-attr]
    assert str(settings.upload_folder().resolve()) not in page.text
    assert stored(engine, Call) == []


def test_zip_keeps_folders(admin: Client, engine: Engine) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        rows = [row("z-1", transcript="transcripts/z-1.json")]
        archive.writestr("export/manifest.csv", manifest(rows))
        archive.writestr("export/transcripts/z-1.json", transcript("z-1", ZH_LINES))
    page = upload(admin, [("export.zip", buffer.getvalue())])
    assert soup(page.text).select_one("#job")["data-state"] == "done"  # type: ignore[index]
    assert [c.id for c in stored(engine, Call)] == ["z-1"]


@pytest.mark.parametrize(
    "member", ["../evil.csv", "export/../../evil.csv", "/etc/evil.csv", "C:/evil.csv"]
)
def test_zip_member_leading_out_is_refused(
    admin: Client, engine: Engine, settings: Settings, member: str
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.csv", manifest([row("c-1")]))
        archive.writestr(member, b"x")
    response = upload(admin, [("bad.zip", buffer.getvalue())], follow=False)
    assert response.status_code == 422
    problem = soup(response.text).select_one("#upload-problem")
    assert problem is not None
    assert problem.select_one(".field").text == "files"  # type: ignore[union-attr]
    assert member in problem.text
    assert stored(engine, ImportJob) == []
    assert not (settings.upload_folder().parent / "evil.csv").exists()
    assert not any(settings.upload_folder().iterdir())


def test_zip_unpacking_beyond_the_limit_answers_413(
    admin: Client, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "MAX_UNPACKED_BYTES", 1000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", manifest([row("c-1")]))
        archive.writestr("big.wav", b"\0" * 100_000)  # compresses to almost nothing
    response = upload(admin, [("big.zip", buffer.getvalue())], follow=False)
    assert response.status_code == 413
    assert "1,000 bytes" in response.text
    assert stored(engine, ImportJob) == []


def test_upload_without_exactly_one_csv_is_refused(admin: Client, engine: Engine) -> None:
    response = upload(admin, [("a.csv", b"x"), ("b.csv", b"y")], follow=False)
    assert response.status_code == 422
    assert "exactly one CSV" in response.text
    response = upload(admin, [("a.json", b"{}")], follow=False)
    assert response.status_code == 422
    assert stored(engine, ImportJob) == []


def test_mystery_csv_is_imported_and_a_bad_answer_stores_nothing(
    admin: Client, engine: Engine, seed: Callable[..., None]
) -> None:
    seed(
        lambda s: s.add(
            Script(
                key="s",
                version=1,
                name="s",
                language="zh",
                body={"key_points": [{"id": "greeting"}]},
            )
        )
    )
    good = "shop_id,agent_id,date,scenario,greeting\nm-1,李娜,2024-05-02,挂失银行卡,yes\n"
    page = upload(admin, [("神秘顾客.csv", good.encode())], kind="mystery")
    assert soup(page.text).select_one("#job")["data-state"] == "done"  # type: ignore[index]
    assert [m.id for m in stored(engine, MysteryShop)] == ["m-1"]
    bad = (
        "shop_id,agent_id,date,scenario,greeting\n"
        "m-2,李娜,2024-05-02,x,yes\n"
        "m-3,李娜,2024-05-02,x,maybe\n"
    )
    page = upload(admin, [("bad.csv", bad.encode())], kind="mystery")
    html = soup(page.text)
    assert html.select_one("#job-error .row").text == "3"  # type: ignore[union-attr]
    assert html.select_one("#job-error .field").text == "greeting"  # type: ignore[union-attr]
    assert [m.id for m in stored(engine, MysteryShop)] == ["m-1"]


def test_unknown_kind_is_refused(admin: Client) -> None:
    response = upload(admin, [("a.csv", manifest([row("c-1")]))], kind="payroll", follow=False)
    assert response.status_code == 422
    assert soup(response.text).select_one("#upload-problem .field").text == "kind"  # type: ignore[union-attr]


def test_list_shows_recent_uploads_in_chinese(admin: Client) -> None:
    upload(admin, [("清单.csv", manifest([row("c-1")]))])
    page = admin.get("/admin/imports?lang=zh-CN")
    assert page.status_code == 200
    table = soup(page.text).select_one("#imports")
    assert table is not None and "清单.csv" in table.text
    assert admin.get("/admin/imports/999").status_code == 404


@pytest.mark.parametrize("role", [Role.AGENT, Role.REVIEWER, Role.MANAGER])
def test_other_roles_are_refused(
    client: Client, seed: Callable[..., None], engine: Engine, role: Role
) -> None:
    seed(lambda s: make_user(s, "someone", role, agent_id="a-9" if role == Role.AGENT else None))
    login(client, "someone")
    assert client.get("/admin/imports").status_code == 403
    assert client.get("/api/imports/1").status_code == 403
    with Session(engine) as s:
        token = tokens.issue_token(s, "someone", actor="test")
        s.commit()
    response = client.post(
        "/api/imports",
        headers={"Authorization": f"Bearer {token}"},
        data={"kind": "manifest"},
        files=[("files", ("m.csv", manifest([row("c-1")])))],
    )
    assert response.status_code == 403
    assert stored(engine, ImportJob) == []


def test_api_round_trip(client: Client, seed: Callable[..., None], engine: Engine) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    with Session(engine) as s:
        token = tokens.issue_token(s, "ada", actor="test")
        s.commit()
    auth = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/imports",
        headers=auth,
        data={"kind": "manifest"},
        files=[("files", ("api.csv", manifest([row("api-1", agent_id="张伟")])))],
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["state"] == "queued" and job["file"] == "api.csv"
    assert response.headers["location"] == f"/api/imports/{job['id']}"
    wait(client)
    done = client.get(f"/api/imports/{job['id']}", headers=auth).json()
    assert done["state"] == "done" and done["created"] == 1 and done["error"] is None
    with Session(engine) as s:
        assert s.exec(select(Call.agent_id).where(col(Call.id) == "api-1")).one() == "张伟"
    # A refused row over the API: the job fails naming the row and field.
    bad = manifest([row("api-2", started_at="yesterday")])
    response = client.post("/api/imports", headers=auth, files=[("files", ("bad.csv", bad))])
    wait(client)
    failed = client.get(f"/api/imports/{response.json()['id']}", headers=auth).json()
    assert failed["state"] == "failed"
    assert failed["error"]["row"] == 2 and failed["error"]["field"] == "started_at"
    # Refusals over the API are problems naming the field; unknown jobs are 404.
    response = client.post(
        "/api/imports", headers=auth, files=[("attachment", ("m.csv", manifest([row("x")])))]
    )
    assert response.status_code == 422 and response.json()["field"] == "files"
    assert client.get("/api/imports/999", headers=auth).status_code == 404
    # The pages need a browser session: a token alone is sent to the sign-in page.
    assert client.get("/admin/imports/1", follow_redirects=False).status_code == 303
