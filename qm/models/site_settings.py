"""Settings an admin edits in the browser: targets, composite weights, the training catalog."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow

SITE_SCOPE = ""  # the scope of a site-wide setting; a team's is "team:<team id>"


class SiteSetting(SQLModel, table=True):
    """One named setting for the site or one team, its value as JSON.

    The value's shape belongs to the domain module that reads it (`qm.domain.targets`,
    `qm.domain.training_catalog`); one row per name and scope, rewritten in place (the
    audit log keeps every earlier value).
    """

    __tablename__ = "site_setting"

    name: str = Field(max_length=64, primary_key=True)
    scope: str = Field(default=SITE_SCOPE, max_length=80, primary_key=True)
    value: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
