"""`qm init`: create or upgrade the database schema."""

import click

from qm import migrate
from qm.db import make_engine


@click.command()
@click.pass_obj
def init(obj: object) -> None:
    """Create or upgrade the database schema (Alembic migrations) at QM_DATABASE_URL."""
    settings = obj.settings  # type: ignore[attr-defined]
    engine = make_engine(settings.database_url)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"Schema is up to date (revision {after}).")
    else:
        click.echo(f"Schema upgraded from {before or 'empty'} to {after}.")
