"""Redaction of what is already stored: transcripts, evidence excerpts and recordings.

New transcripts are redacted on their way in
(`qm.domain.stored_transcripts.replace_transcript`). This module brings the rest in line:

- `redact_stored_text` re-redacts every stored transcript and key-point evidence excerpt,
  for databases written by versions that stored raw text (or an older, weaker redactor);
- `redact_call_audio` replaces a call's recording by a copy with the redacted spans beeped,
  so the card number is gone from the audio too;
- `compact_database` rewrites the database files so that the replaced text does not
  survive in free pages or the write-ahead log.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain.audit import record
from qm.domain.stored_transcripts import (
    current_transcript,
    transcript_doc,
    transcript_segments,
    words_json,
)
from qm.models import Call, KeyPointResult, Transcript
from transcripts import Transcript as TranscriptDoc
from transcripts.redact import redact_audio, redact_text, redact_transcript, redaction_spans

log = logging.getLogger(__name__)

REDACTED_SUFFIX = ".redacted.wav"
BATCH = 200  # transcripts per transaction in `redact_stored_text`


@dataclass
class RedactionReport:
    """What a `qm redact --all` run changed."""

    transcripts_checked: int = 0
    transcripts_changed: int = 0
    segments_changed: int = 0
    evidence_changed: int = 0
    recordings_redacted: int = 0
    recordings_failed: list[tuple[str, str]] = field(default_factory=list)


def redact_transcript_rows(session: Session, transcript: Transcript) -> int:
    """Redact one stored transcript in place; returns how many segments changed.

    Segment rows are updated rather than replaced, so ids and positions stay. The caller
    commits.
    """
    rows = transcript_segments(session, transcript.id)
    doc = transcript_doc(session, transcript, rows)
    redacted = redact_transcript(doc)
    changed = 0
    for row, before, after in zip(rows, doc.segments, redacted.segments, strict=True):
        if before == after:
            continue
        row.text = after.text
        row.words = words_json(after.words)
        session.add(row)
        changed += 1
    return changed


def redact_evidence_rows(session: Session, call_id: str | None = None) -> int:
    """Redact key-point evidence excerpts (of one call, or all); returns how many changed."""
    query = select(KeyPointResult).where(col(KeyPointResult.evidence) != "")
    if call_id is not None:
        query = query.where(col(KeyPointResult.call_id) == call_id)
    changed = 0
    for row in session.exec(query).all():
        redacted = redact_text(row.evidence)
        if redacted != row.evidence:
            row.evidence = redacted
            session.add(row)
            changed += 1
    return changed


def redact_stored_text(
    engine: Engine, *, actor: str, progress: Callable[[int], None] | None = None
) -> RedactionReport:
    """Re-redact every stored transcript and evidence excerpt, in batches of `BATCH`.

    A batch runner: each batch is its own transaction, so an interrupted run keeps what it
    finished and a second run picks up the rest (redaction is idempotent).
    """
    report = RedactionReport()
    with Session(engine) as session:
        ids = list(session.exec(select(Transcript.id).order_by(col(Transcript.id))).all())
    for i in range(0, len(ids), BATCH):
        with Session(engine) as session:
            for transcript_id in ids[i : i + BATCH]:
                transcript = session.get(Transcript, transcript_id)
                if transcript is None:
                    continue  # replaced meanwhile, by a writer that redacts
                report.transcripts_checked += 1
                changed = redact_transcript_rows(session, transcript)
                if changed:
                    report.transcripts_changed += 1
                    report.segments_changed += changed
            session.commit()
        if progress is not None:
            progress(len(ids[i : i + BATCH]))
    with Session(engine) as session:
        report.evidence_changed = redact_evidence_rows(session)
        record(
            session,
            actor=actor,
            action="redact.stored",
            entity="database",
            detail={
                "transcripts_checked": report.transcripts_checked,
                "transcripts_changed": report.transcripts_changed,
                "segments_changed": report.segments_changed,
                "evidence_changed": report.evidence_changed,
            },
        )
        session.commit()
    return report


def is_redacted_copy(path: str) -> bool:
    """True for a recording written by `write_redacted_copy`."""
    return path.endswith(REDACTED_SUFFIX)


@dataclass(frozen=True, slots=True)
class AudioRedaction:
    """A recording replaced by its redacted copy; `original` is deleted after the commit."""

    call_id: str
    copy: Path
    original: Path
    spans: int
    keep_original: bool

    def finish(self) -> None:
        """Remove the original recording, once the database points at the copy."""
        if not self.keep_original:
            self.original.unlink(missing_ok=True)

    def undo(self) -> None:
        """Remove the copy, when the transaction that would have pointed at it failed."""
        self.copy.unlink(missing_ok=True)


def write_redacted_copy(
    call_id: str, audio_path: str, doc: TranscriptDoc, *, keep_original: bool, mode: str = "beep"
) -> AudioRedaction | None:
    """Write a copy of a recording with the redacted spans of `doc` beeped (no database work).

    Returns None when the recording already is a redacted copy or `doc` (a redacted
    transcript) has nothing redacted. The copy is written beside the original as
    ``<name>.redacted.wav``; `adopt_redacted_copy` points the call at it.

    Raises:
        transcripts.errors.AudioError: the recording cannot be read.
        OSError: the copy cannot be written.
    """
    if is_redacted_copy(audio_path):
        return None
    spans = redaction_spans(doc)
    if not spans:
        return None
    original = Path(audio_path)
    copy = original.with_name(original.stem + REDACTED_SUFFIX)
    redact_audio(original, copy, spans, mode=mode)
    return AudioRedaction(call_id, copy, original, len(spans), keep_original)


def adopt_redacted_copy(session: Session, call: Call, redaction: AudioRedaction) -> None:
    """Point `call` at its redacted recording, in the caller's transaction.

    The original is removed once that transaction commits, and the copy if it rolls back,
    so the call never points at a missing file.
    """
    call.audio_path = str(redaction.copy)
    session.add(call)
    record(
        session,
        actor="system",
        action="redact.audio",
        entity="call",
        entity_id=call.id,
        detail={"spans": redaction.spans, "original_kept": redaction.keep_original},
    )

    def committed(_session: Session) -> None:
        event.remove(session, "after_rollback", rolled_back)
        redaction.finish()

    def rolled_back(_session: Session) -> None:
        event.remove(session, "after_commit", committed)
        redaction.undo()

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_rollback", rolled_back, once=True)


def redact_call_audio(
    session: Session, call: Call, *, keep_original: bool, mode: str = "beep"
) -> AudioRedaction | None:
    """Replace the call's recording by a copy with its stored transcript's redacted spans
    beeped, in the caller's transaction (see `adopt_redacted_copy`).

    Does nothing (returns None) when the call has no recording, its recording already is a
    redacted copy, or its transcript has nothing redacted.

    Raises:
        transcripts.errors.AudioError: the recording cannot be read.
        OSError: the copy cannot be written.
    """
    if not call.audio_path or is_redacted_copy(call.audio_path):
        return None
    transcript = current_transcript(session, call.id)
    if transcript is None:
        return None
    doc = transcript_doc(session, transcript)
    redaction = write_redacted_copy(
        call.id, call.audio_path, doc, keep_original=keep_original, mode=mode
    )
    if redaction is not None:
        adopt_redacted_copy(session, call, redaction)
    return redaction


def redact_recording(engine: Engine, call_id: str, *, keep_original: bool) -> AudioRedaction | None:
    """`redact_call_audio` for one call in a transaction of its own (the SQLite write lock
    taken first, as for any read-then-write block)."""
    with session_scope(engine, immediate=True) as session:
        call = session.get(Call, call_id)
        if call is None:
            return None
        return redact_call_audio(session, call, keep_original=keep_original)


def redact_stored_audio(engine: Engine, *, keep_original: bool, report: RedactionReport) -> None:
    """Replace the recording of every call whose transcript has redacted spans.

    One transaction per call: a recording that cannot be read is listed in the report and
    the others go on.
    """
    with Session(engine) as session:
        ids = list(
            session.exec(
                select(Call.id).where(
                    col(Call.audio_path).is_not(None),
                    sa.not_(col(Call.audio_path).endswith(REDACTED_SUFFIX)),
                )
            ).all()
        )
    for call_id in ids:
        try:
            done = redact_recording(engine, call_id, keep_original=keep_original)
        except Exception as exc:
            log.warning("call %s: recording not redacted", call_id, exc_info=exc)
            report.recordings_failed.append((call_id, f"{type(exc).__name__}: {exc}"))
            continue
        if done is not None:
            report.recordings_redacted += 1


def compact_database(engine: Engine) -> str:
    """Rewrite the database files so that replaced text leaves no trace; says what it did.

    SQLite: the write-ahead log is checkpointed and truncated, then VACUUM rewrites the file
    without free pages. PostgreSQL: VACUUM FULL rewrites the tables that hold text and a
    CHECKPOINT lets the server recycle its WAL segments (needs the privilege to do so).
    """
    if engine.dialect.name == "sqlite":
        # The raw driver connection: VACUUM cannot run inside the BEGIN that qm.db issues.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()
        return "SQLite file vacuumed, write-ahead log truncated"
    tables = ("segment", "transcript", "key_point_result")
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            conn.exec_driver_sql(f'VACUUM FULL "{table}"')
        try:
            conn.exec_driver_sql("CHECKPOINT")
        except sa.exc.DBAPIError:
            return (
                f"PostgreSQL tables {', '.join(tables)} rewritten (VACUUM FULL); CHECKPOINT "
                "needs superuser or pg_checkpoint: old WAL segments are recycled at the "
                "server's next checkpoint"
            )
    return f"PostgreSQL tables {', '.join(tables)} rewritten (VACUUM FULL), checkpoint done"
