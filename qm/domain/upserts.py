"""Bulk writes shared by the importers and the pipeline: dialect-aware upserts."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert `rows`, updating `update` columns (or leaving the row alone) on a key conflict.

    The rows go as one executemany of a single cached statement: compiling a multi-row
    VALUES clause per batch cost more than the database work itself.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    conn.execute(stmt, list(rows))


def existing_ids(conn: Connection, column: sa.Column[Any], ids: Iterable[str]) -> set[str]:
    """The subset of `ids` already present in `column`."""
    wanted = list(ids)
    found: set[str] = set()
    for i in range(0, len(wanted), 900):
        chunk = wanted[i : i + 900]
        found.update(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
    return found
