"""The prepared Core statements the stages and the runner share: the upserts of stage and
metrics rows, built once per table, column set and dialect.

The hot reads and writes of the pipeline are Core statements rather than ORM objects,
since building ORM objects cost more than the scoring itself; each module keeps the
statements only it sends beside the code that sends them.
"""

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from qm.models import CallMetrics, CallStage


def table_of(model: Any) -> sa.Table:
    """The Core table of a SQLModel table class."""
    table: sa.Table = model.__table__
    return table


STAGE_ROWS = table_of(CallStage)
METRICS = table_of(CallMetrics)

# A new metrics row: what `CallMetrics(call_id=...)` holds before a stage fills it in.
NEW_METRICS: dict[str, Any] = {
    "handle_seconds": None,
    "transferred": None,
    "compliance": None,
    "critical_failed": None,
    "uncertain_items": 0,
    "courtesy": None,
    "courtesy_score": None,
}


@functools.cache
def upsert(dialect: str, table: sa.Table, update: tuple[str, ...]) -> sa.Insert:
    """INSERT, or on a key conflict UPDATE the `update` columns (the stage table also
    counts the attempt): built once per table, column set and dialect."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    key = [c.name for c in table.primary_key] if table is METRICS else ["call_id", "stage"]
    changes: dict[str, Any] = {c: insert.excluded[c] for c in update}
    if table is STAGE_ROWS:
        changes["attempts"] = table.c.attempts + 1
    statement: sa.Insert = insert.on_conflict_do_update(index_elements=key, set_=changes)
    return statement
