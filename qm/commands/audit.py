"""`qm audit verify`: check that no audit-log entry was changed or deleted."""

import sys
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@pass_settings
def verify(settings: "Settings") -> None:
    """Walk the audit log's hash chain. Prints OK with the number of entries checked, or
    the first broken link (entry id and what is wrong) and exits with status 1."""
    from sqlmodel import Session

    from qm.domain.audit import verify_chain

    with open_engine(settings) as engine, Session(engine) as session:
        report = verify_chain(session)

    def entries(n: int) -> str:
        return f"{n} entry" if n == 1 else f"{n} entries"

    if report.unchained:
        where = (
            f"before entry {report.first_chained_id}"
            if report.first_chained_id is not None
            else "no chained entries yet"
        )
        click.echo(f"Unchained: {entries(report.unchained)} from an earlier version ({where}).")
    if report.ok:
        click.echo(f"OK: {entries(report.checked)} of the chain verified.")
        return
    click.secho(
        f"BROKEN at entry {report.broken_id}: {report.problem}. "
        f"({entries(report.checked)} before it verified.)",
        fg="red",
        err=True,
    )
    sys.exit(1)
