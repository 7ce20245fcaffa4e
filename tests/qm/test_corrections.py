"""Reviewer-corrected transcripts: stored beside the original, measured, reported per engine."""

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.domain.corrections import (
    asr_accuracy_summary,
    engine_and_model,
    export_transcripts,
    store_correction,
)
from qm.errors import NotFound, ValidationFailed
from qm.models import AsrAccuracy, AuditEvent, CallStage, Stage, StageStatus, Transcript
from tests.factories import make_call, make_stage, make_transcript
from tests.qm.commands.subprocess_qm import run_qm
from tests.qm.manifests import write_transcript
from transcripts.format import Segment as DocSegment
from transcripts.format import Transcript as DocTranscript
from transcripts.format import parse_transcript

MACHINE = [
    ("agent", 0.0, 3.0, "hello this is harper valley bank"),
    ("customer", 3.5, 6.0, "i want to check my balanse"),
]
# Against the machine text: "national" deleted, "balanse" substituted: 2 errors in 13 words.
CORRECTED = [
    ("agent", 0.0, 3.0, "Hello, this is Harper Valley National Bank."),
    ("customer", 3.5, 6.0, "I want to check my balance."),
]


def doc(lines: list[tuple[str, float, float, str]], call_id: str = "c-1") -> DocTranscript:
    return DocTranscript(call_id, "en", 6.0, tuple(DocSegment(s, a, b, t) for s, a, b, t in lines))


def machine_call(session: Session, call_id: str, source: str) -> None:
    make_call(session, call_id)
    transcript = make_transcript(session, call_id, MACHINE)
    transcript.source = source
    session.add(transcript)
    for stage in (Stage.TRANSCRIBE, Stage.KEYPOINTS, Stage.METRICS):
        make_stage(session, call_id, stage, StageStatus.DONE)


def test_source_names_engine_and_model() -> None:
    assert engine_and_model("asr:faster-whisper/small") == ("faster-whisper", "small")
    assert engine_and_model("asr:pocketsphinx") == ("pocketsphinx", "")
    assert engine_and_model("harper-valley") is None


def test_correction_measures_the_engine_and_resets_scoring(engine: Engine) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "asr:faster-whisper/small")
        session.commit()
        result = store_correction(
            session, "c-1", doc(CORRECTED), reviewer="rita", source="fix.json"
        )
        session.commit()
        accuracy = result.accuracy
        assert accuracy is not None
        assert (accuracy.engine, accuracy.model, accuracy.language) == (
            "faster-whisper",
            "small",
            "en",
        )
        assert (accuracy.substitutions, accuracy.deletions, accuracy.insertions) == (1, 1, 0)
        assert accuracy.reference_units == 13
        assert accuracy.wer == pytest.approx(2 / 13)
    with Session(engine) as session:
        kinds = {t.kind: t.source for t in session.exec(select(Transcript)).all()}
        assert kinds == {"original": "asr:faster-whisper/small", "corrected": "reviewer:rita"}
        left = {s.stage for s in session.exec(select(CallStage)).all()}
        assert left == {Stage.TRANSCRIBE}
        events = session.exec(select(AuditEvent)).all()
        assert [(e.actor, e.action, e.entity_id) for e in events] == [
            ("rita", "transcript.corrected", "c-1")
        ]


def test_a_second_correction_replaces_the_first_measure(engine: Engine) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "asr:faster-whisper/small")
        store_correction(session, "c-1", doc(MACHINE), reviewer="rita", source="a.json")
        store_correction(session, "c-1", doc(CORRECTED), reviewer="sam", source="b.json")
        session.commit()
        rows = session.exec(select(AsrAccuracy)).all()
        assert [(r.corrected_by, r.substitutions + r.deletions) for r in rows] == [("sam", 2)]
        assert len(session.exec(select(Transcript)).all()) == 2


def test_imported_human_transcript_has_no_engine_to_measure(engine: Engine) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "import:c-1.json")
        result = store_correction(session, "c-1", doc(CORRECTED), reviewer="rita", source="f")
        session.commit()
        assert result.accuracy is None
        assert session.exec(select(AsrAccuracy)).all() == []


