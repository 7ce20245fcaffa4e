"""Helpers shared by the subcommands."""

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine

from qm import migrate
from qm.db import make_engine
from qm.settings import Settings


@contextmanager
def open_engine(settings: Settings, *, require_schema: bool = True) -> Iterator[Engine]:
    """The database engine, refusing to work on a database `qm init` has not prepared."""
    engine = make_engine(settings.database_url)
    try:
        if require_schema:
            current = migrate.current_revision(engine)
            head = migrate.head_revision(engine)
            if current is None:
                raise click.ClickException(
                    f"the database at {engine.url.render_as_string()} has no schema; "
                    "run `qm init` first"
                )
            if current != head:
                raise click.ClickException(
                    f"the database schema is at {current}, this version needs {head}; run `qm init`"
                )
        yield engine
    finally:
        engine.dispose()
