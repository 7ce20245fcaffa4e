"""The per-call pipeline: stage statuses, failures isolated per call, resumable runs."""

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain import failures, scripts
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.pipeline import (
    AsrProvider,
    PipelineContext,
    ProcessReport,
    process_call,
    process_pending,
    unfinished_call_ids,
)
from qm.domain.pipeline.stages import RUNNERS, StageRunner
from qm.domain.pipeline.work import CallWork
from qm.domain.stored_transcripts import replace_transcript
from qm.models import (
    Call,
    CallMetrics,
    CallStage,
    KeyPointResult,
    Queue,
    Stage,
    TranscriptKind,
)
from qm.settings import Settings
from tests.conftest import REPO
from tests.factories import make_call
from tests.qm.manifests import row, write_manifest, write_transcript

SCRIPT = REPO / "qm" / "demo" / "scripts" / "hvnb-retail.yaml"
GOOD_CALL = [
    ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is ann"),
    ("agent", 4.5, 6.0, "how can i help you today"),
    ("customer", 7.0, 9.0, "i want to check my balance"),
    ("agent", 10.0, 12.0, "can you confirm your name please"),
    ("agent", 30.0, 33.0, "is there anything else i can help you with"),
    ("agent", 34.0, 36.0, "thank you for calling have a great day"),
]


def stages(engine: Engine) -> dict[tuple[str, str], CallStage]:
    with Session(engine) as session:
        return {(s.call_id, s.stage): s for s in session.exec(select(CallStage)).all()}


@pytest.fixture
def imported(engine: Engine, tmp_path: Path) -> Engine:
    write_transcript(tmp_path / "good.json", "good", GOOD_CALL)
    write_transcript(tmp_path / "other.json", "other", GOOD_CALL[:2])
    manifest = write_manifest(
        tmp_path / "m.csv",
        [
            row(
                "good",
                queue="retail",
                transcript="good.json",
                talk_seconds="100",
                hold_seconds="20",
                wrap_seconds="30",
                transfers="1",
            ),
            row("other", queue="broken", transcript="other.json"),
            row("cdr-only", queue="retail", wrap_seconds=""),
        ],
    )
    ingest_manifest(engine, manifest)
    with session_scope(engine) as session:
        stored = scripts.load_script_file(session, SCRIPT, actor="test")
        scripts.assign_to_queue(session, stored.key, "retail", actor="test")
        # A queue pointing at a script that was never loaded: its calls must fail alone.
        session.merge(Queue(id="broken", script_key="not-loaded"))
    return engine


def test_stages_run_and_record_their_outcome(imported: Engine, settings: Settings) -> None:
    report = process_pending(imported, settings)
    assert report.calls == 3
    st = stages(imported)
    assert st[("good", "transcribe")].status == "skipped"
    assert "already present" in st[("good", "transcribe")].detail
    assert st[("good", "keypoints")].status == "done"
    assert st[("good", "metrics")].status == "done"
    assert st[("cdr-only", "transcribe")].detail == "no audio and no transcript"
    assert st[("cdr-only", "keypoints")].status == "skipped"
    assert st[("cdr-only", "metrics")].status == "done"
    with Session(imported) as session:
        good = session.get(CallMetrics, "good")
        assert good is not None
        assert good.handle_seconds == 150 and good.transferred is True
        assert good.compliance is not None and good.critical_failed is False
        # The call list's copy of the flag follows the metrics row.
        good_call = session.get(Call, "good")
        assert good_call is not None and good_call.critical_failed is False
        # So do its copies of the two scores, which the monthly totals add up.
        assert good_call.compliance == good.compliance
        assert good.courtesy_score is not None
        assert good_call.courtesy_score == good.courtesy_score
        cdr_call = session.get(Call, "cdr-only")
        assert cdr_call is not None and cdr_call.critical_failed is None
        assert good.courtesy is not None
        cdr = session.get(CallMetrics, "cdr-only")
        assert cdr is not None and cdr.handle_seconds is None  # wrap unknown -> AHT unknown
        results = session.exec(select(KeyPointResult).where(KeyPointResult.call_id == "good")).all()
        by_id = {r.item_id: r for r in results}
        assert by_id["greeting"].hit and by_id["greeting"].evidence
        assert by_id["verify"].hit
        assert by_id["dismissive"].kind == "forbidden" and not by_id["dismissive"].hit


