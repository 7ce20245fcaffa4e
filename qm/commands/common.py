"""Helpers shared by the subcommands.

Command modules import only click at their top and the rest inside the command, so that
`qm --help` does not load the database, web and scoring libraries.
"""

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from qm.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


class SettingsContext:
    """The `qm` group's context object: settings read once, on first use (so `--help` and
    commands that need none never read them)."""

    def __init__(self, settings_file: Path | None) -> None:
        self.settings_file = settings_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> "Settings":
        """The settings of this invocation.

        Raises:
            click.ClickException: the environment or settings file holds a bad value.
        """
        if self._settings is None:
            from qm.settings import load_settings

            try:
                self._settings = load_settings(self.settings_file)
            except (ValueError, FileNotFoundError) as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings


def pass_settings(command: "Callable[Concatenate[Settings, P], R]") -> Callable[P, R]:
    """Decorate a command function to receive this invocation's `Settings` first."""

    @functools.wraps(command)
    def with_settings(*args: P.args, **kwargs: P.kwargs) -> R:
        context = click.get_current_context().ensure_object(SettingsContext)
        return command(context.settings, *args, **kwargs)

    return with_settings


@contextmanager
def open_engine(settings: "Settings", *, require_schema: bool = True) -> "Iterator[Engine]":
    """The database engine, refusing to work on a database `qm init` has not prepared."""
    from qm import migrate
    from qm.db import make_engine

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
