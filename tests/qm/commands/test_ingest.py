"""`qm ingest`, in-process: a database without schema, a bad row, and a good import."""

from pathlib import Path

from sqlmodel import Session, select

from qm.db import make_engine
from qm.models import Call, CallStage, KeyPointResult
from tests.conftest import REPO
from tests.qm.commands.cli import invoke
from tests.qm.manifests import row, write_manifest, write_transcript

SCRIPT = REPO / "qm" / "demo" / "scripts" / "hvnb-retail.yaml"


def test_a_database_without_schema_is_refused(db_url: str, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [row("c1")])
    result = invoke(db_url, "ingest", "--manifest", str(manifest))
    assert result.exit_code == 1 and "qm init" in result.output


def test_a_bad_manifest_names_file_row_field(db_url: str, tmp_path: Path) -> None:
    assert invoke(db_url, "init").exit_code == 0
    manifest = write_manifest(tmp_path / "bad.csv", [row("c1"), row("c2", talk_seconds="-3")])
    result = invoke(db_url, "ingest", "--manifest", str(manifest))
    assert result.exit_code == 1
    assert f"{manifest}, row 3, field talk_seconds" in result.output
    assert "nothing from this file was stored" in result.output
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            assert session.exec(select(Call)).all() == []
    finally:
        engine.dispose()


def test_init_ingest_script_process(db_url: str, tmp_path: Path) -> None:
    assert "upgraded from empty" in invoke(db_url, "init").output
    assert "up to date" in invoke(db_url, "init").output
    write_transcript(
        tmp_path / "c1.json",
        "c1",
        [
            ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is ann"),
            ("agent", 4.5, 6.0, "how can i help you today"),
            ("customer", 7.0, 9.0, "i lost my card"),
            ("agent", 10.0, 12.0, "what is your account number"),
            ("agent", 40.0, 43.0, "is there anything else i can help you with"),
            ("agent", 44.0, 46.0, "thank you for calling have a great day"),
        ],
    )
    manifest = write_manifest(
        tmp_path / "calls.csv",
        [
            row("c1", queue="hvnb-retail", transcript="c1.json"),
            row("c2", queue="hvnb-retail", hold_seconds=""),
        ],
    )
    out = invoke(db_url, "ingest", "--manifest", str(manifest)).output
    assert "Imported 2 call(s)" in out and "2 new" in out
    loaded = invoke(db_url, "script", "load", str(SCRIPT), "--queue", "hvnb-retail")
    assert loaded.exit_code == 0, loaded.output
    assert "Processed 2 call(s)" in invoke(db_url, "process").output
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            stages = {(s.call_id, str(s.stage)): s for s in session.exec(select(CallStage))}
            assert stages[("c1", "keypoints")].status == "done"
            assert stages[("c2", "transcribe")].status == "skipped"
            assert stages[("c2", "keypoints")].detail == "no transcript"
            results = session.exec(select(KeyPointResult).where(KeyPointResult.call_id == "c1"))
            hits = {r.item_id: r.hit for r in results}
            assert hits["greeting"] and hits["verify"] and hits["closing"]
    finally:
        engine.dispose()
    # Nothing is pending any more: a second run does nothing.
    assert "Processed 0 call(s)" in invoke(db_url, "process").output
