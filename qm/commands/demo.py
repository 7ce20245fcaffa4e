"""`qm demo`: build the demo database, run the pipeline, serve the app."""

import click

from qm import migrate
from qm.commands.process import print_report
from qm.commands.serve import serve_app
from qm.db import make_engine


@click.command()
@click.option("--host", default=None, help="Interface to bind (default: QM_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: QM_PORT, 8000).")
@click.option("--no-serve", is_flag=True, help="Build and process, then exit without serving.")
@click.pass_obj
def demo(obj: object, host: str | None, port: int | None, no_serve: bool) -> None:
    """Set up the Harper Valley demo (once), process it, and serve the web app.

    A second run reuses the database it finds and only runs what is still pending.
    """
    from qm.domain import demo as demo_data
    from qm.domain.pipeline import process_pending

    settings = obj.settings  # type: ignore[attr-defined]
    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
        if demo_data.is_built(engine):
            click.echo(f"Reusing the demo database at {settings.database_url}.")
            logins = demo_data.demo_logins(engine)
        else:
            click.echo("Building the demo database from the Harper Valley calls ...")
            logins = demo_data.build_demo(engine, settings.demo_dir)
        report = process_pending(engine, settings, asr_fallback=True)
        print_report(report)
    finally:
        engine.dispose()
    host = host or settings.host
    port = port or settings.port
    click.echo("")
    click.secho(f"QM demo: http://{host}:{port}/", bold=True)
    click.echo("Demo logins (username / password, role):")
    for login in logins:
        who = f" -> agent {login.agent_id}" if login.agent_id else ""
        click.echo(f"  {login.username:<9} / {login.password:<14} {login.role.value}{who}")
    if no_serve:
        return
    click.echo("Press Ctrl-C to stop.")
    serve_app(settings, host, port)