def test_a_failing_call_is_recorded_and_the_others_go_on_then_resume(
    imported: Engine, settings: Settings
) -> None:
    report = process_pending(imported, settings)
    assert [(c, s) for c, s, _ in report.failed] == [("other", "keypoints")]
    st = stages(imported)
    failed = st[("other", "keypoints")]
    assert failed.status == "failed" and "not-loaded" in failed.detail
    assert ("other", "metrics") not in st  # later stages wait for the failed one
    assert st[("good", "metrics")].status == "done"
    assert unfinished_call_ids(imported) == ["other"]

    with session_scope(imported) as session:
        scripts.assign_to_queue(session, "hvnb-retail", "broken", actor="test")
    again = process_pending(imported, settings)
    assert again.calls == 1 and not again.failed
    st = stages(imported)
    assert st[("other", "keypoints")].status == "done"
    assert st[("other", "keypoints")].attempts == 2
    assert st[("good", "keypoints")].attempts == 1  # finished stages are not redone
    assert unfinished_call_ids(imported) == []


def test_reimport_sends_a_call_through_the_pipeline_again(
    imported: Engine, settings: Settings, tmp_path: Path
) -> None:
    process_pending(imported, settings)
    write_transcript(tmp_path / "good2.json", "good", GOOD_CALL[:1])
    ingest_manifest(
        imported,
        write_manifest(tmp_path / "m2.csv", [row("good", queue="retail", transcript="good2.json")]),
    )
    assert "good" in unfinished_call_ids(imported)
    process_pending(imported, settings, call_ids=["good"])
    with Session(imported) as session:
        hit = {
            r.item_id: r.hit
            for r in session.exec(select(KeyPointResult).where(KeyPointResult.call_id == "good"))
        }
    assert hit["greeting"] and not hit["closing"]


PARAPHRASED_VERIFY = [
    ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is ann"),
    ("agent", 10.0, 12.0, "now please check your name"),
]


def _verify_result(engine: Engine, call_id: str) -> KeyPointResult:
    with Session(engine) as session:
        return session.exec(
            select(KeyPointResult).where(
                KeyPointResult.call_id == call_id, KeyPointResult.item_id == "verify"
            )
        ).one()


