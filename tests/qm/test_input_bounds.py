"""Imports refuse values outside `qm.domain.bounds`, naming the file, row and field, and
store nothing; manifest file paths stay inside the manifest's folder or QM_IMPORT_ROOT."""

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.cli import cli
from qm.domain.imports.csvrows import RowReader, spreadsheet_safe, write_safe_row
from qm.domain.imports.harper_valley import ingest_harper_valley
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.imports.manifest import COLUMNS
from qm.domain.imports.mystery import ingest_mystery
from qm.errors import ValidationFailed
from qm.models import AuditEvent, Call, MysteryShop, Script
from tests.conftest import TEST_SECRET
from tests.qm.manifests import row, write_manifest, write_transcript

KNOWN_GOOD = "2024-05-01T09:30:00+08:00"


def stored(engine: Engine) -> dict[str, Any]:
    """Everything an import may change, to compare before and after a refused one."""
    with Session(engine) as session:
        calls = session.exec(select(Call).order_by(Call.id)).all()
        return {
            "calls": [(c.id, c.talk_seconds, c.hold_seconds, c.audio_path) for c in calls],
            "audit": session.execute(
                sa.select(sa.func.count()).select_from(AuditEvent)
            ).scalar_one(),
        }


def refuse(engine: Engine, manifest: Path, **kwargs: Any) -> ValidationFailed:
    """Import `manifest`, expecting a refusal that changes nothing."""
    before = stored(engine)
    with pytest.raises(ValidationFailed) as info:
        ingest_manifest(engine, manifest, **kwargs)
    assert stored(engine) == before
    return info.value


@pytest.fixture
def existing(engine: Engine, tmp_path: Path) -> Engine:
    """A database holding one imported call, which no refused import may touch."""
    ingest_manifest(engine, write_manifest(tmp_path / "first.csv", [row("c0")]))
    return engine


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"talk_seconds": "1e308", "hold_seconds": "1e308"}, "talk_seconds", "86400 or less"),
        ({"hold_seconds": "86400.5"}, "hold_seconds", "86400 or less"),
        ({"wrap_seconds": "inf"}, "wrap_seconds", "is not a finite number of seconds"),
        ({"talk_seconds": "nan"}, "talk_seconds", "is not a finite number of seconds"),
        ({"transfers": "51"}, "transfers", "must be 50 or less"),
        ({"transfers": "9" * 30}, "transfers", "must be 50 or less"),
        ({"started_at": "1969-12-31T23:59:59Z"}, "started_at", "between 1970-01-01 and tomorrow"),
        ({"started_at": "2999-01-01T00:00:00Z"}, "started_at", "between 1970-01-01 and tomorrow"),
        ({"started_at": "9999-12-31T23:59:59-14:00"}, "started_at", "between 1970-01-01 and"),
        ({"started_at": "0001-01-01T00:00:00+14:00"}, "started_at", "between 1970-01-01 and"),
        ({"started_at": "yesterday"}, "started_at", "is not an ISO-8601 date-time"),
        ({"call_id": "c\x00"}, "call_id", "control character (U+0000)"),
        ({"agent_id": "a\x1b[31m"}, "agent_id", "control character (U+001B)"),
        ({"call_id": "c" * 129}, "call_id", "longer than 128 characters"),
        ({"agent_id": "a" * 65}, "agent_id", "longer than 64 characters"),
        ({"customer_id": "k\u2028x"}, None, None),  # a line separator is not a control char
    ],
)
def test_manifest_values_out_of_bounds_are_refused(
    existing: Engine,
    tmp_path: Path,
    cells: dict[str, str],
    field: str | None,
    message: str | None,
) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [row("c1"), row("c2") | cells])
    if field is None:
        ingest_manifest(existing, manifest)
        return
    error = refuse(existing, manifest)
    assert (error.file, error.row, error.field) == (str(manifest), 3, field)
    assert message is not None and message in error.message


def test_values_at_the_bounds_are_accepted(engine: Engine, tmp_path: Path) -> None:
    cells = {
        "talk_seconds": "86400",
        "hold_seconds": "86400",
        "wrap_seconds": "86400",
        "transfers": "50",
        "started_at": "1970-01-01T00:00:00Z",
    }
    ingest_manifest(engine, write_manifest(tmp_path / "m.csv", [row("c1", **cells)]))
    with Session(engine) as session:
        call = session.get(Call, "c1")
        assert call is not None and call.transfers == 50 and call.talk_seconds == 86400


