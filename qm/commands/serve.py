"""`qm serve`: the web app."""

from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


def serve_app(settings: "Settings", host: str, port: int) -> None:
    """Serve the app with uvicorn until interrupted (one worker: the scheduler lives here)."""
    import uvicorn

    from qm.app import create_app

    settings.check_production()
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="info")


@click.command()
@click.option("--host", default=None, help="Interface to bind (default: QM_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: QM_PORT, 8000).")
@pass_settings
def serve(settings: "Settings", host: str | None, port: int | None) -> None:
    """Start the web app (reviewer UI and JSON API)."""
    with open_engine(settings):
        pass  # refuse to start on a database without the current schema
    serve_app(settings, host or settings.host, port or settings.port)
