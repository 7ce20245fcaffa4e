"""No card number reaches storage: every path that stores a transcript redacts it first, and
`qm redact --all` cleans what older versions stored (text, evidence, recordings, free pages)."""

import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.cli import cli
from qm.domain.corrections import store_correction
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.pipeline import (
    AsrProvider,
    PipelineContext,
    ProcessReport,
    process_call,
    process_pending,
)
from qm.models import AuditEvent, Call, CallStage, KeyPointResult, Segment, Stage, Transcript
from qm.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import make_call, make_results, make_transcript
from tests.qm.manifests import row, write_manifest, write_transcript
from transcripts.format import Segment as DocSegment
from transcripts.format import Transcript as DocTranscript

CARD_LINES = [
    ("agent", 0.0, 3.0, "can I have the card number please"),
    ("customer", 3.5, 9.0, "sure it's 4111 1111 1111 1111"),
    ("agent", 9.5, 11.0, "and the expiry date and cvv"),
    ("customer", 11.5, 14.0, "expires 08/27 and the cvv is 739"),
]
# Patterns that would betray the card or the security code in any stored byte.
LEAKS = [re.compile(rb"4111[ -]?1111[ -]?1111[ -]?1111"), re.compile(rb"cvv is 739")]


def stored_text(session: Session) -> str:
    return " ".join(s.text for s in session.exec(select(Segment)).all())


def sqlite_files(engine: Engine) -> list[Path]:
    """The database file and its WAL/shared-memory companions."""
    database = engine.url.database
    assert database
    return [p for p in Path(database).parent.glob(Path(database).name + "*") if p.is_file()]


def leaked_files(engine: Engine) -> list[str]:
    """The SQLite files holding a card number or security code in any byte."""
    if engine.dialect.name != "sqlite":
        return []
    return [
        path.name
        for path in sqlite_files(engine)
        if any(pattern.search(path.read_bytes()) for pattern in LEAKS)
    ]


def assert_no_leak(engine: Engine) -> None:
    """No card number or security code in the stored rows nor, on SQLite, in any file byte."""
    with Session(engine) as session:
        text = stored_text(session)
        evidence = " ".join(r.evidence for r in session.exec(select(KeyPointResult)).all())
    for pattern in LEAKS:
        assert not pattern.search(text.encode()), text
        assert not pattern.search(evidence.encode()), evidence
    assert leaked_files(engine) == []


@pytest.mark.pg
def test_ingest_stores_redacted_text(engine: Engine, tmp_path: Path) -> None:
    write_transcript(tmp_path / "c1.json", "c1", CARD_LINES)
    manifest = write_manifest(tmp_path / "m.csv", [row("c1", transcript="c1.json")])
    ingest_manifest(engine, manifest)
    with Session(engine) as session:
        text = stored_text(session)
    assert "[PAN]" in text and "[CVV]" in text
    assert "can I have the card number please" in text  # the rest is kept
    assert_no_leak(engine)


@pytest.mark.pg
def test_correction_is_redacted_and_the_card_is_not_a_recognition_error(engine: Engine) -> None:
    with Session(engine) as session:
        make_call(session, "c1")
        machine = make_transcript(session, "c1", [("customer", 0.0, 4.0, "it's [PAN] thanks")])
        machine.source = "asr:faster-whisper/small"
        session.add(machine)
        session.commit()
        corrected = DocTranscript(
            "c1", "en", 4.0, (DocSegment("customer", 0.0, 4.0, "it's 4111 1111 1111 1111 thanks"),)
        )
        result = store_correction(session, "c1", corrected, reviewer="rita", source="fix.json")
        session.commit()
        assert result.accuracy is not None
        assert result.accuracy.wer == 0.0  # [PAN] against [PAN], not digits against a tag
    assert_no_leak(engine)


class CardReadingEngine:
    """An ASR engine that returns raw digits (as a buggy or unredacting engine might)."""

    name = "fake/raw"

    def transcribe_file(self, path: Path, *, call_id: str, agent_channel: str) -> DocTranscript:
        segments = tuple(DocSegment(s, a, b, t) for s, a, b, t in CARD_LINES)
        return DocTranscript(call_id, "en", 14.0, segments)


