"""`qm report monthly` and `qm report agent`: render the PDFs on demand (and send them)."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings
    from scoring.period import Period


def _period(text: str) -> "Period":
    from scoring.period import Period

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc


@click.group(name="report")
def report_group() -> None:
    """Monthly PDF reports: the team report for managers, the agent's scorecard."""


@report_group.command(name="monthly")
@click.option("--period", required=True, help="Calendar month YYYY-MM in QM_TIMEZONE.")
@click.option("--team", default=None, help="Only this team (default: every team).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the PDFs into this folder.",
)
@click.option("--send", is_flag=True, help="E-mail each team report to the team's managers.")
@click.option(
    "--resend", is_flag=True, help="With --send: e-mail even managers who already have it."
)
@pass_settings
def monthly_command(
    settings: "Settings",
    period: str,
    team: str | None,
    out: Path | None,
    send: bool,
    resend: bool,
) -> None:
    """Render the month's team reports (one per team, in each manager's language) and the
    scorecard PDFs of agents who sign in, and keep them in the report archive.

    With --send, each manager with an e-mail address gets their team's report, exactly as
    the scheduled job sends it; running it again sends nothing twice unless --resend.
    A send that fails is kept and retried with back-off by the scheduler.
    """
    import shutil

    from qm.domain.mail import SmtpMailer, archive_link
    from qm.domain.report_delivery import deliver_due, monthly_reports
    from qm.domain.report_rendering import PdfRenderer
    from qm.models import utcnow

    month = _period(period)
    if resend and not send:
        raise click.BadParameter("--resend needs --send", param_hint="--resend")
    mailer = SmtpMailer.from_settings(settings) if send else None
    if send and mailer is None:
        raise click.BadParameter(
            "--send needs an SMTP server: set QM_SMTP_HOST", param_hint="--send"
        )
    folder = settings.report_folder()
    with open_engine(settings) as engine:
        run = monthly_reports(
            engine,
            folder=folder,
            renderer=PdfRenderer(settings),
            period=month,
            default_language=settings.default_language,
            team_id=team,
            send=send,
            resend=resend,
        )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for report in run.reports:
                shutil.copyfile(folder / report.path, out / Path(report.path).name)
        for report in run.reports:
            click.echo(f"{report.kind} {report.subject} {report.language}: {folder / report.path}")
        for line in run.skipped:
            click.echo(f"skipped {line}")
        for name in run.no_address:
            click.echo(f"not sent to {name}: no e-mail address (qm users add --email)")
        if mailer is None:
            return
        click.echo(f"{len(run.queued)} e-mail(s) queued")
        sent = deliver_due(
            engine,
            folder=folder,
            mailer=mailer,
            sender=settings.smtp_from,
            archive_url=archive_link(settings),
            now=utcnow(),
            report_ids=[r.id for r in run.reports],
        )
    click.echo(f"{sent.sent} sent, {sent.failed} failed")
    for error in sent.errors:
        click.echo(f"failed: {error} (retried later by the scheduler)", err=True)
    if sent.failed:
        raise SystemExit(1)


@report_group.command(name="agent")
@click.option("--agent", "agent_id", required=True, help="The agent's id.")
@click.option("--period", required=True, help="Calendar month YYYY-MM in QM_TIMEZONE.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The PDF file."
)
@click.option(
    "--language",
    type=click.Choice(["zh-CN", "en"]),
    default=None,
    help="Default: the agent's own user's language, else QM_DEFAULT_LANGUAGE.",
)
@pass_settings
def agent_command(
    settings: "Settings", agent_id: str, period: str, out: Path, language: str | None
) -> None:
    """Render one agent's scorecard PDF for a month into a file."""
    from sqlmodel import Session, col, select

    from qm.domain.report_archive import language_tag
    from qm.domain.report_rendering import PdfRenderer
    from qm.models import Agent, User

    month = _period(period)
    with open_engine(settings) as engine, Session(engine) as session:
        if session.get(Agent, agent_id) is None:
            raise click.BadParameter(f"no agent {agent_id!r}", param_hint="--agent")
        if language is None:
            user = session.exec(select(User).where(col(User.agent_id) == agent_id)).first()
            language = user.language if user is not None else None
        tag = language_tag(language, settings.default_language)
        pdf = PdfRenderer(settings).agent_report(
            session, agent_id=agent_id, period=month, language=tag
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    click.echo(f"{out} ({len(pdf)} bytes, {tag})")
