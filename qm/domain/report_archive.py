"""The report archive: PDFs stored with their checksum, and who may see which.

Files live in the report folder (`Settings.report_folder()`), one per kind, period,
team or agent, and language: `2026-11/team-T1-zh-CN.pdf`. A file is written beside its
final name and renamed into place, so a reader never sees half a PDF. Visibility
(DESIGN.md): an agent sees their own scorecard PDFs, a manager the reports of the teams
they manage, an admin all; reviewers see no reports.
"""

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from qm.domain.evaluations.queries import managed_teams
from qm.errors import Conflict, NotFound
from qm.i18n import html_lang, known_locale
from qm.models import Report, ReportDelivery, ReportKind, Role, User, utcnow
from scoring.period import Period

NO_REPORT = "no report {report_id}"
# Reports listed at most at once (the newest); a month filter shows the others.
LIST_LIMIT = 500
# Characters kept from a team or agent id in a file name; others become "_".
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class ReportKey:
    """Which report: kind, month, its team or agent, and the language it is written in."""

    kind: ReportKind
    period: Period
    team_id: str | None
    agent_id: str | None
    language: str


def language_tag(language: str | None, default: str) -> str:
    """A stored or asked-for language as the archive writes it: `zh-CN` or `en`."""
    return html_lang(known_locale(language) or known_locale(default) or "en")


def file_name(key: ReportKey) -> str:
    """The PDF's name, as stored and as attached to e-mail: `team-T1-2026-11-zh-CN.pdf`."""
    subject = key.team_id if key.kind == ReportKind.TEAM else key.agent_id
    safe = _UNSAFE.sub("_", subject or "")
    return f"{key.kind}-{safe}-{key.period}-{key.language}.pdf"


def report_key(report: Report) -> ReportKey:
    """The key of a stored report."""
    return ReportKey(
        kind=ReportKind(report.kind),
        period=Period.parse(report.period),
        team_id=report.team_id,
        agent_id=report.agent_id,
        language=report.language,
    )


def store_report(session: Session, *, folder: Path, key: ReportKey, pdf: bytes) -> Report:
    """Write the PDF into the archive and record it; the caller commits.

    Rendering the same report again (same key) replaces its file and updates its row.
    """
    relative = Path(str(key.period)) / file_name(key)
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_bytes(pdf)
    os.replace(partial, target)
    report = session.exec(
        select(Report).where(
            col(Report.kind) == key.kind,
            col(Report.period) == str(key.period),
            col(Report.team_id) == key.team_id
            if key.team_id is not None
            else col(Report.team_id).is_(None),
            col(Report.agent_id) == key.agent_id
            if key.agent_id is not None
            else col(Report.agent_id).is_(None),
            col(Report.language) == key.language,
        )
    ).first()
    if report is None:
        report = Report(
            kind=key.kind,
            period=str(key.period),
            team_id=key.team_id,
            agent_id=key.agent_id,
            language=key.language,
            checksum="",
            size=0,
            path="",
        )
    report.checksum = hashlib.sha256(pdf).hexdigest()
    report.size = len(pdf)
    report.path = relative.as_posix()
    report.created_at = utcnow()
    session.add(report)
    session.flush()
    return report


def read_report(folder: Path, report: Report) -> bytes:
    """The stored PDF's bytes.

    Raises:
        NotFound: its file is gone from the report folder.
        Conflict: the file no longer matches the checksum it was stored with.
    """
    path = folder / report.path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"the file of report {report.id} is missing from the archive") from None
    if hashlib.sha256(data).hexdigest() != report.checksum:
        raise Conflict(f"the file of report {report.id} does not match its checksum")
    return data


def visible_reports(
    session: Session,
    viewer: User,
    *,
    period: Period | None = None,
    kind: ReportKind | None = None,
    limit: int | None = None,
) -> Sequence[Report]:
    """The archived reports `viewer` may see, newest month first (at most `limit`,
    LIST_LIMIT when None)."""
    query = select(Report)
    if viewer.role == Role.AGENT:
        query = query.where(
            col(Report.kind) == ReportKind.AGENT, col(Report.agent_id) == viewer.agent_id
        )
    elif viewer.role == Role.MANAGER:
        query = query.where(col(Report.team_id).in_(managed_teams(session, viewer)))
    elif viewer.role != Role.ADMIN:
        return []
    if period is not None:
        query = query.where(col(Report.period) == str(period))
    if kind is not None:
        query = query.where(col(Report.kind) == kind)
    query = query.order_by(
        col(Report.period).desc(),
        col(Report.kind).desc(),
        col(Report.team_id),
        col(Report.agent_id),
        col(Report.language),
    )
    return session.exec(query.limit(limit or LIST_LIMIT)).all()


def visible_report(session: Session, report_id: int, viewer: User) -> Report:
    """One report, when `viewer` may see it.

    Raises:
        NotFound: no such report, or `viewer` may not see it (the same error).
    """
    report = session.get(Report, report_id)
    hidden = report is None or (
        viewer.role == Role.AGENT
        and (report.kind != ReportKind.AGENT or report.agent_id != viewer.agent_id)
    )
    if report is not None and viewer.role == Role.MANAGER:
        hidden = report.team_id not in managed_teams(session, viewer)
    if viewer.role not in (Role.ADMIN, Role.MANAGER, Role.AGENT):
        hidden = True
    if hidden or report is None:
        raise NotFound(NO_REPORT.format(report_id=report_id))
    return report


def deliveries_of(
    session: Session, report_ids: Sequence[int]
) -> dict[int, list[tuple[ReportDelivery, str]]]:
    """Each report's e-mails with the recipient's user name, newest round first."""
    found: dict[int, list[tuple[ReportDelivery, str]]] = {rid: [] for rid in report_ids}
    if not report_ids:
        return found
    rows = session.exec(
        select(ReportDelivery, User.username)
        .join(User, col(User.id) == col(ReportDelivery.user_id))
        .where(col(ReportDelivery.report_id).in_(report_ids))
        .order_by(col(User.username), col(ReportDelivery.round).desc())
    ).all()
    for delivery, username in rows:
        found[delivery.report_id].append((delivery, username))
    return found
