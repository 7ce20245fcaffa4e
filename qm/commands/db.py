"""`qm init`: create or upgrade the database schema."""

from typing import TYPE_CHECKING

import click

from qm.commands.common import pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command()
@pass_settings
def init(settings: "Settings") -> None:
    """Create or upgrade the database schema (Alembic migrations) at QM_DATABASE_URL."""
    from qm import migrate
    from qm.db import make_engine

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
