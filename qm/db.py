"""Database engine and sessions.

SQLite gets WAL, foreign keys and a busy timeout so that the web threads, the
scheduler and the CLI can share one file; PostgreSQL gets pre-ping.

Under WAL a plain (deferred) SQLite transaction that reads and then writes fails at
once with "database is locked" when another connection committed in between: its
snapshot is stale, and waiting (the busy timeout) cannot fix that. A transaction that
reads and then writes therefore starts with BEGIN IMMEDIATE, which takes the write lock
first (waiting up to the busy timeout for it): `session_scope(engine, immediate=True)`
or `write_engine(engine)`. Read-only work keeps plain BEGIN, so pages never queue
behind writers. On PostgreSQL the option changes nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from qm.domain.repeat_contacts import track_repeat_contacts

# Every session keeps the calls' repeat-contact flags current (see that module).
track_repeat_contacts()

# Execution option: start the transaction with BEGIN IMMEDIATE on SQLite.
IMMEDIATE = "qm_sqlite_immediate"
# Seconds a SQLite connection waits for another one's write lock before giving up.
SQLITE_BUSY_TIMEOUT = 30


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the SQLAlchemy engine for `url` with the pragmas this app relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let the driver's own transaction handling be replaced by explicit BEGIN, so
            # that a whole import is one transaction (pysqlite's legacy mode would not be).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (a replaced transcript, an erased customer) are overwritten with
            # zeros instead of lingering in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get(IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def is_sqlite(engine: Engine) -> bool:
    """True when `engine` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def write_engine(engine: Engine) -> Engine:
    """`engine` whose transactions take the SQLite write lock when they begin.

    For transactions that read and then write (see the module docstring). It shares the
    connection pool of `engine`.
    """
    return engine.execution_options(**{IMMEDIATE: True})


@contextmanager
def session_scope(engine: Engine, *, immediate: bool = False) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back otherwise.

    Args:
        engine: the database.
        immediate: take the SQLite write lock at the start (for a block that reads and
            then writes, when other processes may write meanwhile).
    """
    bind = write_engine(engine) if immediate else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