def test_ids_are_normalised_to_nfc_and_stripped(engine: Engine, tmp_path: Path) -> None:
    decomposed = "cafe\u0301"
    manifest = write_manifest(
        tmp_path / "m.csv", [row(f"  {decomposed}-1 ", agent_id=f"{decomposed} ")]
    )
    ingest_manifest(engine, manifest)
    with Session(engine) as session:
        call = session.get(Call, "caf\u00e9-1")
        assert call is not None and call.agent_id == "caf\u00e9"
    # The same id written decomposed is the same call, not a duplicate.
    again = write_manifest(tmp_path / "again.csv", [row(f"{decomposed}-1", talk_seconds="7")])
    assert ingest_manifest(engine, again).updated == 1


# --- paths -------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file next to (not inside) the folder holding the manifest."""
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF")
    (tmp_path / "import").mkdir()
    return secret


@pytest.mark.parametrize("column", ["audio", "transcript"])
def test_paths_leaving_the_manifest_folder_are_refused(
    existing: Engine, tmp_path: Path, outside: Path, column: str
) -> None:
    folder = tmp_path / "import"
    (folder / "link.wav").symlink_to(outside)
    for value in ("../secret.wav", str(outside), "link.wav", "../../../../../../etc/passwd"):
        manifest = write_manifest(folder / "m.csv", [row("c1"), row("c2", **{column: value})])
        error = refuse(existing, manifest)
        assert (error.row, error.field) == (3, column), value
        assert "lies outside the manifest's folder" in error.message, value


def test_import_root_widens_the_allowed_folder(
    existing: Engine, tmp_path: Path, outside: Path
) -> None:
    folder = tmp_path / "import"
    manifest = write_manifest(folder / "m.csv", [row("c1", audio="../secret.wav")])
    refuse(existing, manifest)
    ingest_manifest(existing, manifest, import_root=tmp_path)
    with Session(existing) as session:
        call = session.get(Call, "c1")
        assert call is not None and call.audio_path == str(outside.resolve())
    # A root elsewhere refuses even files inside the manifest's own folder.
    (folder / "own.wav").write_bytes(b"RIFF")
    inside = write_manifest(folder / "own.csv", [row("c3", audio="own.wav")])
    error = refuse(existing, inside, import_root=tmp_path / "elsewhere")
    assert "lies outside the import root" in error.message


def invoke(engine: Engine, *args: str, **env: str) -> Result:
    environment = {
        "QM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "QM_SECRET_KEY": TEST_SECRET,
        **env,
    }
    return CliRunner().invoke(cli, list(args), env=environment)


def test_qm_ingest_passes_the_import_root(existing: Engine, tmp_path: Path, outside: Path) -> None:
    manifest = write_manifest(tmp_path / "import" / "m.csv", [row("c1", audio="../secret.wav")])
    refused = invoke(existing, "ingest", "--manifest", str(manifest))
    assert refused.exit_code == 1
    assert f"{manifest}, row 2, field audio" in refused.output
    assert "nothing from this file was stored" in refused.output
    accepted = invoke(existing, "ingest", "--manifest", str(manifest), QM_IMPORT_ROOT=str(tmp_path))
    assert accepted.exit_code == 0, accepted.output
    assert "Imported 1 call(s)" in accepted.output


# --- transcripts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({"start": 0, "end": 1e308}, "segments[0].end: must be 86400 or less"),
        ({"start": 0, "end": 10**400}, "segments[0].end: must be a finite number"),
        ({"text": "x" * 10_001}, "segments[0].text: is longer than 10000 characters"),
        ({"text": "hello\x00"}, "segments[0].text: contains a control character (U+0000)"),
        (
            {"words": [{"text": "hi", "start": 2, "end": 1}]},
            "segments[0].words[0].end: ends (1.0) before it starts (2.0)",
        ),
        (
            {"words": [{"text": "hi", "start": 0, "end": 1, "probability": 7}]},
            "segments[0].words[0].probability: must be 1 or less",
        ),
    ],
)
def test_transcript_values_out_of_bounds_are_refused(
    existing: Engine, tmp_path: Path, segment: dict[str, Any], message: str
) -> None:
    doc = {
        "call_id": "c1",
        "language": "en",
        "segments": [{"speaker": "agent", "start": 0, "end": 1, "text": "hi"} | segment],
    }
    (tmp_path / "t.json").write_text(json.dumps(doc), encoding="utf-8")
    manifest = write_manifest(tmp_path / "m.csv", [row("c1", transcript="t.json")])
    error = refuse(existing, manifest)
    assert (error.row, error.field) == (2, "transcript")
    assert message in error.message


def test_transcript_with_long_and_multiline_text_at_the_bound_is_accepted(
    engine: Engine, tmp_path: Path
) -> None:
    write_transcript(tmp_path / "t.json", "c1", [("agent", 0.0, 86400.0, "a\nb\t" + "x" * 9996)])
    ingest_manifest(engine, write_manifest(tmp_path / "m.csv", [row("c1", transcript="t.json")]))


