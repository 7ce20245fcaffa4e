"""The `qm` command. Each subcommand lives in `qm/commands/<name>.py`."""

from pathlib import Path

import click

from qm import __version__
from qm.settings import Settings, load_settings


class Context:
    """Lazily built settings shared by the subcommands of one invocation."""

    def __init__(self, settings_file: Path | None) -> None:
        self.settings_file = settings_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings, read once on first use (so `--help` never needs them)."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.settings_file)
            except (ValueError, FileNotFoundError) as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    ctx.obj = Context(settings_file)


def _register() -> None:
    # Imported here so that `qm --help` stays fast and each command module stays small.
    from qm.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register()
