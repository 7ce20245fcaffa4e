"""`qm retention run` and `qm erase`: remove recordings and transcripts, keep the scores."""

import sys
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.domain.privacy import PurgeResult, PurgeTarget
    from qm.settings import Settings

ACTOR = "cli"


def _finish(result: "PurgeResult", what: str) -> None:
    """After the commit: delete the recordings and say what went."""
    problems = result.delete_files()
    click.echo(
        f"{what}: removed the recordings and transcripts of {result.calls} call(s) "
        f"({result.transcripts} transcript(s), {len(result.files) - len(problems)} "
        f"recording file(s), {result.evidence} evidence excerpt(s)); scores are kept."
    )
    if problems:
        click.secho(
            f"{len(problems)} recording file(s) could not be deleted; remove them by hand:",
            fg="red",
            err=True,
        )
        for line in problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)


def _list(targets: "list[PurgeTarget]") -> None:
    for t in targets:
        audio = "recording" if t.audio_path else "no recording"
        started = f"{t.started_at:%Y-%m-%d}"
        click.echo(f"  {t.call_id}  started {started}  {audio}, {t.transcripts} transcript(s)")


@click.group("retention")
def retention_group() -> None:
    """Remove recordings and transcripts older than QM_RETENTION_DAYS."""


@retention_group.command("run")
@click.option(
    "--dry-run", is_flag=True, help="List the calls that would be purged; change nothing."
)
@pass_settings
def retention_run(settings: "Settings", dry_run: bool) -> None:
    """Remove the recordings, transcripts and evidence excerpts of calls that started more
    than QM_RETENTION_DAYS days ago. Scores (compliance, metrics, key-point hits) and the
    audit log stay. Safe to run daily: calls already purged are left alone."""
    from sqlmodel import Session

    from qm.db import session_scope
    from qm.domain.privacy import apply_retention, retention_cutoff, retention_targets

    days = settings.retention_days
    if days is None:
        raise click.UsageError(
            "QM_RETENTION_DAYS is not set, so nothing is ever past retention; set it to "
            "the number of days recordings and transcripts are kept (e.g. "
            "QM_RETENTION_DAYS=365) in the environment or the settings file"
        )
    cutoff = retention_cutoff(days)
    with open_engine(settings) as engine:
        if dry_run:
            with Session(engine) as session:
                targets = retention_targets(session, days=days)
            click.echo(
                f"Would remove the recordings and transcripts of {len(targets)} call(s) "
                f"started before {cutoff:%Y-%m-%d %H:%M} UTC ({days} days); nothing changed."
            )
            _list(targets)
            return
        with session_scope(engine, immediate=True) as session:
            result = apply_retention(session, days=days, actor=ACTOR)
    _finish(result, f"Retention ({days} days, started before {cutoff:%Y-%m-%d})")


@click.command("erase")
@click.option("--customer", "customer_id", required=True, help="The customer's id.")
@pass_settings
def erase(settings: "Settings", customer_id: str) -> None:
    """Erase a customer's personal data (right to erasure, GDPR / PIPL): the recordings,
    transcripts and evidence excerpts of their calls, and their name. Call records and
    scores stay; the audit log records who erased how many calls."""
    from qm.db import session_scope
    from qm.domain.privacy import ERASED_NAME, erase_customer
    from qm.errors import NotFound

    with open_engine(settings) as engine:
        try:
            with session_scope(engine, immediate=True) as session:
                result = erase_customer(session, customer_id, actor=ACTOR)
        except NotFound as exc:
            raise click.BadParameter(str(exc), param_hint="--customer") from exc
    _finish(result, f"Customer {customer_id} erased (name replaced by {ERASED_NAME!r})")
