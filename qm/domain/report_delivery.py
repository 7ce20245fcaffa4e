"""Monthly reports rendered, archived and e-mailed, with retries and no duplicates.

`monthly_reports` renders each team's report in the language of each of its managers
(and each agent user's own scorecard PDF), stores them in the archive and queues one
e-mail per manager; `deliver_due` sends what is queued or due for another try. Both the
`qm report monthly --send` command and the scheduler's monthly job do exactly this.

A re-run for the same month queues nothing for a manager who already has that report
(sent, or still being retried), unless `resend` asks for another round. A failed send is
kept with its error and tried again after a back-off that doubles (5 min, 10, 20 ...)
until MAX_ATTEMPTS; the archive page shows each state.
"""

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain.mail import Mailer, MailError, ReportMail, report_message
from qm.domain.report_archive import (
    ReportKey,
    file_name,
    language_tag,
    read_report,
    report_key,
    store_report,
)
from qm.errors import QMError, ValidationFailed
from qm.models import (
    Agent,
    DeliveryState,
    Report,
    ReportDelivery,
    ReportKind,
    Role,
    Team,
    User,
    UserTeam,
)
from scoring.period import Period

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=5)
# An e-mail being sent is left alone by other passes this long (then it counts as failed
# by a process that died, and is tried again).
SENDING_HOLD = timedelta(minutes=10)


class ReportRenderer(Protocol):
    """Renders the PDFs (the `reports` package over the database's figures)."""

    def team_report(
        self, session: Session, *, team_id: str, period: Period, language: str
    ) -> bytes:
        """The monthly team report of `team_id` for `period`, written in `language`."""

    def agent_report(
        self, session: Session, *, agent_id: str, period: Period, language: str
    ) -> bytes:
        """The scorecard PDF of `agent_id` for `period`, written in `language`."""


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report a run rendered and archived."""

    id: int
    kind: ReportKind
    subject: str  # the team's or the agent's id
    language: str
    path: str  # relative to the report folder


@dataclass
class MonthlyRun:
    """What one monthly run did."""

    period: Period
    reports: list[StoredReport] = field(default_factory=list)
    # E-mails queued by this run (ids of `ReportDelivery` rows).
    queued: list[int] = field(default_factory=list)
    # Managers who would have received a report but have no e-mail address.
    no_address: list[str] = field(default_factory=list)
    # Reports that could not be rendered (no data for an agent), with the reason.
    skipped: list[str] = field(default_factory=list)


@dataclass
class DeliveryRun:
    """What one pass over the queued e-mails did."""

    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Recipient:
    user_id: int
    username: str
    email: str | None
    language: str


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try (5 min, doubling)."""
    return FIRST_RETRY * (1 << max(attempts - 1, 0))


def _teams(session: Session, team_id: str | None) -> list[Team]:
    if team_id is None:
        return list(session.exec(select(Team).order_by(col(Team.id))).all())
    team = session.get(Team, team_id)
    if team is None:
        raise ValidationFailed("--team", None, "team", f"no team {team_id!r}")
    return [team]


def _managers(session: Session, team_id: str) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(UserTeam, col(UserTeam.user_id) == col(User.id))
            .where(
                col(UserTeam.team_id) == team_id,
                col(User.role) == Role.MANAGER,
                col(User.active).is_(True),
            )
            .order_by(col(User.username))
        ).all()
    )


def _store(engine: Engine, folder: Path, key: ReportKey, pdf: bytes, subject: str) -> StoredReport:
    with session_scope(engine, immediate=True) as session:
        report = store_report(session, folder=folder, key=key, pdf=pdf)
        assert report.id is not None
        return StoredReport(report.id, key.kind, subject, key.language, report.path)


