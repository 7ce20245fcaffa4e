"""`qm sample`: pick a month's calls for review; `qm sample rules`: the sampling rules."""

import json
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.domain.review_queue.sampling import SampleReport
    from qm.models import SamplingRule
    from qm.settings import Settings

# The names a rule's --reasons may list (qm.models.TargetReason; kept here so that
# `qm sample --help` does not import the models).
REASONS = (
    "critical-miss",
    "uncertain-keypoints",
    "forbidden-phrase",
    "low-courtesy",
    "handle-time",
    "transfer",
    "repeat-contact",
    "new-agent",
)


@click.group(name="sample", invoke_without_command=True)
@click.option("--period", default=None, help="Calendar month YYYY-MM in QM_TIMEZONE.")
@click.option("--seed", type=int, default=None, help="Makes the random draw reproducible.")
@click.option(
    "--today",
    default=None,
    help="The run's day YYYY-MM-DD, from which due dates count (default: today).",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def sample_group(
    ctx: click.Context, period: str | None, seed: int | None, today: str | None, as_json: bool
) -> None:
    """Pick the calls of a month for review and assign them to reviewers.

    Per agent: N random calls, plus targeted ones (critical miss, uncertain key points,
    forbidden phrase, low courtesy, handle time outside the queue's band, transfer,
    repeat contact, new agent), as the sampling rules say; a site without rules uses
    the built-in one (docs/review-queue.md). Running it again for the same month only
    adds what is missing. Prints the picks per reviewer and per reason.
    """
    if ctx.invoked_subcommand is not None:
        return
    if period is None:
        raise click.UsageError("Missing option '--period'.", ctx)
    _run(period=period, seed=seed, today=today, as_json=as_json)


@pass_settings
def _run(
    settings: "Settings", period: str, seed: int | None, today: str | None, as_json: bool
) -> None:
    from datetime import date, datetime

    from qm.db import session_scope
    from qm.domain.review_queue.sampling import sample_period
    from scoring.period import Period

    try:
        month = Period.parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    try:
        day = date.fromisoformat(today) if today else datetime.now(settings.tz).date()
    except ValueError as exc:
        raise click.BadParameter(f"{today!r} is not YYYY-MM-DD", param_hint="--today") from exc
    # The run reads the month, then writes picks: hold SQLite's write lock from the start.
    with open_engine(settings) as engine, session_scope(engine, immediate=True) as session:
        report = sample_period(
            session, period=month, today=day, seed=seed, tz=settings.tz, actor="cli"
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    for line in describe(report):
        click.echo(line)


def describe(report: "SampleReport") -> list[str]:
    """The report as lines: totals, then picks per reviewer and per reason."""
    lines = [
        f"{report.period}: {len(report.created)} new pick(s), {len(report.picks)} in all, "
        f"from {report.candidates} call(s) whose pipeline is done; {report.rules} rule(s)."
    ]
    for title, total, new in (
        ("Per reviewer", report.by_reviewer(), report.by_reviewer(new_only=True)),
        ("Per reason", report.by_reason(), report.by_reason(new_only=True)),
    ):
        if not total:
            continue
        lines.append(f"{title}:")
        width = max(len(k or "(unassigned)") for k in total)
        for key, count in sorted(total.items(), key=lambda kv: (-kv[1], kv[0])):
            name = key or "(unassigned)"
            lines.append(f"  {name:<{width}}  {count:>4}  ({new[key]} new)")
    return lines


@sample_group.group(name="rules")
def rules_group() -> None:
    """The sampling rules, one per scope (a team, a queue, both, or the whole site)."""


def _rule_json(rule: "SamplingRule", reviewers: list[str]) -> dict[str, object]:
    return {
        "id": rule.id,
        "team_id": rule.team_id,
        "queue": rule.queue,
        "random_per_agent": rule.random_per_agent,
        "reasons": list(rule.reasons),
        "targeted_per_agent": rule.targeted_per_agent,
        "low_courtesy_below": rule.low_courtesy_below,
        "reviewers": reviewers,
        "assignment": str(rule.assignment),
        "due_days": rule.due_days,
        "active": rule.active,
    }


def _rule_line(rule: "SamplingRule", reviewers: list[str]) -> str:
    scope = ", ".join(
        part
        for part in (
            f"team {rule.team_id}" if rule.team_id else "",
            f"queue {rule.queue}" if rule.queue else "",
        )
        if part
    )
    return (
        f"{rule.id}: {scope or 'whole site'}: {rule.random_per_agent} random + up to "
        f"{rule.targeted_per_agent} targeted per agent "
        f"({', '.join(rule.reasons) or 'no reasons'}); "
        f"reviewers {', '.join(reviewers) or 'all'} ({rule.assignment}); "
        f"due in {rule.due_days} days; low courtesy below {rule.low_courtesy_below:.0%}"
        + ("" if rule.active else "; OFF")
    )


@rules_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule per line.")
@pass_settings
def list_rules_command(settings: "Settings", as_json: bool) -> None:
    """Show the sampling rules (or say that the built-in rule applies)."""
    from sqlmodel import Session

    from qm.domain.review_queue.rules import list_rules, reviewer_names

    with open_engine(settings) as engine, Session(engine) as session:
        rows = [(rule, reviewer_names(session, rule)) for rule in list_rules(session)]
    if not rows and not as_json:
        click.echo("No sampling rules: the built-in rule applies (docs/review-queue.md).")
    for rule, reviewers in rows:
        if as_json:
            click.echo(json.dumps(_rule_json(rule, reviewers), ensure_ascii=False))
        else:
            click.echo(_rule_line(rule, reviewers))


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@rules_group.command(name="set")
@click.option("--team", default=None, help="Scope: this team's agents.")
@click.option("--queue", default=None, help="Scope: this queue's calls.")
@click.option(
    "--random",
    "random_per_agent",
    type=int,
    default=2,
    show_default=True,
    help="Random calls per agent per month.",
)
@click.option(
    "--targeted",
    "targeted_per_agent",
    type=int,
    default=5,
    show_default=True,
    help="At most this many targeted calls per agent per month.",
)
@click.option(
    "--reasons",
    default=",".join(REASONS),
    show_default=True,
    help="Comma-separated targeted reasons; 'none' for none.",
)
@click.option("--reviewers", default="", help="Comma-separated usernames (default: all reviewers).")
@click.option(
    "--assignment",
    type=click.Choice(["round_robin", "by_load"]),
    default="round_robin",
    show_default=True,
)
@click.option(
    "--due-days", type=int, default=7, show_default=True, help="Days from the run to the due date."
)
@click.option(
    "--low-courtesy-below",
    type=float,
    default=0.6,
    show_default=True,
    help="Courtesy score (0-1) under which a call is picked.",
)
@click.option("--off", is_flag=True, help="Keep the rule but stop sampling its scope.")
@pass_settings
def set_rule_command(
    settings: "Settings",
    team: str | None,
    queue: str | None,
    random_per_agent: int,
    targeted_per_agent: int,
    reasons: str,
    reviewers: str,
    assignment: str,
    due_days: int,
    low_courtesy_below: float,
    off: bool,
) -> None:
    """Create or replace the rule of a scope (no --team and no --queue: the whole site)."""
    from qm.db import session_scope
    from qm.domain.review_queue.rules import RuleInput, reviewer_names, store_rule

    data = RuleInput(
        team_id=team,
        queue=queue,
        random_per_agent=random_per_agent,
        reasons=[] if reasons.strip() == "none" else _names(reasons),
        targeted_per_agent=targeted_per_agent,
        low_courtesy_below=low_courtesy_below,
        reviewers=_names(reviewers),
        assignment=assignment,
        due_days=due_days,
        active=not off,
    )
    with open_engine(settings) as engine, session_scope(engine) as session:
        rule = store_rule(session, data=data, actor="cli")
        line = _rule_line(rule, reviewer_names(session, rule))
    click.echo(line)
