"""Mystery-shopper results: test calls placed by the QA team with a known scenario."""

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class MysteryShop(SQLModel, table=True):
    """One shop: per item `yes`/`no`/`na`, keyed by script key-point or form-item id."""

    __tablename__ = "mystery_shop"

    id: str = Field(primary_key=True, max_length=128)
    agent_id: str = Field(foreign_key="agent.id", index=True)
    date: dt.date
    scenario: str = Field(default="", max_length=300)
    items: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    score: float | None = None
    comment: str = ""
    source: str = Field(default="", max_length=300)
    imported_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