@pytest.mark.pg
def test_transcription_output_is_redacted_even_when_the_engine_did_not(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    audio = tmp_path / "c1.wav"
    write_tone(audio, seconds=15.0)
    with Session(engine) as session:
        call = make_call(session, "c1")
        call.audio_path = str(audio)
        session.commit()
    asr = AsrProvider(settings)
    asr._engine = CardReadingEngine()
    report = ProcessReport()
    process_call(engine, "c1", PipelineContext(settings, asr), report)
    assert not report.failed
    with Session(engine) as session:
        assert "[PAN]" in stored_text(session)
        call = session.get(Call, "c1")
        assert call is not None and call.audio_path == str(tmp_path / "c1.redacted.wav")
        stage = session.exec(select(CallStage).where(CallStage.stage == Stage.TRANSCRIBE)).one()
        assert "recording redacted (2 span(s) beeped)" in stage.detail
    assert not audio.exists()  # the original is removed once the database points at the copy
    assert_no_leak(engine)


@pytest.mark.pg
def test_imported_transcript_with_a_card_gets_its_recording_beeped(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    write_tone(tmp_path / "c1.wav", seconds=15.0)
    write_transcript(tmp_path / "c1.json", "c1", CARD_LINES)
    write_tone(tmp_path / "c2.wav", seconds=15.0)
    write_transcript(tmp_path / "c2.json", "c2", CARD_LINES[:1])
    manifest = write_manifest(
        tmp_path / "m.csv",
        [
            row("c1", audio="c1.wav", transcript="c1.json"),
            row("c2", audio="c2.wav", transcript="c2.json"),
        ],
    )
    ingest_manifest(engine, manifest)
    report = process_pending(engine, settings)
    assert not report.failed
    with Session(engine) as session:
        c1, c2 = session.get(Call, "c1"), session.get(Call, "c2")
        assert c1 is not None and c1.audio_path == str(tmp_path / "c1.redacted.wav")
        assert c2 is not None and c2.audio_path == str(tmp_path / "c2.wav")  # nothing to beep
        details = {
            s.call_id: s.detail
            for s in session.exec(select(CallStage).where(CallStage.stage == Stage.TRANSCRIBE))
        }
    assert details["c1"].endswith("; recording redacted (2 span(s) beeped)")
    assert "redacted" not in details["c2"]
    assert not (tmp_path / "c1.wav").exists() and (tmp_path / "c2.wav").exists()
    rate, samples = read_wav(tmp_path / "c1.redacted.wav")
    assert dominant_hz(samples[int(5 * rate) : int(6 * rate)], rate) == pytest.approx(1000, abs=5)


def write_tone(path: Path, *, seconds: float, rate: int = 8000, channels: int = 2) -> None:
    """A stereo 440 Hz tone (so a beeped span is easy to tell apart)."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    frames = np.repeat(tone[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency of the first channel."""
    spectrum = np.abs(np.fft.rfft(samples[:, 0].astype(float)))
    return float(np.argmax(spectrum) * rate / len(samples))


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as handle:
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
        return rate, data.reshape(-1, handle.getnchannels())


def invoke(settings: Settings, *args: str, **env: str) -> Any:
    environment = {
        "QM_DATABASE_URL": settings.database_url,
        "QM_SECRET_KEY": TEST_SECRET,
        **env,
    }
    return CliRunner().invoke(cli, list(args), env=environment)


def old_database(engine: Engine, audio: Path | None) -> None:
    """What an older version stored: raw digits in segments and evidence."""
    with Session(engine) as session:
        call = make_call(session, "c1")
        call.audio_path = str(audio) if audio else None
        make_transcript(session, "c1", CARD_LINES)
        make_results(
            session, "c1", [{"item_id": "card", "hit": True, "evidence": CARD_LINES[1][3]}]
        )
        session.commit()


@pytest.mark.pg
def test_redact_all_cleans_an_old_database(engine: Engine, settings: Settings) -> None:
    old_database(engine, audio=None)
    with Session(engine) as session:
        assert "4111 1111 1111 1111" in stored_text(session)
        transcript_ids = list(session.exec(select(Transcript.id)).all())
    if engine.dialect.name == "sqlite":
        assert leaked_files(engine)  # the byte scan does see raw text where it is
    result = invoke(settings, "redact", "--all")
    assert result.exit_code == 0, result.output
    assert "1 redacted" in result.output and "1 evidence excerpt(s) redacted" in result.output
    assert_no_leak(engine)
    with Session(engine) as session:
        # Rows are updated in place: ids and positions stay.
        assert list(session.exec(select(Transcript.id)).all()) == transcript_ids
        assert session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "redact.stored")
        ).first()
    again = invoke(settings, "redact", "--all")
    assert again.exit_code == 0 and "0 redacted" in again.output  # idempotent


@pytest.mark.parametrize("keep", [False, True])
def test_redact_all_replaces_the_recording(
    engine: Engine, settings: Settings, tmp_path: Path, keep: bool
) -> None:
    audio = tmp_path / "c1.wav"
    write_tone(audio, seconds=15.0)
    old_database(engine, audio)
    env = {"QM_KEEP_ORIGINAL_AUDIO": "1"} if keep else {}
    result = invoke(settings, "redact", "--all", **env)
    assert result.exit_code == 0, result.output
    assert "Replaced 1 recording(s)" in result.output
    with Session(engine) as session:
        call = session.get(Call, "c1")
        assert call is not None and call.audio_path
        copy = Path(call.audio_path)
    assert copy.name == "c1.redacted.wav" and copy.is_file()
    assert audio.exists() is keep
    rate, samples = read_wav(copy)
    _, original = read_wav(copy.with_name("c1.wav")) if keep else (rate, None)
    # The customer's card segment (3.5-9.0 s, no word times: the whole segment) is beeped on
    # both channels; the agent's question before it is untouched.
    inside = samples[int(5.0 * rate) : int(6.0 * rate)]
    before = samples[int(1.0 * rate) : int(2.0 * rate)]
    assert dominant_hz(inside, rate) == pytest.approx(1000, abs=5)
    assert dominant_hz(inside[:, ::-1], rate) == pytest.approx(1000, abs=5)  # both channels
    assert dominant_hz(before, rate) == pytest.approx(440, abs=5)
    if original is not None:
        assert not np.array_equal(original, samples)
    second = invoke(settings, "redact", "--all")
    assert "Replaced 0 recording(s)" in second.output  # already a redacted copy


def test_redact_all_lists_an_unreadable_recording_and_goes_on(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "c1.wav"
    broken.write_text("not audio")
    old_database(engine, broken)
    result = invoke(settings, "redact", "--all")
    assert result.exit_code == 1
    assert "c1: recording not redacted" in result.output
    assert_no_leak(engine)  # the text was still redacted
    with Session(engine) as session:
        call = session.get(Call, "c1")
        assert call is not None and call.audio_path == str(broken)