def monthly_reports(
    engine: Engine,
    *,
    folder: Path,
    renderer: ReportRenderer,
    period: Period,
    default_language: str,
    team_id: str | None = None,
    send: bool = False,
    resend: bool = False,
) -> MonthlyRun:
    """Render and archive the month's reports, and queue their e-mails.

    A batch runner: each PDF is rendered in a read-only session and stored, with its
    e-mails queued, in a short transaction of its own, so that web requests never wait
    behind the rendering (SQLite has one writer at a time).

    Args:
        folder: the report folder.
        period: the month reported on.
        default_language: the language of a team report whose team has no manager, and of
            users who chose none.
        team_id: only this team (and its agents); all teams when None.
        send: queue an e-mail of the team report to each of its managers.
        resend: queue one even for managers who already have this month's report.

    Raises:
        ValidationFailed: `team_id` names no team.
    """
    run = MonthlyRun(period)
    with Session(engine) as session:
        teams = {
            team.id: [
                _Recipient(
                    m.id or 0, m.username, m.email, language_tag(m.language, default_language)
                )
                for m in _managers(session, team.id)
            ]
            for team in _teams(session, team_id)
        }
        agents = [
            (agent.id, agent.team_id, language_tag(user.language, default_language))
            for user, agent in session.exec(
                select(User, Agent)
                .join(Agent, col(Agent.id) == col(User.agent_id))
                .where(col(User.role) == Role.AGENT, col(User.active).is_(True))
                .where(col(Agent.team_id) == team_id if team_id is not None else sa.true())
                .order_by(col(Agent.id))
            ).all()
        ]
    for team, managers in teams.items():
        languages = {m.language for m in managers} or {language_tag(None, default_language)}
        for language in sorted(languages):
            with Session(engine) as session:
                pdf = renderer.team_report(session, team_id=team, period=period, language=language)
            stored = _store(
                engine, folder, ReportKey(ReportKind.TEAM, period, team, None, language), pdf, team
            )
            run.reports.append(stored)
            if not send:
                continue
            for manager in (m for m in managers if m.language == language):
                if not manager.email:
                    run.no_address.append(manager.username)
                    continue
                with session_scope(engine, immediate=True) as session:
                    report = session.get(Report, stored.id)
                    user = session.get(User, manager.user_id)
                    if report is None or user is None:
                        continue
                    delivery = queue_delivery(session, report=report, user=user, resend=resend)
                    if delivery is not None and delivery.id is not None:
                        run.queued.append(delivery.id)
    for agent_id, agent_team, language in agents:
        try:
            with Session(engine) as session:
                pdf = renderer.agent_report(
                    session, agent_id=agent_id, period=period, language=language
                )
        except QMError as exc:
            run.skipped.append(f"{agent_id}: {exc}")
            continue
        key = ReportKey(ReportKind.AGENT, period, agent_team, agent_id, language)
        run.reports.append(_store(engine, folder, key, pdf, agent_id))
    return run


def queue_delivery(
    session: Session, *, report: Report, user: User, resend: bool = False
) -> ReportDelivery | None:
    """Queue the e-mail of `report` to `user`; the caller commits.

    Returns None, queuing nothing, when the user already has this report for this month
    (in any language, sent or still being tried) and `resend` is off; `resend` adds a new
    round.
    """
    if not user.email or user.id is None or report.id is None:
        return None
    same_report = select(Report.id).where(
        col(Report.kind) == report.kind,
        col(Report.period) == report.period,
        col(Report.team_id) == report.team_id
        if report.team_id is not None
        else col(Report.team_id).is_(None),
        col(Report.agent_id) == report.agent_id
        if report.agent_id is not None
        else col(Report.agent_id).is_(None),
    )
    earlier = session.exec(
        select(ReportDelivery).where(
            col(ReportDelivery.user_id) == user.id,
            col(ReportDelivery.report_id).in_(same_report),
        )
    ).all()
    if earlier and not resend:
        return None
    rounds = [d.round for d in earlier if d.report_id == report.id]
    delivery = ReportDelivery(
        report_id=report.id,
        user_id=user.id,
        round=max(rounds) + 1 if rounds else 0,
        address=user.email,
        state=DeliveryState.PENDING,
    )
    session.add(delivery)
    session.flush()
    return delivery


def _subject_name(session: Session, report: Report) -> str:
    if report.kind == ReportKind.TEAM and report.team_id is not None:
        team = session.get(Team, report.team_id)
        return team.name if team is not None else report.team_id
    agent = session.get(Agent, report.agent_id) if report.agent_id else None
    return agent.name if agent is not None else (report.agent_id or "")


