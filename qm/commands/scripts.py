"""`qm script`: load scripts (versioned) and assign them to queues."""

from pathlib import Path

import click

from qm.commands.common import open_engine
from qm.db import session_scope
from qm.errors import QMError


@click.group(name="script")
def script_group() -> None:
    """Manage call scripts (DESIGN.md's YAML/JSON format)."""


@script_group.command(name="load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--queue", "queues", multiple=True, help="Check calls of this queue with it (repeatable)."
)
@click.pass_obj
def load(obj: object, path: Path, queues: tuple[str, ...]) -> None:
    """Validate and store a script file as a new version; optionally assign it to queues."""
    from qm.domain import scripts

    settings = obj.settings  # type: ignore[attr-defined]
    with open_engine(settings) as engine:
        try:
            with session_scope(engine) as session:
                row = scripts.load_script_file(session, path, actor="cli")
                for queue in queues:
                    scripts.assign_to_queue(session, row.key, queue, actor="cli")
                key, version = row.key, row.version
        except QMError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Script {key} is at version {version}.")
    for queue in queues:
        click.echo(f"Queue {queue} now uses {key}.")
