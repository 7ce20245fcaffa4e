"""The `qm` command. Each subcommand lives in `qm/commands/<name>.py`."""

from pathlib import Path
from typing import Any

import click

from qm import __version__
from qm.commands.common import SettingsContext
from qm.errors import QMError


class QMGroup(click.Group):
    """The `qm` group: the one place that turns the project's errors into CLI errors
    (the message on stderr, exit status 1), so commands need not catch them."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, reporting a `QMError` as a `click.ClickException`."""
        try:
            return super().invoke(ctx)
        except QMError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=QMGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qm")
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Settings file of QM_* lines (default: $QM_SETTINGS_FILE, then ./qm.env).",
)
@click.pass_context
def cli(ctx: click.Context, settings_file: Path | None) -> None:
    """Quality management for call centers: ingest, transcribe, score and review calls."""
    ctx.obj = SettingsContext(settings_file)


def _register() -> None:
    from qm.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register()
