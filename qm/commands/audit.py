"""`qm audit verify`: check that no audit-log entry was changed or deleted."""

import sys

import click

from qm.commands.common import open_engine


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.pass_obj
def verify(obj: object) -> None:
    """Walk the audit log's hash chain. Prints OK with the number of entries checked, or
    the first broken link (entry id and what is wrong) and exits with status 1."""
    from sqlmodel import Session

    from qm.domain.audit import verify_chain

    settings = obj.settings  # type: ignore[attr-defined]
    with open_engine(settings) as engine, Session(engine) as session:
        report = verify_chain(session)
    if report.unchained:
        where = (
            f"before entry {report.first_chained_id}"
            if report.first_chained_id is not None
            else "no chained entries yet"
        )
        click.echo(
            f"{report.unchained} entries written by an earlier version are unchained ({where})."
        )
    if report.ok:
        click.echo(f"OK: {report.checked} chained entries verified.")
        return
    click.secho(
        f"BROKEN at entry {report.broken_id}: {report.problem}. "
        f"({report.checked} entries before it verified.)",
        fg="red",
        err=True,
    )
    sys.exit(1)
