"""`qm scorecard`: monthly agent scorecards."""

import json
from datetime import datetime
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command()
@click.option("--period", required=True, help="Calendar month YYYY-MM in QM_TIMEZONE.")
@click.option("--agent", "agent_id", default=None, help="Only this agent.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per agent per line.")
@click.option(
    "--as-of",
    default=None,
    help="ISO-8601 time up to which repeat contacts are known (default: the latest call).",
)
@click.option(
    "--fcr-window-days",
    type=click.IntRange(min=1),
    default=None,
    help="FCR repeat window for every queue (default: each queue's own, else 7).",
)
@click.option("--same-reason", is_flag=True, help="Only a repeat with the same reason counts.")
@pass_settings
def scorecard(
    settings: "Settings",
    period: str,
    agent_id: str | None,
    as_json: bool,
    as_of: str | None,
    fcr_window_days: int | None,
    same_reason: bool,
) -> None:
    """Print agent scorecards for a month: FCR, transfers, AHT, courtesy, script
    compliance and mystery-shopper results, each with n and a 95% interval, and the
    weighted composite. Agents below QM_MIN_CONTACTS are not ranked.
    """
    from sqlmodel import Session

    from qm.domain.imports.csvrows import parse_instant
    from qm.domain.scorecards import ScorecardRequest, compute_scorecards, describe
    from qm.domain.targets import scorecard_config
    from scoring.scorecard import Weights

    try:
        Weights(**settings.scorecard_weights)
    except TypeError as exc:
        raise click.ClickException(f"QM_SCORECARD_WEIGHTS: {exc}") from exc
    instant: datetime | None = None
    if as_of is not None:
        try:
            instant = parse_instant(as_of)
        except ValueError as exc:
            raise click.BadParameter(f"{as_of!r} is not ISO-8601", param_hint="--as-of") from exc
    request = ScorecardRequest(period, agent_id, instant, fcr_window_days, same_reason)
    with open_engine(settings) as engine, Session(engine) as session:
        # The composite weights an admin stored (/admin/targets), else QM_SCORECARD_WEIGHTS.
        config = scorecard_config(session, settings)
        cards = compute_scorecards(session, request, tz=settings.tz, config=config)
    if as_json:
        for card in cards:
            click.echo(json.dumps(card.to_dict(), ensure_ascii=False))
        return
    if not cards:
        click.echo(f"No calls in {period}.")
        return
    for line in describe(cards):
        click.echo(line)
