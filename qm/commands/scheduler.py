"""`qm scheduler`: run the periodic jobs (monthly reports, review sampling, e-mail retries)."""

from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command(name="scheduler")
@click.option(
    "--once", is_flag=True, help="Run what is due now (a missed monthly run too) and exit."
)
@pass_settings
def scheduler_command(settings: "Settings", once: bool) -> None:
    """Run the scheduler until interrupted (Ctrl-C or SIGTERM).

    Monthly reports and review sampling run on the 1st at QM_REPORT_DAY_TIME (site time)
    for the month just ended; failed e-mails are retried every few minutes. Only one
    process runs the jobs at a time: a second `qm scheduler`, or a web worker with
    QM_SCHEDULER_ENABLED, waits and takes over when this one stops.
    """
    import signal
    import threading

    from qm.db import session_scope
    from qm.domain.report_rendering import PdfRenderer
    from qm.domain.schedule import release_lease, take_lease
    from qm.scheduler import LEASE_TTL, run_due, service_for, utcnow

    with open_engine(settings) as engine:
        service = service_for(engine, settings, PdfRenderer(settings))
        if once:
            now = utcnow()
            with session_scope(engine, immediate=True) as session:
                free = take_lease(session, holder=service.ctx.holder, now=now, ttl=LEASE_TTL)
            if not free:
                raise click.ClickException("another process is running the scheduler")
            try:
                ran = run_due(service.ctx, now)
            finally:
                with session_scope(engine, immediate=True) as session:
                    release_lease(session, holder=service.ctx.holder)
            click.echo(f"ran: {', '.join(ran) or 'nothing was due'}")
            return
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        service.start()
        click.echo(f"scheduler running as {service.ctx.holder}; Ctrl-C stops it")
        try:
            while not stopped.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            service.stop()
        click.echo("scheduler stopped")
