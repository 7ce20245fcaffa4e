"""The review queue: sampling rules and the calls they pick for review each month.

A `SamplingRule` says, for a team and/or a queue (or the whole site), how many random
calls per agent a month are reviewed, which targeted reasons also pick a call, who
reviews them and by when. Running the sampling for a month (`qm sample --period`)
stores one `ReviewPick` per picked call: a call picked for several reasons is one pick
listing them all.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class TargetReason(StrEnum):
    """Why a call is picked for review beyond the random sample (`targeted:<reason>`)."""

    CRITICAL_MISS = "critical-miss"  # a critical key point missed (the call scores 0)
    UNCERTAIN = "uncertain-keypoints"  # the checker could not decide some key points
    FORBIDDEN_PHRASE = "forbidden-phrase"  # the agent said a forbidden phrase
    LOW_COURTESY = "low-courtesy"  # the courtesy score is below the rule's threshold
    HANDLE_TIME = "handle-time"  # talk + hold + wrap outside the queue's band
    TRANSFER = "transfer"  # the call was transferred
    REPEAT_CONTACT = "repeat-contact"  # the customer called again within the FCR window
    NEW_AGENT = "new-agent"  # the agent's first call is recent


class AssignmentMode(StrEnum):
    """How new picks are shared among a rule's reviewers."""

    ROUND_ROBIN = "round_robin"  # in turn, continuing where the last run stopped
    BY_LOAD = "by_load"  # to whoever has the fewest unfinished picks


class PickState(StrEnum):
    """Where a pick stands. `done` and `in_progress` also follow from its evaluation."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"


RANDOM_SAMPLE = "random"
TARGETED_PREFIX = "targeted:"


class SamplingRule(SQLModel, table=True):
    """How the calls of one scope are sampled for review each month.

    The scope is a team, a queue, both, or neither (the whole site). A call follows the
    most specific rule that covers it: team and queue, then queue, then team, then the
    site-wide rule.
    """

    __tablename__ = "sampling_rule"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str | None = Field(default=None, foreign_key="team.id", index=True)
    queue: str | None = Field(default=None, foreign_key="queue.id", index=True)
    # Random calls per agent per month (0: targeted picks only).
    random_per_agent: int = 2
    # The `TargetReason` values that pick a call.
    reasons: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # At most this many targeted picks per agent per month (the workload stays bounded).
    targeted_per_agent: int = 5
    # Courtesy score (share of courtesy checks passed, 0-1) below which a call is picked.
    low_courtesy_below: float = 0.6
    # User ids of the reviewers who share the picks; empty: every active reviewer.
    reviewer_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))
    assignment: AssignmentMode = Field(
        default=AssignmentMode.ROUND_ROBIN, sa_column=Column(String(20), nullable=False)
    )
    # A pick is due this many days after the sampling run that made it.
    due_days: int = 7
    active: bool = True
    created_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReviewPick(SQLModel, table=True):
    """One call picked for review in one month, with its reviewer and due date."""

    __tablename__ = "review_pick"
    __table_args__ = (UniqueConstraint("call_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    # The month sampled, "YYYY-MM" (the call started in it).
    period: str = Field(max_length=7, index=True)
    # The rule that picked it; None for the built-in default rule.
    rule_id: int | None = Field(default=None, foreign_key="sampling_rule.id")
    # "random", or "targeted:<reason>" (the first reason) as DESIGN.md labels samples.
    sample: str = Field(max_length=100)
    # Every targeted reason that holds for the call, comma-separated, in TargetReason order
    # (a random pick lists them too). A plain string so that both databases can filter it.
    reasons: str = Field(default="", max_length=300)
    # What was found, for the reviewer: "critical key point verify-id missed; 2 transfers".
    detail: str = Field(default="", max_length=1000)
    reviewer_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    due: date
    state: PickState = Field(default=PickState.OPEN, sa_column=Column(String(20), nullable=False))
    evaluation_id: int | None = Field(default=None, foreign_key="evaluation.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
