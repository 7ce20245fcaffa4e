"""What the scheduler keeps in the database: who runs it, and which runs are done."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class SchedulerLease(SQLModel, table=True):
    """The one process allowed to run the scheduler, until `expires_at` unless renewed.

    Every web worker (and `qm scheduler`) tries to take the lease; only its holder runs
    jobs, so several processes never run the same job twice.
    """

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class RunState(StrEnum):
    """Where one scheduled run stands."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ScheduledRun(SQLModel, table=True):
    """One run of a periodic job for one period (the monthly reports for 2026-11).

    The row is claimed before the job starts: a second process, or a make-up run after a
    restart, finds it and does not run the job again.
    """

    __tablename__ = "scheduled_run"

    job: str = Field(primary_key=True, max_length=50)
    period: str = Field(primary_key=True, max_length=7)
    state: RunState = Field(sa_column=Column(String(10), nullable=False))
    holder: str = Field(max_length=200)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
