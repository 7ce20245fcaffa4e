"""`qm worker`: run the pipeline's stages from the broker's queues (scale-out)."""

from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings

# qm.workers.QUEUES, named here so that `qm --help` does not import Celery.
QUEUE_NAMES = ("asr", "score")


def _queues(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in QUEUE_NAMES]
    if not names or unknown:
        raise click.BadParameter(f"choose from {', '.join(QUEUE_NAMES)} (comma-separated)")
    return names


@click.command()
@click.option(
    "--queues",
    default=",".join(QUEUE_NAMES),
    show_default=True,
    callback=_queues,
    help="Queues to take tasks from: asr (transcription), score (key points, metrics).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (one task each at a time).",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "solo"]),
    default="prefork",
    show_default=True,
    help="prefork: tasks run in child processes (a crash loses one task, not the worker);"
    " solo: in this process, one at a time (less overhead per task).",
)
@click.option(
    "--asr-fallback/--no-asr-fallback",
    default=False,
    help="Use pocketsphinx (low accuracy) when the Whisper model cannot be loaded.",
)
@click.option("--loglevel", default="INFO", show_default=True, help="Celery's log level.")
@pass_settings
def worker(
    settings: "Settings",
    queues: tuple[str, ...],
    concurrency: int,
    pool: str,
    asr_fallback: bool,
    loglevel: str,
) -> None:
    """Run pipeline stages queued by `qm process` (needs QM_BROKER_URL).

    Start one on each worker machine, with the same database and broker settings as the
    rest of the site; `--queues asr` on GPU machines, `--queues score` on CPU ones. Stop
    it with Ctrl-C (it finishes its tasks); a killed worker's tasks go to the others.
    """
    if not settings.broker_url:
        raise click.ClickException("QM_BROKER_URL is not set: workers take their tasks from it")
    # Refuse a database `qm init` has not prepared before any task is taken.
    with open_engine(settings):
        pass

    from qm.workers import run_worker

    run_worker(
        settings,
        queues=queues,
        concurrency=concurrency,
        pool=pool,
        asr_fallback=asr_fallback,
        loglevel=loglevel,
    )
