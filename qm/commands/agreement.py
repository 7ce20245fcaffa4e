"""`qm agreement`: how often reviewers confirmed or overrode the machine, per item."""

import json
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command()
@click.option("--period", required=True, help="Calendar month YYYY-MM in QM_TIMEZONE.")
@click.option(
    "--sort",
    type=click.Choice(["agreement", "reviewed", "precision", "recall", "item"]),
    default="agreement",
    show_default=True,
    help="Worst first by this figure (most reviewed first for `reviewed`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_settings
def agreement(settings: "Settings", period: str, sort: str, as_json: bool) -> None:
    """Machine vs human for the calls that started in a month: per key point (reviewers'
    key-point decisions) and per form item (submitted standard evaluations), the reviews,
    confirmations and overrides, the agreement with its 95% interval, the machine's
    precision and recall against the reviewers, and whether to trust the item to
    automation.
    """
    from sqlmodel import Session

    from qm.domain.agreement import agreement_report
    from scoring.period import Period

    try:
        month = Period.parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    with open_engine(settings) as engine, Session(engine) as session:
        report = agreement_report(session, period=month, tz=settings.tz, sort=sort)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    if not report.rows:
        click.echo(f"No reviewed automatic answers on calls of {month}.")
        return
    click.echo(f"Machine vs human, calls of {month} ({settings.timezone})")
    click.echo(
        f"{'kind':<10} {'item':<28} {'n':>5} {'conf':>5} {'over':>5} "
        f"{'agree':>6} {'95% CI':>11} {'prec':>5} {'recall':>6}  verdict"
    )
    for row in report.rows:
        kind = "key point" if row.form is None else "form item"
        name = row.item_id if row.form is None else f"{row.form}/{row.item_id}"
        low, high = row.agreement.ci95 or (None, None)
        click.echo(
            f"{kind:<10} {name:<28} {row.reviewed:>5} {row.confirmed:>5} {row.overridden:>5} "
            f"{_pct(row.agreement.value):>6} {_pct(low) + '-' + _pct(high):>11} "
            f"{_pct(row.precision.value):>5} {_pct(row.recall.value):>6}  {row.verdict.text}"
        )


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"