# --- Harper Valley ---------------------------------------------------------------------------


def harper_valley(tmp_path: Path, meta: dict[str, Any], segments: list[Any]) -> Path:
    folder = tmp_path / "hv"
    (folder / "metadata").mkdir(parents=True)
    (folder / "transcript").mkdir()
    base = {
        "start_time_ms": 1591056775485,
        "end_time_ms": 1591056842795,
        "agent": {"speaker_id": 46, "metadata": {"agent_name": "Elizabeth"}},
        "caller": {"metadata": {"first and last name": "Mary Smith"}},
        "tasks": [{"task_type": "replace card"}],
    }
    (folder / "metadata" / "s1.json").write_text(json.dumps(base | meta))
    (folder / "transcript" / "s1.json").write_text(json.dumps(segments))
    return folder


SEGMENT = {"speaker_role": "agent", "start_ms": 0, "duration_ms": 1000, "human_transcript": "hi"}


@pytest.mark.parametrize(
    ("meta", "segments", "field"),
    [
        ({"start_time_ms": float("nan")}, [SEGMENT], "start_time_ms"),
        ({"start_time_ms": 1e300, "end_time_ms": 1e300}, [SEGMENT], "start_time_ms"),
        ({"end_time_ms": 1591056775485 + 25 * 3600 * 1000}, [SEGMENT], "end_time_ms"),
        ({"agent": {"speaker_id": "x" * 60, "metadata": {}}}, [SEGMENT], "agent.speaker_id"),
        ({"agent": {"speaker_id": 46, "metadata": "Eliza"}}, [SEGMENT], None),
        ({"tasks": [{"task_type": {"nested": 1}}]}, [SEGMENT], "tasks[0].task_type"),
        ({}, [SEGMENT | {"duration_ms": 1e308}], "duration_ms"),
        ({}, [SEGMENT | {"human_transcript": "hi\x00"}], "[0].human_transcript"),
    ],
)
def test_harper_valley_values_out_of_bounds_are_refused(
    existing: Engine,
    tmp_path: Path,
    meta: dict[str, Any],
    segments: list[Any],
    field: str | None,
) -> None:
    folder = harper_valley(tmp_path, meta, segments)
    before = stored(existing)
    if field is None:
        # A metadata block that is not an object just has no name in it.
        ingest_harper_valley(existing, folder)
        return
    with pytest.raises(ValidationFailed) as info:
        ingest_harper_valley(existing, folder)
    assert info.value.field == field
    assert info.value.file.endswith("s1.json")
    assert stored(existing) == before


# --- mystery shoppers ------------------------------------------------------------------------


@pytest.fixture
def script_db(engine: Engine) -> Engine:
    with Session(engine) as session:
        body = {"id": "s", "key_points": [{"id": "greeting"}]}
        session.add(Script(key="s", version=1, name="s", language="en", body=body))
        session.commit()
    return engine


def write_shops(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = ["shop_id", "agent_id", "date", "scenario", "score", "comment", "greeting"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


SHOP = {"shop_id": "m1", "agent_id": "a-1", "date": "2024-05-01", "scenario": "s", "score": "80"}
SHOP |= {"comment": "", "greeting": "yes"}


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"date": "1969-12-31"}, "date", "between 1970-01-01 and tomorrow"),
        ({"date": "2999-01-01"}, "date", "between 1970-01-01 and tomorrow"),
        ({"score": "nan"}, "score", "not a finite number"),
        ({"comment": "ok\x00"}, "comment", "control character (U+0000)"),
        ({"comment": "x" * 5001}, "comment", "longer than 5000 characters"),
        ({"shop_id": "m\x07"}, "shop_id", "control character (U+0007)"),
    ],
)
def test_mystery_values_out_of_bounds_are_refused(
    script_db: Engine, tmp_path: Path, cells: dict[str, str], field: str, message: str
) -> None:
    path = write_shops(tmp_path / "shops.csv", [SHOP, SHOP | {"shop_id": "m2"} | cells])
    with pytest.raises(ValidationFailed) as info:
        ingest_mystery(script_db, path)
    assert (info.value.row, info.value.field) == (3, field)
    assert message in info.value.message
    with Session(script_db) as session:
        assert session.exec(select(MysteryShop)).all() == []


def test_mystery_comment_may_span_lines(script_db: Engine, tmp_path: Path) -> None:
    path = write_shops(tmp_path / "shops.csv", [SHOP | {"comment": "polite.\nfast."}])
    ingest_mystery(script_db, path)
    with Session(script_db) as session:
        shop = session.get(MysteryShop, "m1")
        assert shop is not None and shop.comment == "polite.\nfast."


