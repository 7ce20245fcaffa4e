"""Writing to the audit log."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session

from qm.models import AuditEvent, utcnow


def record(
    target: Connection | Session,
    *,
    actor: str,
    action: str,
    entity: str = "",
    entity_id: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the audit log inside the caller's transaction."""
    values = {
        "at": utcnow(),
        "actor": actor[:100],
        "action": action,
        "entity": entity,
        "entity_id": entity_id[:200],
        "detail": detail,
    }
    stmt = sa.insert(AuditEvent.__table__).values(**values)  # type: ignore[attr-defined]
    target.execute(stmt)
