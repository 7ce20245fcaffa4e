"""The review loop: stored evaluation forms, evaluations with their history, disputes and
calibration sessions (DESIGN.md, "Evaluations, disputes, calibration").

Nothing here is ever overwritten in place without a trace: every change of an
evaluation's answers or state appends `EvaluationChange` rows.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class EvaluationKind(StrEnum):
    """What an evaluation is for; only `standard` ones count in scorecards."""

    STANDARD = "standard"
    CALIBRATION = "calibration"
    SELF = "self"


class EvaluationState(StrEnum):
    """Where an evaluation stands in its lifecycle."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RELEASED = "released"  # the agent can see it from here on
    ACKNOWLEDGED = "acknowledged"
    DISPUTED = "disputed"
    RESOLVED = "resolved"


class DisputeState(StrEnum):
    """Whether a dispute still waits for a decision."""

    OPEN = "open"
    RESOLVED = "resolved"


class DisputeOutcome(StrEnum):
    """How a dispute was decided."""

    UPHELD = "upheld"  # the answers stand
    CHANGED = "changed"  # some answers were corrected


class CalibrationState(StrEnum):
    """Whether a calibration session still takes answers."""

    OPEN = "open"
    CLOSED = "closed"


class EvaluationForm(SQLModel, table=True):
    """One version of an evaluation form; `key` is the form's own `id` field."""

    __tablename__ = "evaluation_form"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True)
    version: int
    name: str = Field(max_length=300)
    # The canonical structure (every default written out), as scoring.forms.parse_form reads it.
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=100)


class FormAssignment(SQLModel, table=True):
    """Which form applies to the calls of one queue, or of one team's agents."""

    __tablename__ = "form_assignment"

    id: int | None = Field(default=None, primary_key=True)
    form_key: str = Field(max_length=64)
    # Exactly one of the two is set; a queue's assignment wins over the agent's team's.
    queue: str | None = Field(default=None, foreign_key="queue.id", unique=True)
    team_id: str | None = Field(default=None, foreign_key="team.id", unique=True)


class CalibrationSession(SQLModel, table=True):
    """Several reviewers score the same calls blind, to measure how far they agree."""

    __tablename__ = "calibration_session"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    form_id: int = Field(foreign_key="evaluation_form.id")
    call_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reviewer_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))
    # Whose totals are the baseline of the deviations; None means the consensus.
    expert_id: int | None = Field(default=None, foreign_key="user.id")
    state: CalibrationState = Field(
        default=CalibrationState.OPEN, sa_column=Column(String(20), nullable=False)
    )
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Evaluation(SQLModel, table=True):
    """One reviewer's judgement of one call against one version of a form.

    `answers` maps item id -> {"answer", "comment", "auto", "evidence"}: `auto` is the
    machine's prefilled answer (None when there was none or it was uncertain) and
    `evidence` the key-point span {"start", "end", "text"} it rests on. The human
    `answer` is the one that counts.
    """

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    form_id: int = Field(foreign_key="evaluation_form.id")
    kind: EvaluationKind = Field(sa_column=Column(String(20), nullable=False))
    state: EvaluationState = Field(
        default=EvaluationState.DRAFT, sa_column=Column(String(20), nullable=False)
    )
    # +1 on every change of answers or state; a PATCH naming an older one is refused.
    version: int = 1
    reviewer_id: int = Field(foreign_key="user.id", index=True)
    # The call's agent, kept here so an agent's evaluations are found without the call.
    agent_id: str = Field(foreign_key="agent.id", index=True)
    sample: str = Field(default="random", max_length=100)
    calibration_id: int | None = Field(
        default=None, foreign_key="calibration_session.id", index=True
    )
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    total: float | None = None
    critical_failed: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EvaluationChange(SQLModel, table=True):
    """One change of an evaluation: a state change, or one item's answer changed."""

    __tablename__ = "evaluation_change"

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    version: int  # the evaluation's version after the change
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=20)
    item_id: str | None = Field(default=None, max_length=64)
    old: Any = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    new: Any = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    why: str = Field(default="", sa_column=Column(Text, nullable=False))


class Dispute(SQLModel, table=True):
    """An agent's objection to named items of a released evaluation."""

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    agent_user_id: int = Field(foreign_key="user.id")
    items: list[str] = Field(sa_column=Column(JSON, nullable=False))
    comment: str = Field(sa_column=Column(Text, nullable=False))
    state: DisputeState = Field(
        default=DisputeState.OPEN, sa_column=Column(String(20), nullable=False)
    )
    outcome: DisputeOutcome | None = Field(default=None, sa_column=Column(String(20)))
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False))
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The reviewer (or manager) the dispute is routed to (`qm.domain.evaluations.disputes`);
    # None when nobody could take it. Anyone allowed may still decide it.
    assigned_to: int | None = Field(default=None, foreign_key="user.id", index=True)
