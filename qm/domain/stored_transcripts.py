"""Stored transcripts: the one door for writing them, and the reads of the current one.

`replace_transcript` is the one door through which transcript text reaches the database:
imports, Harper Valley, reviewer corrections and transcription all pass it, and it redacts
card numbers, security codes and ID numbers before the first write (PCI DSS 3.4: never
store what the card holder read out).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session, col, select

from qm.models import Segment, Transcript, TranscriptKind, utcnow
from transcripts import Segment as DocSegment
from transcripts import Transcript as TranscriptDoc
from transcripts import Word as DocWord
from transcripts.redact import redact_transcript


def replace_transcript(
    conn: Connection,
    call_id: str,
    doc: TranscriptDoc,
    *,
    kind: TranscriptKind = TranscriptKind.ORIGINAL,
    source: str,
) -> int:
    """Store `doc`, redacted, as the call's transcript of `kind`, replacing any earlier one.

    Returns the new transcript's id.
    """
    doc = redact_transcript(doc)
    table = Transcript.__table__  # type: ignore[attr-defined]
    conn.execute(sa.delete(table).where(table.c.call_id == call_id, table.c.kind == kind))
    transcript_id: int = conn.execute(
        sa.insert(table)
        .values(
            call_id=call_id,
            kind=kind,
            language=doc.language,
            duration=doc.duration,
            source=source[:300],
            created_at=utcnow(),
        )
        .returning(table.c.id)
    ).scalar_one()
    segments = [
        {
            "transcript_id": transcript_id,
            "position": position,
            "speaker": seg.speaker,
            "start": seg.start,
            "end": seg.end,
            "text": seg.text,
            "words": words_json(seg.words),
        }
        for position, seg in enumerate(doc.segments)
    ]
    if segments:
        conn.execute(sa.insert(Segment.__table__), segments)  # type: ignore[attr-defined]
    return transcript_id


def words_json(words: tuple[DocWord, ...] | None) -> list[dict[str, Any]] | None:
    """A segment's word timings as stored in `segment.words` (None when unknown)."""
    if words is None:
        return None
    return [{"text": w.text, "start": w.start, "end": w.end} for w in words]


def current_transcript(session: Session, call_id: str) -> Transcript | None:
    """The call's transcript to score and show: the reviewer's correction when there is one,
    else the imported or ASR one."""
    rows = session.exec(select(Transcript).where(col(Transcript.call_id) == call_id)).all()
    by_kind = {t.kind: t for t in rows}
    return by_kind.get(TranscriptKind.CORRECTED) or by_kind.get(TranscriptKind.ORIGINAL)


@dataclass(frozen=True, slots=True)
class TranscriptInfo:
    """A stored transcript's own row, without its segments."""

    id: int
    call_id: str
    kind: TranscriptKind
    language: str
    duration: float | None
    source: str


_TRANSCRIPTS = Transcript.__table__  # type: ignore[attr-defined]
_TRANSCRIPT_INFO = sa.select(
    _TRANSCRIPTS.c.id,
    _TRANSCRIPTS.c.call_id,
    _TRANSCRIPTS.c.kind,
    _TRANSCRIPTS.c.language,
    _TRANSCRIPTS.c.duration,
    _TRANSCRIPTS.c.source,
).where(_TRANSCRIPTS.c.call_id == sa.bindparam("call_id"))


def current_transcript_info(session: Session, call_id: str) -> TranscriptInfo | None:
    """The row of `current_transcript(session, call_id)` as plain values.

    One prepared Core query with no ORM objects built: the pipeline reads it for every
    call and stage.
    """
    rows = session.connection().execute(_TRANSCRIPT_INFO, {"call_id": call_id})
    by_kind = {row.kind: row for row in rows}
    row = by_kind.get(TranscriptKind.CORRECTED) or by_kind.get(TranscriptKind.ORIGINAL)
    if row is None:
        return None
    return TranscriptInfo(
        row.id, row.call_id, TranscriptKind(row.kind), row.language, row.duration, row.source
    )


def transcript_segments(session: Session, transcript_id: int | None) -> list[Segment]:
    """A stored transcript's segments in their order."""
    return list(
        session.exec(
            select(Segment)
            .where(Segment.transcript_id == transcript_id)
            .order_by(col(Segment.position))
        ).all()
    )


def transcript_doc(
    session: Session, transcript: Transcript, segments: Sequence[Segment] | None = None
) -> TranscriptDoc:
    """A stored transcript as DESIGN.md's transcript (words kept where stored).

    Args:
        session: an open session.
        transcript: the stored transcript.
        segments: its segment rows, when the caller has them already (else they are read).
    """
    rows = transcript_segments(session, transcript.id) if segments is None else segments
    docs = tuple(
        DocSegment(
            speaker=seg.speaker,
            start=seg.start,
            end=seg.end,
            text=seg.text,
            words=None
            if seg.words is None
            else tuple(DocWord(w["text"], w["start"], w["end"]) for w in seg.words),
        )
        for seg in rows
    )
    return TranscriptDoc(transcript.call_id, transcript.language, transcript.duration, docs)
