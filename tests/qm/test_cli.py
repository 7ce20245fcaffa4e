"""The `qm` command through its real entry point (a subprocess of the installed script)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from qm.db import make_engine
from qm.models import Call, CallStage, KeyPointResult
from tests.conftest import REPO, TEST_SECRET
from tests.qm.manifests import row, write_manifest, write_transcript

QM = str(Path(sys.executable).with_name("qm"))
SCRIPT = REPO / "qm" / "demo" / "scripts" / "hvnb-retail.yaml"


def run_qm(
    *args: str, db_url: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    env |= {"QM_DATABASE_URL": db_url, "QM_SECRET_KEY": TEST_SECRET}
    result = subprocess.run(
        [QM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"qm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def subcommands(tmp_path: Path) -> list[list[str]]:
    out = run_qm("--help", db_url="sqlite://", cwd=tmp_path).stdout
    names = re.findall(r"^  ([a-z][a-z-]*)\s", out.split("Commands:")[1], flags=re.M)
    paths = [[n] for n in names]
    for name in names:
        sub = run_qm(name, "--help", db_url="sqlite://", cwd=tmp_path).stdout
        if "Commands:" in sub:
            paths += [
                [name, s]
                for s in re.findall(r"^  ([a-z][a-z-]*)\s", sub.split("Commands:")[1], flags=re.M)
            ]
    return paths


def test_every_subcommand_has_help(tmp_path: Path) -> None:
    paths = subcommands(tmp_path)
    assert {"init", "ingest", "process", "serve", "demo"} <= {p[0] for p in paths}
    for path in paths:
        result = run_qm(*path, "--help", db_url="sqlite://", cwd=tmp_path)
        assert "Usage: qm" in result.stdout, path


def test_ingest_refuses_a_database_without_schema(db_url: str, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [row("c1")])
    result = run_qm("ingest", "--manifest", str(manifest), db_url=db_url, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "qm init" in result.stderr


def test_init_ingest_process_through_the_entry_point(db_url: str, tmp_path: Path) -> None:
    assert "upgraded from empty" in run_qm("init", db_url=db_url, cwd=tmp_path).stdout
    assert "up to date" in run_qm("init", db_url=db_url, cwd=tmp_path).stdout
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
    out = run_qm("ingest", "--manifest", str(manifest), db_url=db_url, cwd=tmp_path).stdout
    assert "Imported 2 call(s)" in out and "2 new" in out
    run_qm("script", "load", str(SCRIPT), "--queue", "hvnb-retail", db_url=db_url, cwd=tmp_path)
    out = run_qm("process", db_url=db_url, cwd=tmp_path).stdout
    assert "Processed 2 call(s)" in out
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            stages = {(s.call_id, s.stage): s for s in session.exec(select(CallStage)).all()}
            assert stages[("c1", "keypoints")].status == "done"
            assert stages[("c2", "transcribe")].status == "skipped"
            assert stages[("c2", "keypoints")].detail == "no transcript"
            hits = {
                r.item_id: r.hit
                for r in session.exec(
                    select(KeyPointResult).where(KeyPointResult.call_id == "c1")
                ).all()
            }
            assert hits["greeting"] and hits["verify"] and hits["closing"]
            assert session.get(Call, "c1") is not None
    finally:
        engine.dispose()
    # Nothing is pending any more: a second run does nothing.
    assert "Processed 0 call(s)" in run_qm("process", db_url=db_url, cwd=tmp_path).stdout


def test_bad_manifest_exits_non_zero_naming_file_row_field(db_url: str, tmp_path: Path) -> None:
    run_qm("init", db_url=db_url, cwd=tmp_path)
    manifest = write_manifest(tmp_path / "bad.csv", [row("c1"), row("c2", talk_seconds="-3")])
    result = run_qm("ingest", "--manifest", str(manifest), db_url=db_url, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert f"{manifest}, row 3, field talk_seconds" in result.stderr
    assert "nothing from this file was stored" in result.stderr


def test_settings_file_is_read(tmp_path: Path) -> None:
    db = tmp_path / "from-file.db"
    settings = tmp_path / "site.env"
    settings.write_text(f"QM_DATABASE_URL=sqlite:///{db}\nQM_TIMEZONE=Asia/Shanghai\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    result = subprocess.run(
        [QM, "--settings", str(settings), "init"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert db.is_file()
    settings.write_text("QM_TIMEZONE=Mars/Olympus\n")
    result = subprocess.run(
        [QM, "--settings", str(settings), "init"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "QM_TIMEZONE" in result.stderr
