"""`qm process`: run the pending pipeline stages of imported calls."""

import logging
import sys
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.domain.pipeline import ProcessReport
    from qm.settings import Settings


def print_report(report: "ProcessReport") -> None:
    """Summarise a pipeline run, listing every failed call with its error."""

    def fmt(counts: dict[str, int]) -> str:
        return ", ".join(f"{stage} {n}" for stage, n in counts.items()) or "none"

    click.echo(
        f"Processed {report.calls} call(s). "
        f"Done: {fmt(report.done)}. Skipped: {fmt(report.skipped)}."
    )
    for warning in report.warnings:
        click.secho(f"WARNING: {warning}", fg="yellow", err=True)
    if report.failed:
        click.secho(f"{len(report.failed)} stage(s) failed:", fg="red", err=True)
        for call_id, stage, error in report.failed:
            click.echo(f"  {call_id} [{stage}] {error}", err=True)


@click.command()
@click.option("--call", "call_ids", multiple=True, help="Only this call id (repeatable).")
@click.option(
    "--asr-fallback/--no-asr-fallback",
    default=False,
    help="Use pocketsphinx (low accuracy) when the Whisper model cannot be loaded.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes to run at once; 0 means one per CPU core.",
)
@pass_settings
def process(settings: "Settings", call_ids: tuple[str, ...], asr_fallback: bool, jobs: int) -> None:
    """Run pending stages (transcribe, key points, metrics) for imported calls.

    Each stage's outcome is recorded per call. A failing call is recorded with a plain
    reason and an error id (the full error is logged to stderr under that id) and the
    others go on; running again resumes and retries failed stages. Several runs may work
    on one database at once: each call is claimed by one of them, and `--jobs N` starts
    N such runs as worker processes. Exits with status 1 when any stage failed.

    With QM_BROKER_URL set, the pending stages are queued for `qm worker` instead (see
    `qm status` for progress).
    """
    # Imported here: the pipeline pulls in the scoring and ASR libraries.
    from tqdm import tqdm

    from qm.domain.pipeline import WorkerFailed, process_parallel, unfinished_call_ids

    if not logging.getLogger().handlers:
        # Failed stages are logged with their traceback and error id: the operator's log.
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )

    if settings.broker_url:
        _enqueue(settings, list(call_ids) or None, jobs)
        return

    with open_engine(settings) as engine:
        wanted = list(call_ids) or None
        total = len(unfinished_call_ids(engine, wanted))
        show = sys.stderr.isatty() and total > 0

        with tqdm(total=total, unit="calls", file=sys.stderr, disable=not show) as bar:
            try:
                report = process_parallel(
                    settings,
                    jobs=jobs,
                    call_ids=wanted,
                    asr_fallback=asr_fallback,
                    progress=bar.update,
                )
            except WorkerFailed as exc:
                raise click.ClickException(f"{exc}; run `qm process` again to finish") from exc
    print_report(report)
    if report.failed:
        sys.exit(1)


def _enqueue(settings: "Settings", call_ids: list[str] | None, jobs: int) -> None:
    """Queue each unfinished call's next stage for the workers (QM_BROKER_URL)."""
    from kombu.exceptions import OperationalError

    from qm.workers import enqueue_pending, make_celery

    if jobs != 1:
        click.echo("QM_BROKER_URL is set: --jobs is ignored; start `qm worker`s instead.", err=True)
    with open_engine(settings) as engine:
        try:
            queued = enqueue_pending(make_celery(settings), engine, call_ids)
        except OperationalError as exc:
            raise click.ClickException(f"the broker does not answer: {exc}") from exc
    per_queue = ", ".join(f"{name} {n}" for name, n in queued.items())
    click.echo(
        f"Queued {sum(queued.values())} call(s) for the workers ({per_queue}); "
        "`qm status` shows their progress."
    )
