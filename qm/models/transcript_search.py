"""The full-text index over transcript segments, kept in step with the `segment` table.

SQLite: an FTS5 table with the `trigram` tokenizer (substring matching that works for
Chinese, which has no spaces between words), holding no copy of the text
(`content='segment'`), fed by triggers on `segment`. Every write to segments (the one door
is `qm.domain.stored_transcripts.replace_transcript`; purges delete rows, and cascades from
a deleted transcript or call delete them too) updates the index in the same transaction.

PostgreSQL: a `pg_trgm` GIN index on `segment.text`, which serves `ILIKE '%...%'`;
PostgreSQL keeps it in step by itself. The extension is created when missing (it is a
trusted extension from PostgreSQL 13: the database owner may create it); where it cannot
be, search still works, by a scan, and a warning says why.

Neither object is a SQLModel table, so both are made by `create_search_index`: from the
`after_create` event of the segment table (the `create_all` of tests) and from migration
0009. Alembic's comparison leaves them out (`is_search_object`, used by the migration
environment). A later migration that rebuilds `segment` in SQLite batch mode drops the
triggers with the old table: it must call `create_search_index` again afterwards.
"""

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError

from qm.models.transcripts import Segment

log = logging.getLogger(__name__)

FTS_TABLE = "segment_fts"
TRGM_INDEX = "ix_segment_text_trgm"
# The shortest text the trigram index can look up; shorter queries scan the segments.
MIN_INDEXED_LENGTH = 3

_SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "text, content='segment', content_rowid='id', tokenize='trigram')",
    # An external-content index must be told the old text of a row to forget it.
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON segment BEGIN
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON segment BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF text ON segment BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
    END""",
)
_SQLITE_DROP = (
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)
_TRGM_SCHEMA = sa.text(
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pg_trgm'"
)


def is_search_object(name: str | None, type_: str) -> bool:
    """Whether a reflected table or index is part of the search index (not a model's)."""
    if name is None:
        return False
    if type_ == "table":
        # FTS5 keeps its data in shadow tables named after the virtual table.
        return name == FTS_TABLE or name.startswith(f"{FTS_TABLE}_")
    return type_ == "index" and name == TRGM_INDEX


def _trgm_schema(conn: Connection) -> str | None:
    """The schema holding pg_trgm, creating the extension when it is missing."""
    schema: str | None = conn.execute(_TRGM_SCHEMA).scalar()
    if schema is not None:
        return schema
    # In `public` where there is one: an extension created in a schema of its own would
    # vanish with that schema (tests give each database a schema and drop it afterwards).
    target = conn.execute(
        sa.text(
            "SELECT coalesce((SELECT nspname FROM pg_namespace WHERE nspname = 'public'),"
            " current_schema())"
        )
    ).scalar_one()
    quoted = conn.dialect.identifier_preparer.quote_schema(target)
    try:
        with conn.begin_nested():
            conn.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {quoted}"))
    except DBAPIError as error:
        # No privilege, or another connection created it at the same moment.
        log.warning("could not create the pg_trgm extension: %s", error.orig)
    schema = conn.execute(_TRGM_SCHEMA).scalar()
    return schema


def create_search_index(conn: Connection) -> None:
    """Create the index and what keeps it in step, if missing (see the module docstring).

    On SQLite a new index is empty: `rebuild_search_index` fills it from existing rows.
    """
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE_CREATE:
            conn.exec_driver_sql(statement)
    elif conn.dialect.name == "postgresql":
        schema = _trgm_schema(conn)
        if schema is None:
            log.warning("transcript search runs without an index: pg_trgm is not available")
            return
        opclass = f"{conn.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON segment USING gin (text {opclass})"
        )


def rebuild_search_index(conn: Connection) -> None:
    """Index every stored segment afresh (SQLite; PostgreSQL's index needs no rebuild)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def compact_search_index(conn: Connection) -> None:
    """Rewrite the SQLite index without the entries of deleted segments.

    FTS5 forgets a deleted row by adding a deletion marker; the old entries (trigrams of
    the removed text) stay in the index's pages until segments merge. After an erasure
    or a retention purge, call this so that nothing of the removed text remains (with
    `secure_delete` on, the freed pages are zeroed). PostgreSQL needs nothing: a
    VACUUM removes dead index entries.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")


def drop_search_index(conn: Connection) -> None:
    """Remove the index and its triggers (the pg_trgm extension stays: others may use it)."""
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE_DROP:
            conn.exec_driver_sql(statement)
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def _after_segment_created(_table: sa.Table, connection: Connection, **_kw: Any) -> None:
    create_search_index(connection)


def _before_segment_dropped(_table: sa.Table, connection: Connection, **_kw: Any) -> None:
    # The FTS5 table refers to `segment` by name; dropping it first keeps drop_all clean.
    drop_search_index(connection)


event.listen(Segment.__table__, "after_create", _after_segment_created)  # type: ignore[attr-defined]
event.listen(Segment.__table__, "before_drop", _before_segment_dropped)  # type: ignore[attr-defined]
