"""Call scripts, stored in DESIGN.md's format and versioned."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class Script(SQLModel, table=True):
    """One version of a script; `key` is the script's own `id` field."""

    __table_args__ = (UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, index=True)
    version: int
    name: str = Field(max_length=300)
    language: str = Field(max_length=10)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
