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


def test_0017_fills_repeat_flags_and_score_copies_for_stored_calls(db_url: str) -> None:
    """Calls stored before the monthly totals existed get their repeat flags, courtesy
    scores and the call's copies of both scores from the upgrade."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0016")
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO agent (id, name, created_at) VALUES ('a', '甲', '2026-01-01')")
            )
            conn.execute(sa.text("INSERT INTO customer (id, name) VALUES ('k', '客户')"))
            for call_id, day in (("c1", 1), ("c2", 3), ("c3", 20)):
                conn.execute(
                    sa.text(
                        "INSERT INTO call (id, agent_id, customer_id, started_at, source, "
                        "imported_at) VALUES (:id, 'a', 'k', :at, 'test', '2026-01-01')"
                    ),
                    {"id": call_id, "at": f"2026-03-{day:02d} 10:00:00"},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO call_metrics (call_id, compliance, uncertain_items, courtesy, "
                    "computed_at) VALUES ('c1', 0.75, 0, :courtesy, '2026-03-01')"
                ),
                {"courtesy": '{"polite_count": 1, "interruptions": 3}'},
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            calls = {
                row.id: row
                for row in conn.execute(
                    sa.text("SELECT id, repeat_contact, compliance, courtesy_score FROM call")
                )
            }
            # c2 came 2 days after c1 (within 7 days); nothing followed c2 or c3 in time.
            assert {k: bool(v.repeat_contact) for k, v in calls.items()} == {
                "c1": True,
                "c2": False,
                "c3": False,
            }
            assert calls["c1"].compliance == 0.75 and calls["c1"].courtesy_score == 0.5
            assert calls["c2"].compliance is None
            score = conn.execute(sa.text("SELECT courtesy_score FROM call_metrics")).scalar()
            assert score == 0.5  # polite (yes), interruptions 3 > 1 (no)
        migrate.check(engine)
    finally:
        engine.dispose()