def test_bad_corrections_store_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "asr:pocketsphinx")
        session.commit()
        with pytest.raises(NotFound):
            store_correction(session, "nope", doc(CORRECTED), reviewer="r", source="f")
        with pytest.raises(ValidationFailed, match="call_id"):
            store_correction(session, "c-1", doc(CORRECTED, "c-2"), reviewer="r", source="f")
        with pytest.raises(ValidationFailed, match="needs words"):
            store_correction(
                session, "c-1", doc([("agent", 0.0, 1.0, "...")]), reviewer="r", source="f"
            )
        session.rollback()
        assert len(session.exec(select(Transcript)).all()) == 1
        assert len(session.exec(select(CallStage)).all()) == 3


def test_summary_pools_errors_per_engine_and_model(engine: Engine) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "asr:faster-whisper/small")
        machine_call(session, "c-2", "asr:faster-whisper/small")
        machine_call(session, "c-3", "asr:pocketsphinx")
        store_correction(session, "c-1", doc(CORRECTED), reviewer="r", source="f")
        # c-2's correction is the machine text itself: no errors.
        store_correction(session, "c-2", doc(MACHINE, "c-2"), reviewer="r", source="f")
        store_correction(session, "c-3", doc(CORRECTED, "c-3"), reviewer="r", source="f")
        session.commit()
        summary = asr_accuracy_summary(session)
    by_engine = {(s.engine, s.model): s for s in summary}
    small = by_engine["faster-whisper", "small"]
    # c-2's reference is the machine text: 12 words, so 2 errors over 13 + 12 words.
    assert (small.calls, small.reference_units) == (2, 25)
    assert small.pooled_wer == pytest.approx(2 / 25)
    assert small.mean_wer == pytest.approx((2 / 13) / 2)
    assert small.median_wer == pytest.approx((2 / 13) / 2)
    assert by_engine["pocketsphinx", ""].calls == 1
    assert [s.engine for s in summary] == ["faster-whisper", "pocketsphinx"]


def test_cli_correct_then_accuracy(engine: Engine, db_url: str, tmp_path: Path) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "asr:faster-whisper/small")
        session.commit()
    fixed = write_transcript(tmp_path / "fixed.json", "c-1", CORRECTED)
    out = run_qm(
        "transcript",
        "correct",
        "c-1",
        str(fixed),
        "--reviewer",
        "rita",
        db_url=db_url,
        cwd=tmp_path,
    ).stdout
    assert "faster-whisper/small WER 15.4%" in out
    assert "1 substitutions, 1 deletions, 0 insertions in 13 reference units" in out
    report = run_qm("transcript", "accuracy", "--json", db_url=db_url, cwd=tmp_path).stdout
    [line] = report.splitlines()
    assert json.loads(line)["pooled_wer"] == pytest.approx(2 / 13)
    bad = run_qm(
        "transcript",
        "correct",
        "c-9",
        str(fixed),
        "--reviewer",
        "rita",
        db_url=db_url,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1 and "c-9" in bad.stderr and "nothing was stored" in bad.stderr


def test_export_writes_the_current_transcript_per_call(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        machine_call(session, "c-1", "asr:faster-whisper/small")
        machine_call(session, "c/2", "import:x.json")
        store_correction(session, "c-1", doc(CORRECTED), reviewer="r", source="f")
        session.commit()
        written = export_transcripts(session, tmp_path / "out")
        assert sorted(p.name for p in written) == ["c-1.json", "c_2.json"]
        current = parse_transcript(json.loads((tmp_path / "out" / "c-1.json").read_text()))
        assert current.segments[1].text == "I want to check my balance."
        assert (current.call_id, current.language) == ("c-1", "en")
        [original] = export_transcripts(session, tmp_path / "orig", ["c-1"], kind="original")
        assert "balanse" in original.read_text()
        with pytest.raises(NotFound, match="c/2"):
            export_transcripts(session, tmp_path / "x", ["c/2"], kind="corrected")
