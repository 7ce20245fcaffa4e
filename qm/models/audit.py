"""The audit log: who changed what, when."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One recorded action. `actor` is a username, or "cli"/"system".

    Entries form a hash chain: `hash` covers this entry's fields and `prev_hash`, the
    `hash` of the entry before it, so that an edited or deleted entry breaks the chain.
    """

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=100)
    entity: str = Field(default="", max_length=50)
    entity_id: str = Field(default="", max_length=200)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)
