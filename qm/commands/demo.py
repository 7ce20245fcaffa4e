"""`qm demo`: build the demo database, run the pipeline, serve the app."""

import time
from typing import TYPE_CHECKING

import click

from qm.commands.common import pass_settings
from qm.commands.process import print_report
from qm.commands.serve import serve_app

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command()
@click.option("--host", default=None, help="Interface to bind (default: QM_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: QM_PORT, 8000).")
@click.option("--no-serve", is_flag=True, help="Build and process, then exit without serving.")
@pass_settings
def demo(settings: "Settings", host: str | None, port: int | None, no_serve: bool) -> None:
    """Set up the demo (once), process it, and serve the web app.

    The demo holds the real Harper Valley bank calls and a generated bilingual call
    center (a Chinese telecom hotline and an English retail bank, six months of
    history), and the report archive the last month's PDFs, in Chinese and English;
    docs/demo.md says what is real and what is synthetic. Generated files go
    to QM_DEMO_DIR (default: a folder beside the SQLite database). A second run reuses
    the database it finds and only runs what is still pending.
    """
    from qm import migrate
    from qm.db import make_engine
    from qm.domain.demo import build
    from qm.domain.pipeline import process_parallel

    engine = make_engine(settings.database_url)
    started = time.monotonic()
    try:
        migrate.upgrade(engine)
        teams = build.load_teams()
        if build.is_built(engine):
            click.echo(f"Reusing the demo database at {settings.database_url}.")
            report = process_parallel(settings, jobs=0, asr_fallback=True)
            print_report(report)
        else:
            folder = settings.demo_folder()
            click.echo(f"Building the demo database (generated files in {folder}) ...")
            teams, generated = build.import_demo(engine, folder, teams=teams)
            click.echo(
                f"Imported {len(generated.contacts)} generated contacts in "
                f"{time.monotonic() - started:.0f} s; processing ..."
            )
            step = time.monotonic()
            # One worker process per core: the demo is the first thing a new user waits for.
            report = process_parallel(settings, jobs=0, asr_fallback=True)
            print_report(report)
            click.echo(
                f"Processed in {time.monotonic() - step:.0f} s; adding reviews and training ..."
            )
            build.finish_demo(engine, settings, teams, generated)
            click.echo(f"Built in {time.monotonic() - started:.0f} s.")
        month = build.last_month()
        if not build.has_reports(engine, month):
            step = time.monotonic()
            click.echo(f"Rendering the reports of {month} for the report archive ...")
            run = build.archive_reports(engine, settings, month)
            click.echo(f"Archived {len(run.reports)} report(s) in {time.monotonic() - step:.0f} s.")
            for skipped in run.skipped:
                click.echo(f"  not rendered: {skipped}")
        logins = build.demo_logins(teams)
    finally:
        engine.dispose()
    host = host or settings.host
    port = port or settings.port
    click.echo("")
    click.secho(f"QM demo: http://{host}:{port}/", bold=True)
    click.echo("Demo logins (username / password, role, language):")
    for login in logins:
        who = f" -> agent {login.agent_id}" if login.agent_id else ""
        teams_of = f" -> team {', '.join(login.teams)}" if login.teams else ""
        click.echo(
            f"  {login.username:<12} / {login.password:<14} {login.role.value:<8} "
            f"{login.language}{who}{teams_of}"
        )
    if no_serve:
        return
    click.echo("Press Ctrl-C to stop.")
    serve_app(settings, host, port)
