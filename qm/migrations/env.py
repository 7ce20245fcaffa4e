"""Alembic environment: the app's metadata, batch mode for SQLite, one connection from qm."""

from alembic import context
from sqlmodel import SQLModel

import qm.models  # noqa: F401  (registers every table)
from qm.db import make_engine
from qm.models.transcript_search import is_search_object

config = context.config
target_metadata = SQLModel.metadata

# Tables owned by other components (APScheduler's job store) are not ours to migrate.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave tables we do not own out of autogenerate and `alembic check`."""
    if is_search_object(name, type_):
        return False  # the full-text index: made by its own DDL, not by a model
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run_migrations() -> None:
    """Run migrations on the connection qm handed over, or on a new one from the URL."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
