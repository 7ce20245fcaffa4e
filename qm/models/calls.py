"""Queues, calls (one row per customer contact) and per-call pipeline stages."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class Queue(SQLModel, table=True):
    """A call queue with its script and metric parameters."""

    id: str = Field(primary_key=True, max_length=100)
    script_key: str | None = Field(default=None, max_length=100)
    fcr_window_days: int = 7
    # Handle-time target band in seconds; calls outside it are flagged.
    aht_min_seconds: float | None = None
    aht_max_seconds: float | None = None


# What a month's totals read of a call besides its agent and start (see the indexes).
TOTALS_COLUMNS = (
    "queue",
    "customer_id",
    "repeat_contact",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "transfers",
    "resolved",
    "compliance",
    "courtesy_score",
)


class Call(SQLModel, table=True):
    """A customer contact with the call-manifest fields of DESIGN.md."""

    # The call list reads newest first within an agent or a queue; the filter form lists
    # the distinct reasons on every page (benchmarks/web.py measured both).
    __table_args__ = (
        # Monthly totals (qm.domain.call_totals) read every column they add up from these
        # two indexes alone, per agent or for everyone, without visiting the table (at
        # 100,000 calls a team's six months took 61 ms with table visits and joins, 15 ms
        # from the index). The first one also serves "newest first within an agent".
        Index("ix_call_agent_totals", "agent_id", "started_at", *TOTALS_COLUMNS),
        Index("ix_call_month_totals", "started_at", "agent_id", *TOTALS_COLUMNS),
        Index("ix_call_queue_started", "queue", "started_at"),
        # "Critical key point missed" is rare (a few % of calls): these partial indexes
        # hold only those calls, newest first, alone or within an agent or a queue, so that
        # the filter reads the few it wants instead of walking a whole queue (measured by
        # benchmarks/web.py: 60-200 ms for critical=yes&queue=X at 100,000 calls before).
        *(
            Index(
                f"ix_call_critical_{name}",
                *columns,
                sqlite_where=text("critical_failed = 1"),
                postgresql_where=text("critical_failed"),
            )
            for name, columns in (
                ("started", ("started_at",)),
                ("agent", ("agent_id", "started_at")),
                ("queue", ("queue", "started_at")),
            )
        ),
    )

    id: str = Field(primary_key=True, max_length=128)
    agent_id: str = Field(foreign_key="agent.id")
    customer_id: str | None = Field(default=None, foreign_key="customer.id", index=True)
    queue: str | None = Field(default=None, foreign_key="queue.id")
    reason: str | None = Field(default=None, max_length=200, index=True)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    wrap_seconds: float | None = None
    transfers: int | None = None
    resolved: bool | None = None
    audio_path: str | None = Field(default=None, max_length=1000)
    # Which stereo channel carries the agent ("left"/"right"); None means the site default.
    agent_channel: str | None = Field(default=None, max_length=5)
    source: str = Field(default="manifest", max_length=200)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A `qm process` run working on this call, until when (see qm.domain.pipeline.runner).
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the recording and transcript were removed ("retention" or "erasure"); scores stay.
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    purge_reason: str | None = Field(default=None, max_length=20)
    # A copy of `CallMetrics.critical_failed`, written with it by the key-point stage (its
    # only writer): the call list filters on it with the partial indexes above, which
    # cannot span the two tables.
    critical_failed: bool | None = None
    # Copies of `CallMetrics.compliance` and `.courtesy_score`, written with them (the
    # pipeline's stages; `qm.models.results` for ORM writes): a month's totals then read
    # one index of one table (qm.domain.call_totals), a join per call cost three times
    # the rest of the query.
    compliance: float | None = None
    courtesy_score: float | None = None
    # Whether the same customer called again within this call's FCR window (DESIGN.md):
    # None when the customer is unknown. Kept current by qm.domain.repeat_contacts, so
    # that a month's FCR is a sum over its calls (qm.domain.call_totals).
    repeat_contact: bool | None = None
    # Seconds the customer waited in the queue before the agent answered (a telephony
    # export's queue hold time), apart from hold during the call; None when not known.
    queue_seconds: float | None = None


class UnansweredContact(SQLModel, table=True):
    """A customer contact that reached no agent: abandoned in a queue, or IVR-only.

    Telephony imports keep these apart from `Call`, which is an agent's contact (it is
    scored and counted on the agent's scorecard). They count as the customer's contacts
    for FCR: a call followed within its window by an abandoned or IVR-only contact of the
    same customer was not resolved at first contact (qm.domain.repeat_contacts). `id` is
    the telephony id, as a call's is.
    """

    __tablename__ = "unanswered_contact"

    id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=10)  # "abandoned" | "ivr"
    customer_id: str | None = Field(default=None, foreign_key="customer.id", index=True)
    queue: str | None = Field(default=None, foreign_key="queue.id")
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    queue_seconds: float | None = None
    source: str = Field(default="", max_length=200)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Stage(StrEnum):
    """Pipeline stages, in the order they run."""

    TRANSCRIBE = "transcribe"
    KEYPOINTS = "keypoints"
    METRICS = "metrics"


class StageStatus(StrEnum):
    """Where a call stands in one stage. A call with no row for a stage is pending."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class CallStage(SQLModel, table=True):
    """The outcome of one pipeline stage for one call."""

    __tablename__ = "call_stage"
    __table_args__ = (UniqueConstraint("call_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    stage: Stage = Field(sa_column=Column(String(20), nullable=False))
    status: StageStatus = Field(sa_column=Column(String(20), nullable=False))
    detail: str = Field(default="", max_length=4000)
    attempts: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
