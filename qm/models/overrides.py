"""Reviewers' key-point overrides: a person's answer to "did the agent say it?".

Every decision is a new row and nothing is updated in place: for one call and key point
the newest row counts, the older ones are its history. The rows live apart from
`KeyPointResult`, which a re-check of the call deletes and writes again, so that a
reviewer's decision survives the machine changing its mind.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class KeyPointOverride(SQLModel, table=True):
    """One reviewer decision on one key point of one call (confirmation or correction).

    `auto_hit` is the machine's answer when the decision was taken (None when it was
    uncertain), so a confirmation is a row whose `hit` equals its `auto_hit`. `start`
    and `end` are the evidence span the reviewer chose (seconds, optional) and
    `evidence` the transcript text inside it, copied from the stored (already redacted)
    transcript.
    """

    __tablename__ = "key_point_override"
    # The page and the agreement figures look up the newest row per call and item.
    __table_args__ = (Index("ix_key_point_override_call_item", "call_id", "item_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE")
    item_id: str = Field(max_length=100)
    hit: bool
    start: float | None = None
    end: float | None = None
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False))
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    auto_hit: bool | None = None
    reviewer_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ExemplarSuggestion(StrEnum):
    """Where a positive exemplar stands as a phrase variant for its script."""

    PENDING = "pending"  # not yet looked at by an admin
    ACCEPTED = "accepted"  # added to a new version of the script
    DISMISSED = "dismissed"  # an admin chose not to add it (it still teaches the checker)


class KeyPointExemplar(SQLModel, table=True):
    """What one reviewer decision teaches the checker about one key point of a script.

    A decision that the checker missed a key point, with the evidence span that said
    it, gives a positive exemplar (`text` is that span's transcript text); one that a
    hit (or an uncertain match) was wrong gives a negative one (the line the checker
    matched, or the reviewer's span). It applies to every later check of calls with
    any version of script `script_key` (`qm.domain.exemplars`) for as long as its
    decision is the newest on that call and key point: a newer decision replaces it.
    A positive exemplar is also a suggested phrase variant until an admin accepts
    (`suggestion`, `version` the script version it went into) or dismisses it.
    """

    __tablename__ = "key_point_exemplar"
    # The checker reads a script's exemplars, newest first, on every call.
    __table_args__ = (Index("ix_key_point_exemplar_script", "script_key", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    script_key: str = Field(max_length=100)
    item_id: str = Field(max_length=100)
    text: str = Field(sa_column=Column(Text, nullable=False))
    positive: bool
    override_id: int = Field(foreign_key="key_point_override.id", ondelete="CASCADE", unique=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    suggestion: ExemplarSuggestion = Field(
        default=ExemplarSuggestion.PENDING, sa_column=Column(String(10), nullable=False)
    )
    version: int | None = None
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
