"""Importing call manifests: validation, all-or-nothing, re-import."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.domain.imports.ingest import ingest_manifest
from qm.errors import ValidationFailed
from qm.models import Agent, AuditEvent, Call, Customer, Segment, Transcript
from tests.qm.manifests import row, write_manifest, write_transcript


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__name__: session.execute(
                sa.select(sa.func.count()).select_from(model)
            ).scalar_one()
            for model in (Call, Agent, Customer, Transcript, Segment)
        }


def test_manifest_import_creates_calls_agents_customers_and_transcripts(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "t").mkdir()
    write_transcript(
        tmp_path / "t" / "c1.json",
        "c1",
        [("agent", 0.5, 2.0, "thank you for calling"), ("customer", 2.5, 4.0, "hi")],
    )
    (tmp_path / "c2.wav").write_bytes(b"RIFF")
    manifest = write_manifest(
        tmp_path / "calls.csv",
        [
            row("c1", transcript="t/c1.json"),
            row("c2", agent_id="a-2", customer_id="", audio="c2.wav", resolved="", transfers="2"),
        ],
    )
    report = ingest_manifest(engine, manifest)
    assert (report.rows, report.created, report.updated, report.transcripts) == (2, 2, 0, 1)
    assert report.new_agents == ["a-1", "a-2"]
    with Session(engine) as session:
        c1 = session.get(Call, "c1")
        assert c1 is not None
        assert c1.started_at == datetime(2024, 5, 1, 1, 30, tzinfo=UTC)  # +08:00 -> UTC
        assert (c1.talk_seconds, c1.hold_seconds, c1.wrap_seconds) == (120, 10, 30)
        assert c1.resolved is True and c1.transfers == 0
        c2 = session.get(Call, "c2")
        assert c2 is not None
        assert c2.customer_id is None and c2.resolved is None and c2.transfers == 2
        assert c2.audio_path == str((tmp_path / "c2.wav").resolve())
        agent = session.get(Agent, "a-2")
        assert agent is not None and agent.name == "a-2"  # the id doubles as the name
        segments = session.exec(select(Segment).order_by(Segment.position)).all()
        assert [(s.speaker, s.text) for s in segments] == [
            ("agent", "thank you for calling"),
            ("customer", "hi"),
        ]
        audit = session.exec(select(AuditEvent)).one()
        assert audit.action == "ingest.manifest" and audit.detail["rows"] == 2


def test_naive_timestamp_is_utc(engine: Engine, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [row("c1", started_at="2024-05-01 09:30:00")])
    ingest_manifest(engine, manifest)
    with Session(engine) as session:
        call = session.get(Call, "c1")
        assert call is not None and call.started_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def test_reimport_updates_instead_of_duplicating(engine: Engine, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", [row("c1"), row("c2")])
    ingest_manifest(engine, manifest)
    write_manifest(manifest, [row("c1", talk_seconds="300", agent_id="a-9"), row("c3")])
    report = ingest_manifest(engine, manifest)
    assert (report.created, report.updated) == (1, 1)
    assert counts(engine)["Call"] == 3
    with Session(engine) as session:
        c1 = session.get(Call, "c1")
        assert c1 is not None and c1.talk_seconds == 300 and c1.agent_id == "a-9"


BAD_CASES = [
    ("missing column", None, "hold_seconds", "missing column"),
    ("unparsable date", {"started_at": "yesterday"}, "started_at", "ISO-8601"),
    ("negative seconds", {"talk_seconds": "-5"}, "talk_seconds", "zero or more"),
    ("not a number", {"wrap_seconds": "ten"}, "wrap_seconds", "not a number"),
    ("unknown path", {"audio": "nowhere/c.wav"}, "audio", "file not found"),
    ("unknown transcript", {"transcript": "missing.json"}, "transcript", "file not found"),
    ("bad flag", {"resolved": "maybe"}, "resolved", "yes/no"),
    ("fractional transfers", {"transfers": "1.5"}, "transfers", "whole number"),
    ("empty agent", {"agent_id": ""}, "agent_id", "required"),
]


@pytest.mark.parametrize(
    ("name", "bad_cells", "field", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_manifest_is_rejected_naming_file_row_field_and_stores_nothing(
    engine: Engine, tmp_path: Path, name: str, bad_cells: dict | None, field: str, message: str
) -> None:
    # Something already stored must survive a rejected import untouched.
    ingest_manifest(engine, write_manifest(tmp_path / "ok.csv", [row("old", talk_seconds="42")]))
    before = counts(engine)
    rows = [row(f"n{i}") for i in range(5)]
    columns = None
    if bad_cells is None:
        from qm.domain.imports.manifest import COLUMNS

        columns = tuple(c for c in COLUMNS if c != field)
    else:
        rows.append(row("bad", **bad_cells))
    rows.append(row("old", talk_seconds="999"))
    path = tmp_path / "bad.csv"
    write_manifest(path, rows, columns) if columns else write_manifest(path, rows)
    with pytest.raises(ValidationFailed) as info:
        ingest_manifest(engine, path)
    err = info.value
    assert err.file == str(path)
    assert err.field == field
    assert message in err.message
    assert err.row == (1 if bad_cells is None else 7)  # header is row 1; the bad row is 7th
    assert str(path) in str(err) and field in str(err)
    assert counts(engine) == before
    with Session(engine) as session:
        old = session.get(Call, "old")
        assert old is not None and old.talk_seconds == 42


def test_error_after_a_committed_batch_still_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    # More rows than one batch, the bad one last: the earlier batches must be rolled back.
    rows = [row(f"c{i:05d}") for i in range(4500)] + [row("bad", started_at="2024-13-45")]
    with pytest.raises(ValidationFailed) as info:
        ingest_manifest(engine, write_manifest(tmp_path / "big.csv", rows))
    assert info.value.row == 4502
    assert counts(engine)["Call"] == 0
    assert counts(engine)["Agent"] == 0


def test_duplicate_call_id_in_one_file_is_rejected(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="appears twice") as info:
        ingest_manifest(engine, write_manifest(tmp_path / "d.csv", [row("c1"), row("c1")]))
    assert (info.value.row, info.value.field) == (3, "call_id")


def test_transcript_errors_name_the_transcript_field(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text('{"call_id": "c1", "language": "fr", "segments": []}')
    with pytest.raises(ValidationFailed) as info:
        ingest_manifest(
            engine, write_manifest(tmp_path / "m.csv", [row("c1", transcript="t.json")])
        )
    assert info.value.field == "transcript"
    assert "language" in info.value.message


def test_unknown_column_and_empty_file_are_rejected(engine: Engine, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValidationFailed, match="empty"):
        ingest_manifest(engine, empty)
    extra = tmp_path / "extra.csv"
    from qm.domain.imports.manifest import COLUMNS

    extra.write_text(",".join((*COLUMNS, "talk_secs")) + "\n")
    with pytest.raises(ValidationFailed, match="unknown column") as info:
        ingest_manifest(engine, extra)
    assert info.value.field == "talk_secs"
