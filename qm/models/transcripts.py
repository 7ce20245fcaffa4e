"""Stored transcripts and their speaker-labelled segments."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class Transcript(SQLModel, table=True):
    """A call's transcript; `kind` is "original" (import or ASR) or "corrected" (reviewer)."""

    __table_args__ = (UniqueConstraint("call_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    kind: str = Field(default="original", max_length=20)
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
