"""`qm status`: where the pipeline stands (per-stage counts, queue depths)."""

from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command()
@pass_settings
def status(settings: "Settings") -> None:
    """Show per stage how many calls are pending, done, skipped and failed, and how many
    it finished per minute over the last 5 minutes; with QM_BROKER_URL set, how many tasks
    wait in each queue."""
    from qm.domain.pipeline.progress import RECENT, stage_counts

    with open_engine(settings) as engine:
        counts = stage_counts(engine)
    minutes = RECENT.total_seconds() / 60
    click.echo(
        f"{'stage':<12}{'pending':>10}{'done':>10}{'skipped':>10}{'failed':>10}{'per min':>10}"
    )
    for row in counts:
        click.echo(
            f"{row.stage.value:<12}{row.pending:>10}{row.done:>10}{row.skipped:>10}"
            f"{row.failed:>10}{row.recent / minutes:>10.0f}"
        )
    if not settings.broker_url:
        click.echo("No broker (QM_BROKER_URL): `qm process` runs the stages itself.")
        return
    from kombu.exceptions import OperationalError

    from qm.workers import make_celery, queue_depths

    try:
        depths = queue_depths(make_celery(settings))
    except OperationalError as exc:
        raise click.ClickException(f"the broker does not answer: {exc}") from exc
    for name, depth in depths.items():
        click.echo(f"queue {name}: {depth} task(s) waiting")
