"""Per-call results of the pipeline: key-point checks and metrics."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, String, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow
from qm.models.calls import Call
from scoring.courtesy import courtesy_score


class ResultKind(StrEnum):
    """What a key-point result checked: a script's key point or one of its forbidden phrases.

    The values are those of `scoring.keypoints.ItemResult.kind`.
    """

    # Something the script asks for: a hit is good and counts toward compliance.
    KEY_POINT = "key_point"
    # A phrase the agent must not say: a hit is a fault (a critical one fails the call).
    FORBIDDEN = "forbidden"


class KeyPointResult(SQLModel, table=True):
    """Whether one key point (or forbidden phrase) of a script held on a call, with evidence."""

    __tablename__ = "key_point_result"
    __table_args__ = (UniqueConstraint("call_id", "kind", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    script_id: int = Field(foreign_key="script.id")
    kind: ResultKind = Field(sa_column=Column(String(20), nullable=False))
    item_id: str = Field(max_length=100)
    label: str = Field(default="", max_length=300)
    hit: bool
    uncertain: bool = False
    start: float | None = None
    end: float | None = None
    speaker: str | None = Field(default=None, max_length=10)
    evidence: str = ""
    score: float = 0.0
    method: str = Field(default="", max_length=30)
    # Why a found phrase did not count (wrong speaker, too late, out of order).
    note: str = Field(default="", max_length=300)
    required: bool = True
    critical: bool = False
    weight: float = 1.0


class CallMetrics(SQLModel, table=True):
    """The per-call figures that scorecards aggregate."""

    __tablename__ = "call_metrics"

    call_id: str = Field(primary_key=True, foreign_key="call.id", ondelete="CASCADE")
    handle_seconds: float | None = None
    transferred: bool | None = None
    # Weighted share of applicable key points hit; 0 when a critical one was missed.
    compliance: float | None = None
    critical_failed: bool | None = None
    uncertain_items: int = 0
    courtesy: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # `scoring.courtesy.courtesy_score(courtesy)`, kept beside it (set on every write, see
    # `_score_courtesy` below) so that the database can add a month's scores up.
    courtesy_score: float | None = None
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Which script version the key-point stage checked the call with, and when (None until
    # checked, or when there was no script). Kept here, once per call, rather than on each
    # KeyPointResult: one check produces all of a call's results and its compliance with
    # one version, a check that found no items still has a version, and the call page and
    # reports read it without joining the results to the scripts.
    script_key: str | None = Field(default=None, max_length=100)
    script_version: int | None = None
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


@event.listens_for(CallMetrics, "before_insert")
@event.listens_for(CallMetrics, "before_update")
def _score_courtesy(_mapper: Any, _connection: Any, target: CallMetrics) -> None:
    """Keep `courtesy_score` in step with `courtesy` on every ORM write (the pipeline's
    Core writes set both themselves)."""
    target.courtesy_score = courtesy_score(target.courtesy) if target.courtesy else None


@event.listens_for(CallMetrics, "after_insert")
@event.listens_for(CallMetrics, "after_update")
def _copy_scores(_mapper: Any, connection: sa.Connection, target: CallMetrics) -> None:
    """The call's copies of the two scores (`Call.compliance`), on ORM writes."""
    connection.execute(
        sa.update(Call.__table__)  # type: ignore[attr-defined]
        .where(Call.__table__.c.id == target.call_id)  # type: ignore[attr-defined]
        .values(compliance=target.compliance, courtesy_score=target.courtesy_score)
    )
