"""`qm training`: training plans from repeated gaps."""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


@click.command()
@click.option("--period", required=True, help="Calendar month YYYY-MM in QM_TIMEZONE.")
@click.option("--agent", "agent_id", default=None, help="Only this agent.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per assignment per line.")
@click.option(
    "--catalog",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Module catalog YAML (default: the site's, as edited on /admin/training).",
)
@click.option(
    "--miss-rate",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Assign training when a key point is missed on at least this share of calls.",
)
@click.option(
    "--min-calls",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Fewest calls (or observations) a gap must rest on.",
)
@click.option(
    "--due-days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Days after the period's end an assignment is due.",
)
@pass_settings
def training(
    settings: "Settings",
    period: str,
    agent_id: str | None,
    as_json: bool,
    catalog: Path | None,
    miss_rate: float,
    min_calls: int,
    due_days: int,
) -> None:
    """Turn the period's repeated gaps (missed key points, metrics off target,
    failed mystery-shopper items) into module assignments ordered by frequency x
    impact, store them (status kept across runs) and show each criterion's follow-up
    on later calls.
    """
    from qm.db import session_scope
    from qm.domain.targets import scorecard_config
    from qm.domain.training import build_training_plan
    from scoring.training import TrainingRules, load_catalog

    try:
        # Without --catalog, the plan uses the site's catalog (edited on /admin/training).
        modules = load_catalog(catalog) if catalog is not None else None
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"{catalog}: {exc}") from exc
    rules = TrainingRules(miss_rate=miss_rate, min_calls=min_calls)
    # It reads and then writes: take the SQLite write lock from the start (see qm.db).
    with open_engine(settings) as engine, session_scope(engine, immediate=True) as session:
        config = scorecard_config(session, settings)
        entries = build_training_plan(
            session,
            period,
            tz=settings.tz,
            catalog=modules,
            rules=rules,
            config=config,
            agent_id=agent_id,
            due_days=due_days,
        )
    if not entries:
        click.echo(f"No training needs found for {period}.")
        return
    for entry in entries:
        stored = entry.stored
        data = entry.assignment.to_dict() | {
            "id": stored.id,
            "period": stored.period,
            "status": stored.status,
            "due_date": stored.due_date.isoformat(),
            "follow_up": [
                {
                    "criterion": f.criterion,
                    "before": f.before.to_dict(),
                    "after": f.after.to_dict(),
                    "change": f.change,
                }
                for f in entry.followups
            ],
        }
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
            continue
        click.echo(
            f"#{stored.id} {stored.agent_id}: {entry.assignment.module.title} "
            f"[{stored.status}, due {stored.due_date}, priority {data['priority']:.2f}]"
        )
        for gap, f in zip(entry.assignment.gaps, entry.followups, strict=True):
            click.echo(
                f"    {gap.criterion}: {gap.evidence}; "
                f"follow-up {_pct(f.before.value)} (n={f.before.n}) -> "
                f"{_pct(f.after.value)} (n={f.after.n})"
            )


@click.command(name="training-status")
@click.argument("assignment_id", type=int)
@click.argument("status", type=click.Choice(["assigned", "acknowledged", "completed"]))
@click.option("--actor", required=True, help="Who made the change (agent or manager user name).")
@pass_settings
def training_status(settings: "Settings", assignment_id: int, status: str, actor: str) -> None:
    """Move training assignment ASSIGNMENT_ID (the #id `qm training` prints) to STATUS.

    The change is written to the audit log; `qm training` keeps it on later runs.
    """
    from sqlmodel import Session

    from qm.domain.training import set_status
    from qm.models import TrainingStatus

    with open_engine(settings) as engine, Session(engine) as session:
        stored = set_status(session, assignment_id, TrainingStatus(status), actor=actor)
        session.commit()
        click.echo(f"#{stored.id} {stored.agent_id}: {stored.module_title} is now {stored.status}.")
