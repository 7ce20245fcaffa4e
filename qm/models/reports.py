"""The report archive: each rendered PDF, and each e-mail that carries one to a person."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class ReportKind(StrEnum):
    """What a report covers."""

    TEAM = "team"  # the monthly team report, for the team's managers
    AGENT = "agent"  # one agent's scorecard PDF


class DeliveryState(StrEnum):
    """Where the e-mail of a report to one recipient stands."""

    PENDING = "pending"  # not tried yet
    SENT = "sent"
    FAILED = "failed"  # the last try failed; `next_attempt_at` says when the next one is


class Report(SQLModel, table=True):
    """One rendered PDF in the archive: one per kind, period, team or agent, and language.

    The file lives in the report folder (`Settings.report_folder()`) at `path`, relative to
    it; `checksum` is the SHA-256 of its bytes, checked again when it is downloaded.
    Rendering the same report again replaces the file and updates the row.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: ReportKind = Field(sa_column=Column(String(10), nullable=False))
    period: str = Field(max_length=7, index=True)
    # A team report's team; an agent report's team when it was rendered (for visibility).
    team_id: str | None = Field(default=None, foreign_key="team.id", index=True)
    agent_id: str | None = Field(default=None, foreign_key="agent.id", index=True)
    language: str = Field(max_length=10)
    checksum: str = Field(max_length=64)
    size: int
    path: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportDelivery(SQLModel, table=True):
    """The e-mail of one report to one user, with its tries.

    `round` counts forced re-sends: the first delivery of a report to a user is round 0 and
    the unique key (report, user, round) keeps a re-run from sending it twice; `--resend`
    adds the next round.
    """

    __tablename__ = "report_delivery"
    __table_args__ = (UniqueConstraint("report_id", "user_id", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", ondelete="CASCADE", index=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    round: int = 0
    address: str = Field(max_length=254)
    state: DeliveryState = Field(sa_column=Column(String(10), nullable=False, index=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