# --- spreadsheet-safe CSV ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("2024-05-01", "2024-05-01"),
        ("", ""),
    ],
)
def test_cells_that_spreadsheets_would_run_get_an_apostrophe(cell: str, written: str) -> None:
    assert spreadsheet_safe(cell) == written


def test_safe_cells_read_back_as_written(tmp_path: Path, engine: Engine) -> None:
    """A manifest the product wrote imports with the original values."""
    path = tmp_path / "m.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        write_safe_row(
            writer, row("=cmd|' /C calc'!A0", customer_id="@k", reason="-fast", queue="q")
        )
    raw = path.read_text(encoding="utf-8")
    assert "'=cmd" in raw and "'@k" in raw and "'-fast" in raw
    ingest_manifest(engine, path)
    with Session(engine) as session:
        call = session.get(Call, "=cmd|' /C calc'!A0")
        assert call is not None and (call.customer_id, call.reason) == ("@k", "-fast")
    reader = RowReader(path, 2, {"x": "'plain"})
    assert reader.text("x") == "'plain"  # an apostrophe before ordinary text is kept


def test_demo_manifest_writer_is_spreadsheet_safe() -> None:
    """The only CSV writer in the product goes through write_safe_row."""
    root = Path(__file__).resolve().parents[2]
    writers: list[str] = []
    for package in ("qm", "scoring", "transcripts", "reports"):
        for source in (root / package).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            if ".writerow(" in text or ".writerows(" in text:
                writers.append(f"{source.relative_to(root)}")
    assert writers == [os.path.join("qm", "domain", "imports", "csvrows.py")], writers


# --- scripts and queues from the command line --------------------------------------------


def test_qm_script_load_refuses_a_nan_weight_and_stores_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "id: s\nlanguage: en\nkey_points:\n  - id: a\n    phrases: [hi]\n    weight: .nan\n",
        encoding="utf-8",
    )
    result = invoke(engine, "script", "load", str(path), "--queue", "billing")
    assert result.exit_code == 1
    assert f"{path}, field key_points[0].weight: must be a finite number above 0" in result.output
    with Session(engine) as session:
        assert session.exec(select(Script)).all() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--aht-max", "nan"], "field aht_max_seconds: must be a number of seconds"),
        (["--aht-max", "1e308"], "1e+308 is not in the range"),
        (["--fcr-window-days", "99999999999"], "is not in the range 1<=x<=365"),
        (["--script", "s"], "no script 's'"),
    ],
)
def test_qm_queue_set_refuses_values_out_of_bounds(
    engine: Engine, args: list[str], message: str
) -> None:
    result = invoke(engine, "queue", "set", "billing", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_qm_queue_set_refuses_a_control_character_in_the_queue_id(engine: Engine) -> None:
    result = invoke(engine, "queue", "set", "bill\x1bing", "--fcr-window-days", "7")
    assert result.exit_code == 1
    assert "field queue: contains a control character (U+001B)" in result.output


def test_deeply_nested_json_is_refused_not_crashed(existing: Engine, tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    manifest = write_manifest(tmp_path / "m.csv", [row("c1", transcript="t.json")])
    assert "nested too deeply" in refuse(existing, manifest).message
    folder = harper_valley(tmp_path, {}, [SEGMENT])
    (folder / "transcript" / "s1.json").write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(ValidationFailed, match="nested too deeply"):
        ingest_harper_valley(existing, folder)


# --- any file at all -------------------------------------------------------------------------

CELL = st.one_of(
    st.sampled_from(["", "1e308", "nan", "-1", "9" * 40, "2024-05-01", "../x", "\x00", "'=1"]),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
)


def test_any_manifest_is_imported_or_refused_by_name(existing: Engine, tmp_path: Path) -> None:
    """Whatever the cells hold, the importer stores the file or refuses it with a
    ValidationFailed naming the file; it never fails with another error."""

    @settings(
        max_examples=60,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(COLUMNS, CELL)), max_size=3),
        st.binary(max_size=40),
    )
    def imported_or_refused(cells: list[dict[str, str]], tail: bytes) -> None:
        manifest = write_manifest(
            tmp_path / "any.csv", [row(f"c{i}") | c for i, c in enumerate(cells)]
        )
        with manifest.open("ab") as handle:
            handle.write(tail)  # and whatever bytes follow
        try:
            ingest_manifest(existing, manifest)
        except ValidationFailed as exc:
            assert exc.file == str(manifest)

    imported_or_refused()


def test_a_long_manifest_file_name_is_imported(engine: Engine, tmp_path: Path) -> None:
    """The call's `source` names the file; a 250-character name still fits."""
    manifest = write_manifest(tmp_path / ("m" * 246 + ".csv"), [row("c1")])
    assert ingest_manifest(engine, manifest).created == 1