def _claim_due(
    engine: Engine, delivery_id: int, now: datetime
) -> tuple[ReportDelivery, ReportMail] | None:
    """Take one due e-mail for sending: count the attempt and hold it for SENDING_HOLD, so
    that another process passing meanwhile leaves it alone. None when it is no longer due."""
    with session_scope(engine, immediate=True) as session:
        delivery = session.get(ReportDelivery, delivery_id, with_for_update=True)
        if delivery is None or not _due(delivery, now):
            return None
        report = session.get(Report, delivery.report_id)
        user = session.get(User, delivery.user_id)
        delivery.attempts += 1
        delivery.next_attempt_at = now + SENDING_HOLD
        session.add(delivery)
        if report is None or user is None or not user.active:
            _record(delivery, now, "the recipient's account is disabled")
            return None
        mail = ReportMail(
            subject_name=_subject_name(session, report),
            period=report.period,
            team=report.kind == ReportKind.TEAM,
            file_name=file_name(report_key(report)),
            pdf=b"",
        )
        session.flush()
        session.expunge(delivery)
        return delivery, mail


def _due(delivery: ReportDelivery, now: datetime) -> bool:
    return (
        delivery.state != DeliveryState.SENT
        and delivery.attempts < MAX_ATTEMPTS
        and (delivery.next_attempt_at is None or delivery.next_attempt_at <= now)
    )


def _record(delivery: ReportDelivery, now: datetime, error: str | None) -> None:
    """Write the outcome of a try onto `delivery` (sent, or failed with its back-off)."""
    if error is None:
        delivery.state = DeliveryState.SENT
        delivery.sent_at = now
        delivery.next_attempt_at = None
        delivery.last_error = None
        return
    delivery.state = DeliveryState.FAILED
    delivery.last_error = error[:2000]
    more = delivery.attempts < MAX_ATTEMPTS
    delivery.next_attempt_at = now + retry_delay(delivery.attempts) if more else None


def deliver_due(
    engine: Engine,
    *,
    folder: Path,
    mailer: Mailer,
    sender: str,
    now: datetime,
    report_ids: Collection[int] | None = None,
    archive_url: str | None = None,
) -> DeliveryRun:
    """Send every queued e-mail that is due (new, or failed and past its back-off).

    A batch runner: each e-mail is claimed in a short transaction (its attempt counted),
    sent with no transaction open, and its outcome recorded in another, so that the
    database never waits on the mail server and a message recorded as sent is never sent
    again. One claimed by a process that then died is tried again after SENDING_HOLD.

    Args:
        report_ids: only the e-mails of these reports (a command's own run); all when None.
        now: the time of this pass (when back-offs are measured from).
        archive_url: the report archive's address, for a link in the message.
    """
    run = DeliveryRun()
    query = select(ReportDelivery.id).where(
        col(ReportDelivery.state).in_([DeliveryState.PENDING, DeliveryState.FAILED]),
        col(ReportDelivery.attempts) < MAX_ATTEMPTS,
        sa.or_(
            col(ReportDelivery.next_attempt_at).is_(None),
            col(ReportDelivery.next_attempt_at) <= now,
        ),
    )
    if report_ids is not None:
        query = query.where(col(ReportDelivery.report_id).in_(list(report_ids)))
    with Session(engine) as session:
        due = [i for i in session.exec(query.order_by(col(ReportDelivery.id))).all() if i]
    for delivery_id in due:
        claimed = _claim_due(engine, delivery_id, now)
        if claimed is None:
            continue
        delivery, mail = claimed
        error: str | None = None
        try:
            with Session(engine) as session:
                report = session.get(Report, delivery.report_id)
                if report is None:
                    raise MailError("the report is gone from the archive")
                pdf = read_report(folder, report)
                language = report.language
            message = report_message(
                sender=sender,
                to=delivery.address,
                language=language,
                mail=replace(mail, pdf=pdf),
                archive_url=archive_url,
            )
            mailer(message)
        except (MailError, QMError) as exc:
            error = str(exc)
        with session_scope(engine, immediate=True) as session:
            stored = session.get(ReportDelivery, delivery_id)
            if stored is None:
                continue
            _record(stored, now, error)
            session.add(stored)
        if error is None:
            run.sent += 1
        else:
            run.failed += 1
            run.errors.append(f"{delivery.address}: {error}")
    return run
