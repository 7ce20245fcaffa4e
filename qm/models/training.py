"""Training assignments made from an agent's repeated gaps."""

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class TrainingStatus(StrEnum):
    """Where an assignment stands."""

    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"


class TrainingAssignment(SQLModel, table=True):
    """A catalog module assigned to an agent for the gaps found in one month."""

    __tablename__ = "training_assignment"
    __table_args__ = (UniqueConstraint("agent_id", "module_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agent.id", index=True)
    module_id: str = Field(max_length=100)
    module_title: str = Field(max_length=300)
    period: str = Field(max_length=7)
    # The gaps behind the assignment: criterion, rate, n, impact, evidence.
    criteria: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    priority: float = 0.0
    status: TrainingStatus = Field(
        default=TrainingStatus.ASSIGNED, sa_column=Column(String(20), nullable=False)
    )
    due_date: dt.date
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
