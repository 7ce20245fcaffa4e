"""The Alembic migrations build the same schema the models describe."""

import sqlalchemy as sa

from qm import migrate
from qm.db import make_engine


def test_upgrade_empty_database_to_head_without_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision(engine)
        migrate.check(engine)  # raises when models and migrations disagree
        tables = set(sa.inspect(engine).get_table_names())
        assert {"call", "agent", "transcript", "segment", "key_point_result"} <= tables
        migrate.upgrade(engine)  # a second run is a no-op
    finally:
        engine.dispose()


def test_sqlite_database_uses_wal_and_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
