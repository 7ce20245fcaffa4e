"""`qm mystery`: mystery-shopper results."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.group(name="mystery")
def mystery_group() -> None:
    """Mystery-shopper results (test calls with a known scenario)."""


@mystery_group.command(name="import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@pass_settings
def import_shops(settings: "Settings", path: Path) -> None:
    """Import a mystery-shopper CSV; a bad row stores nothing of the file.

    Columns: shop_id, agent_id, date, scenario, optional score and comment, and one
    column per key-point id with yes, no or na.
    """
    from qm.domain.imports.mystery import ingest_mystery
    from qm.errors import ValidationFailed

    with open_engine(settings) as engine:
        try:
            report = ingest_mystery(engine, path)
        except ValidationFailed as exc:
            raise click.ClickException(f"{exc} — nothing from this file was stored.") from exc
    click.echo(
        f"Imported {report.rows} shop(s) from {report.file}: {report.created} new, "
        f"{report.updated} updated; items: {', '.join(report.items)}."
    )