def test_the_semantic_model_setting_reaches_the_keypoints_stage(
    imported: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring import semantic
    from tests.scoring.test_semantic import embed

    loads: list[Path] = []

    def load(path: Path, **_: object) -> semantic.EmbeddingMatcher:
        loads.append(path)
        return semantic.EmbeddingMatcher(embed, "concepts")

    write_transcript(tmp_path / "para.json", "para", PARAPHRASED_VERIFY)
    ingest_manifest(
        imported,
        write_manifest(tmp_path / "p.csv", [row("para", queue="retail", transcript="para.json")]),
    )
    process_pending(imported, settings, call_ids=["para"])
    assert not _verify_result(imported, "para").hit  # the string cascade cannot see it

    monkeypatch.setattr(semantic, "load_sentence_transformer", load)
    model_settings = settings.model_copy(update={"semantic_model": tmp_path / "model"})
    ingest_manifest(
        imported,
        write_manifest(tmp_path / "p.csv", [row("para", queue="retail", transcript="para.json")]),
    )
    process_pending(imported, model_settings)
    result = _verify_result(imported, "para")
    assert result.hit and result.method == "semantic"
    assert result.evidence == "now please check your name"
    assert loads == [tmp_path / "model"]  # loaded once for the whole run


def test_an_unloadable_semantic_model_fails_each_call_with_the_setting_named(
    imported: Engine, settings: Settings, tmp_path: Path
) -> None:
    broken = settings.model_copy(update={"semantic_model": tmp_path / "no-model"})
    report = process_pending(imported, broken)
    failed = {(c, s) for c, s, _ in report.failed}
    assert failed == {("good", "keypoints"), ("other", "keypoints")}
    details = {c: detail for c, _, detail in report.failed}
    assert "QM_SEMANTIC_MODEL: no model directory at no-model;" in details["good"]
    assert str(tmp_path) not in details["good"]
    assert "not-loaded" in details["other"]  # its own, earlier failure
    assert stages(imported)[("cdr-only", "keypoints")].status == "skipped"


class ProbingEngine:
    """An ASR engine whose first step is the real audio loader (so real AudioErrors)."""

    name = "probe"

    def transcribe_file(self, path: Path, *, call_id: str, agent_channel: str) -> object:
        from transcripts.audio import load_audio

        load_audio(path)
        raise AssertionError("the recordings in these tests cannot be decoded")


def run_with_engine(engine: Engine, settings: Settings, call_id: str) -> ProcessReport:
    asr = AsrProvider(settings)
    asr._engine = ProbingEngine()
    report = ProcessReport()
    process_call(engine, call_id, PipelineContext(settings, asr), report)
    return report


ERROR_ID = r"\(error id [0-9a-f]{6}\)"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html>not audio</html>", r"the recording could not be read: broken\.wav: "),
        (None, r"the recording could not be read: broken\.wav: "),
    ],
)
def test_a_failed_stage_stores_a_plain_reason_without_server_paths(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content: bytes | None,
    reason: str,
) -> None:
    audio = tmp_path / "secret-folder" / "broken.wav"
    audio.parent.mkdir()
    if content is not None:
        audio.write_bytes(content)
    with session_scope(engine) as session:
        make_call(session, "c-1").audio_path = str(audio)
    report = run_with_engine(engine, settings, "c-1")
    detail = stages(engine)[("c-1", "transcribe")].detail
    assert re.fullmatch(reason + r".+ " + ERROR_ID, detail), detail
    assert str(tmp_path) not in detail and "secret-folder" not in detail
    assert report.failed == [("c-1", "transcribe", detail)]
    error_id = detail[-7:-1]
    [logged] = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged.exc_info is not None and str(audio) in str(logged.exc_info[1])


def test_an_unexpected_error_is_stored_as_an_error_id_only(
    imported: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_metrics(*_: object) -> str:
        # What a driver error looks like: SQL and a server path in the message.
        raise sa.exc.OperationalError(
            "UPDATE call_metrics SET courtesy=? WHERE call_id=?",
            ("{}", "good"),
            Exception("unable to open database file /srv/qm/qm.db"),
        )

    monkeypatch.setitem(RUNNERS, Stage.METRICS, StageRunner(broken_metrics))
    report = process_pending(imported, settings, call_ids=["good"])
    detail = stages(imported)[("good", "metrics")].detail
    assert re.fullmatch(
        r"unexpected error \(error id ([0-9a-f]{6})\); the server log has the details", detail
    ), detail
    assert report.failed == [("good", "metrics", detail)]
    error_id = detail.split("error id ")[1][:6]
    [logged] = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged.levelname == "ERROR" and "good" in logged.getMessage()
    assert "UPDATE call_metrics" in str(logged.exc_info[1])  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("no model directory at /opt/models/mini; set it", "no model directory at mini; set it"),
        ("cannot read '/data/calls/2024/a.wav'", "cannot read 'a.wav'"),
        ("folder /srv/qm/ is missing", "folder (folder) is missing"),
        ("ratio 3/4 and http://example.com/x stay", "ratio 3/4 and http://example.com/x stay"),
    ],
)
def test_plain_reasons_drop_server_folders(text: str, plain: str) -> None:
    from scoring.semantic import SemanticMatcherError

    reason = failures.plain_reason(SemanticMatcherError(text), "abc123")
    assert reason == f"{plain} (error id abc123)"


