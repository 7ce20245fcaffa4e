"""Reviewers' key-point overrides: a person's answer to "did the agent say it?".

Every decision is a new row and nothing is updated in place: for one call and key point
the newest row counts, the older ones are its history. The rows live apart from
`KeyPointResult`, which a re-check of the call deletes and writes again, so that a
reviewer's decision survives the machine changing its mind.
"""

from datetime import datetime

from sqlalchemy import Column, Index, Text
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
