"""`qm queue`: per-queue script, FCR window and handle-time band."""

from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings
from qm.domain.bounds import MAX_AHT_SECONDS, MAX_FCR_WINDOW_DAYS

if TYPE_CHECKING:
    from qm.models import Queue
    from qm.settings import Settings


@click.group(name="queue")
def queue_group() -> None:
    """Per-queue settings used by the pipeline and the scorecards."""


@queue_group.command(name="set")
@click.argument("queue")
@click.option(
    "--script", "script_key", default=None, help="Script id checked on this queue's calls."
)
@click.option(
    "--fcr-window-days",
    type=click.IntRange(1, MAX_FCR_WINDOW_DAYS),
    default=None,
    help="Repeat-contact window for FCR (days).",
)
@click.option(
    "--aht-min",
    type=click.FloatRange(min=0, max=MAX_AHT_SECONDS),
    default=None,
    help="Shortest acceptable handle time (s).",
)
@click.option(
    "--aht-max",
    type=click.FloatRange(min=0, max=MAX_AHT_SECONDS),
    default=None,
    help="Longest acceptable handle time (s).",
)
@click.option(
    "--no-aht-band",
    "clear_band",
    is_flag=True,
    help="Remove the handle-time band (then --aht-min/--aht-max, if given, set it again).",
)
@pass_settings
def set_queue(
    settings: "Settings",
    queue: str,
    script_key: str | None,
    fcr_window_days: int | None,
    aht_min: float | None,
    aht_max: float | None,
    clear_band: bool,
) -> None:
    """Change the settings given for QUEUE; the others stay as they are."""
    from qm.db import session_scope
    from qm.domain.queues import configure_queue

    with open_engine(settings) as engine, session_scope(engine) as session:
        row = configure_queue(
            session,
            queue,
            actor="cli",
            script_key=script_key,
            fcr_window_days=fcr_window_days,
            aht_min_seconds=aht_min,
            aht_max_seconds=aht_max,
            clear_handle_band=clear_band,
        )
        line = _describe(row)
    click.echo(line)


@queue_group.command(name="list")
@pass_settings
def list_queue_settings(settings: "Settings") -> None:
    """Show every queue's settings."""
    from sqlmodel import Session

    from qm.domain.queues import list_queues

    with open_engine(settings) as engine, Session(engine) as session:
        for row in list_queues(session):
            click.echo(_describe(row))


def _describe(q: "Queue") -> str:
    low = "-" if q.aht_min_seconds is None else f"{q.aht_min_seconds:g}"
    high = "-" if q.aht_max_seconds is None else f"{q.aht_max_seconds:g}"
    return (
        f"{q.id}: script {q.script_key or '-'}, FCR window {q.fcr_window_days} d, "
        f"handle-time band {low}..{high} s"
    )
