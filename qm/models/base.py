"""Shared column types and the metadata naming convention.

The naming convention must be set before any table is defined: SQLite batch
migrations can only drop or alter constraints that have names.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC and hands them back timezone-aware (UTC).

    SQLite has no time-zone type, so storing naive UTC everywhere keeps SQLite and
    PostgreSQL identical and comparisons correct.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where an instant is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        instant: datetime = value.replace(tzinfo=UTC)
        return instant


def utcnow() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)
