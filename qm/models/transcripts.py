"""Stored transcripts and their speaker-labelled segments."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class TranscriptKind(StrEnum):
    """Which of a call's (at most two) transcripts a row is; the correction wins when shown."""

    # From an import, Harper Valley or the ASR engine.
    ORIGINAL = "original"
    # A reviewer's correction of the original (the reference for the engine's WER).
    CORRECTED = "corrected"


class Transcript(SQLModel, table=True):
    """A call's transcript of one kind: the original, or a reviewer's correction of it."""

    __table_args__ = (UniqueConstraint("call_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    kind: TranscriptKind = Field(
        default=TranscriptKind.ORIGINAL, sa_column=Column(String(20), nullable=False)
    )
    language: str = Field(max_length=10)
    duration: float | None = None
    # Where the text came from: "import:<file>", "harper-valley", "asr:<engine>/<model>".
    source: str = Field(default="import", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Segment(SQLModel, table=True):
    """One utterance of one speaker."""

    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcript.id", ondelete="CASCADE", index=True)
    position: int
    speaker: str = Field(max_length=10)
    start: float
    end: float
    text: str
    words: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))


class AsrAccuracy(SQLModel, table=True):
    """An engine's measured accuracy on one call, against a reviewer's corrected transcript.

    Kept per call and engine/model (not overwritten when the call is re-transcribed by
    another model), so that accuracy can be reported per engine and model over time.
    """

    __tablename__ = "asr_accuracy"
    __table_args__ = (UniqueConstraint("call_id", "engine", "model"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    engine: str = Field(max_length=50)
    model: str = Field(default="", max_length=200)
    language: str = Field(max_length=10)
    # WER for English; for Chinese `wer` is over characters (equal to `cer`).
    wer: float
    cer: float
    substitutions: int
    deletions: int
    insertions: int
    # Reference length in the units of `wer` (words, or characters for Chinese).
    reference_units: int
    corrected_by: str = Field(default="", max_length=100)
    measured_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