def test_a_transcript_stored_while_a_stage_computes_is_the_one_scored(
    imported: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check runs outside the write lock; a correction stored meanwhile is seen under
    the lock and the call is checked again, so no result of a replaced transcript is kept."""
    from transcripts import Segment as DocSegment
    from transcripts import Transcript as DocTranscript

    keypoints = RUNNERS[Stage.KEYPOINTS]
    assert keypoints.prepare is not None
    prepare = keypoints.prepare
    corrected = DocTranscript("good", "en", 4.0, (DocSegment("agent", 1.0, 4.0, GOOD_CALL[0][3]),))

    def prepare_then_correct(engine: Engine, work: CallWork, ctx: PipelineContext) -> object:
        prepared = prepare(engine, work, ctx)
        with session_scope(engine) as session:
            replace_transcript(
                session.connection(), "good", corrected, kind=TranscriptKind.CORRECTED, source="t"
            )
        return prepared

    runner = StageRunner(keypoints.write, prepare=prepare_then_correct)
    monkeypatch.setitem(RUNNERS, Stage.KEYPOINTS, runner)
    report = process_pending(imported, settings, call_ids=["good"])
    assert not report.failed
    with Session(imported) as session:
        rows = session.exec(select(KeyPointResult).where(KeyPointResult.call_id == "good"))
        hit = {r.item_id: r.hit for r in rows}
        metrics = session.get(CallMetrics, "good")
    assert hit["greeting"] and not hit["closing"]  # only the corrected line was checked
    assert metrics is not None and metrics.courtesy is not None
    # The metrics stage measured the same (corrected) transcript: one agent line, no thanks.
    assert metrics.courtesy["agent_utterances"] == 1


def test_a_script_version_stored_during_a_run_is_used_for_the_next_call(
    imported: Engine, settings: Settings, tmp_path: Path
) -> None:
    from scoring.script import load_script, parse_script

    ctx = PipelineContext(settings, AsrProvider(settings))
    process_call(imported, "good", ctx, ProcessReport())
    body = load_script(SCRIPT).to_dict()
    greeting = next(kp for kp in body["key_points"] if kp["id"] == "greeting")
    greeting["phrases"] = ["words nobody says on this call"]
    with session_scope(imported) as session:
        assert scripts.save_script(session, parse_script(body), actor="test").version == 2
    # Imported again: the call goes through the pipeline again, in the same run.
    ingest_manifest(
        imported,
        write_manifest(tmp_path / "m2.csv", [row("good", queue="retail", transcript="good.json")]),
    )
    process_call(imported, "good", ctx, ProcessReport())
    st = stages(imported)[("good", "keypoints")]
    assert st.status == "done" and st.detail.endswith("hvnb-retail v2")
    assert not _result(imported, "good", "greeting").hit


def _result(engine: Engine, call_id: str, item_id: str) -> KeyPointResult:
    with Session(engine) as session:
        return session.exec(
            select(KeyPointResult).where(
                KeyPointResult.call_id == call_id, KeyPointResult.item_id == item_id
            )
        ).one()


def test_reports_merge() -> None:
    one = ProcessReport(calls=2, done={"keypoints": 2}, skipped={"transcribe": 2})
    one.failed.append(("a", "metrics", "x"))
    one.warnings.append("low accuracy")
    two = ProcessReport(calls=1, done={"keypoints": 1, "metrics": 1}, warnings=["low accuracy"])
    one.merge(two)
    assert one.calls == 3
    assert one.done == {"keypoints": 3, "metrics": 1} and one.skipped == {"transcribe": 2}
    assert one.failed == [("a", "metrics", "x")] and one.warnings == ["low accuracy"]
