"""`qm script`: load scripts (versioned) and assign them to queues."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.group(name="script")
def script_group() -> None:
    """Manage call scripts (DESIGN.md's YAML/JSON format)."""


@script_group.command(name="load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="Check calls of this queue with it (repeatable); their calls are re-checked.",
)
@pass_settings
def load(settings: "Settings", path: Path, queues: tuple[str, ...]) -> None:
    """Validate and store a script file as a new version; optionally assign it to queues.

    The calls of each queue named are marked for re-checking with this version: their
    key points and metrics are computed again by the next `qm process` (results so far
    stay until then; reviewer overrides are kept).
    """
    from qm.db import session_scope
    from qm.domain import rechecks, scripts

    marked: dict[str, int] = {}
    # The write lock from the start: this reads, then writes the audit log and stages.
    with open_engine(settings) as engine, session_scope(engine, immediate=True) as session:
        row = scripts.load_script_file(session, path, actor="cli")
        for queue in queues:
            scripts.assign_to_queue(session, row.key, queue, actor="cli")
            session.flush()  # the queue exists before its calls are marked
            marked[queue] = rechecks.recheck_queue(session, queue=queue, actor="cli")
        key, version = row.key, row.version
    click.echo(f"Script {key} is at version {version}.")
    for queue, count in marked.items():
        click.echo(
            f"Queue {queue} now uses {key}: {count} call(s) marked for re-checking "
            f"with version {version}; `qm process` checks them."
        )
