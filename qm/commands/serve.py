"""`qm serve`: the web app."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import SettingsContext, open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


def serve_app(
    settings: "Settings",
    host: str,
    port: int,
    *,
    workers: int = 1,
    settings_file: Path | None = None,
) -> None:
    """Serve the app with uvicorn until interrupted.

    With several workers each process builds its own app from the environment and the
    settings file (`qm.app.app_from_environment`), so they all run with the same settings;
    they share sessions, sign-in throttling and work claims through the database (or
    Redis), never through memory.
    """
    import uvicorn

    settings.check_production()
    if workers <= 1:
        from qm.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    if settings_file is not None:
        os.environ["QM_SETTINGS_FILE"] = str(settings_file)
    uvicorn.run(
        "qm.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@click.command()
@click.option("--host", default=None, help="Interface to bind (default: QM_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: QM_PORT, 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Web processes; about one per CPU core serves concurrent users fastest.",
)
@pass_settings
def serve(settings: "Settings", host: str | None, port: int | None, workers: int) -> None:
    """Start the web app (reviewer UI and JSON API)."""
    with open_engine(settings):
        pass  # refuse to start on a database without the current schema
    context = click.get_current_context().ensure_object(SettingsContext)
    serve_app(
        settings,
        host or settings.host,
        port or settings.port,
        workers=workers,
        settings_file=context.settings_file,
    )
