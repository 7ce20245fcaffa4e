"""The report archive in the web app: the page and the JSON API.

    GET /reports?period=YYYY-MM&kind=team|agent   the archive, newest month first
    GET /api/reports?period=&kind=                  the same as JSON, with deliveries
    GET /api/reports/{id}/pdf                       the stored PDF

Who sees what (DESIGN.md, "Visibility"): a manager the reports of the teams they manage,
an agent their own scorecard PDFs, an admin everything. Reviewers see no reports (403); a
report the caller may not see answers 404, exactly as one that does not exist. Each team
report lists its e-mails: sent, or failed with the error and the time of the next try.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain.report_archive import (
    LIST_LIMIT,
    deliveries_of,
    file_name,
    read_report,
    report_key,
    visible_report,
    visible_reports,
)
from qm.errors import ValidationFailed
from qm.i18n import gettext as _
from qm.models import Agent, DeliveryState, Report, ReportDelivery, ReportKind, Role, Team, User
from qm.settings import Settings
from qm.web.api_input import row_id
from scoring.period import Period

READERS = (Role.ADMIN, Role.MANAGER, Role.AGENT)
WHERE = "query"

PeriodQuery = Annotated[
    str | None,
    QueryParameter(description="Only this calendar month, YYYY-MM.", max_length=40),
]
KindQuery = Annotated[
    str | None, QueryParameter(description="Only team or agent reports.", max_length=40)
]


def _filters(period: str | None, kind: str | None) -> tuple[Period | None, ReportKind | None]:
    """The archive's filters, refused with the field named when malformed."""
    month = None
    if period:
        try:
            month = Period.parse(period)
        except ValueError as exc:
            raise ValidationFailed(WHERE, None, "period", str(exc)) from None
    found = None
    if kind:
        try:
            found = ReportKind(kind)
        except ValueError:
            raise ValidationFailed(
                WHERE, None, "kind", _("%(kind)r is neither team nor agent", kind=kind)
            ) from None
    return month, found


def _names(db: Session, reports: list[Report]) -> dict[tuple[str, str], str]:
    """Team and agent names by ("team" | "agent", id) for the reports' subjects."""
    team_ids = {r.team_id for r in reports if r.team_id}
    agent_ids = {r.agent_id for r in reports if r.agent_id}
    names: dict[tuple[str, str], str] = {}
    if team_ids:
        for team in db.exec(select(Team).where(col(Team.id).in_(team_ids))).all():
            names[("team", team.id)] = team.name
    if agent_ids:
        for agent in db.exec(select(Agent).where(col(Agent.id).in_(agent_ids))).all():
            names[("agent", agent.id)] = agent.name
    return names


class DeliveryOut(msgspec.Struct):
    """One e-mail of a report to one user."""

    recipient: str
    address: str
    round: int
    state: DeliveryState
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None


class ReportOut(msgspec.Struct):
    """One archived PDF."""

    id: int
    kind: ReportKind
    period: str
    team_id: str | None
    agent_id: str | None
    subject: str
    language: str
    checksum: str
    size: int
    created_at: datetime
    pdf_url: str
    deliveries: list[DeliveryOut]


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A report as the archive page lists it."""

    report: Report
    subject: str
    deliveries: list[tuple[ReportDelivery, str]]


def _rows(
    db: Session, viewer: User, period: Period | None, kind: ReportKind | None
) -> list[ReportRow]:
    reports = list(visible_reports(db, viewer, period=period, kind=kind))
    names = _names(db, reports)
    sent = deliveries_of(db, [r.id for r in reports if r.id is not None])
    rows = []
    for report in reports:
        subject_id = (report.team_id if report.kind == ReportKind.TEAM else report.agent_id) or ""
        subject = names.get((str(report.kind), subject_id), subject_id)
        rows.append(ReportRow(report, subject, sent.get(report.id or 0, [])))
    return rows


class ReportsController(Controller):
    """The report archive page."""

    path = "/reports"
    guards = [requires_role(*READERS)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def archive(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        period: PeriodQuery = None,
        kind: KindQuery = None,
    ) -> Template:
        """The archived reports the user may see, with download links and e-mail states."""
        month, found = _filters(period, kind)
        rows = _rows(db, request.user, month, found)
        periods = sorted({r.period for r in visible_reports(db, request.user)}, reverse=True)
        context = {
            "rows": rows,
            "periods": periods,
            "values": {"period": period or "", "kind": kind or ""},
            "show_deliveries": request.user.role in (Role.ADMIN, Role.MANAGER),
            "capped": len(rows) >= LIST_LIMIT,
        }
        return Template(template_name="reports/archive.html", context=context)


class ReportsApiController(Controller):
    """The report archive over JSON, and the PDFs."""

    path = "/api/reports"
    tags = ["reports"]  # noqa: RUF012  (Litestar reads a plain list)
    guards = [requires_role(*READERS)]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def list_reports(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        period: PeriodQuery = None,
        kind: KindQuery = None,
    ) -> list[ReportOut]:
        """The archived reports the caller may see, newest month first, with their e-mails."""
        month, found = _filters(period, kind)
        return [
            ReportOut(
                id=row.report.id or 0,
                kind=ReportKind(row.report.kind),
                period=row.report.period,
                team_id=row.report.team_id,
                agent_id=row.report.agent_id,
                subject=row.subject,
                language=row.report.language,
                checksum=row.report.checksum,
                size=row.report.size,
                created_at=row.report.created_at,
                pdf_url=f"/api/reports/{row.report.id}/pdf",
                deliveries=[
                    DeliveryOut(
                        recipient=username,
                        address=d.address,
                        round=d.round,
                        state=DeliveryState(d.state),
                        attempts=d.attempts,
                        last_error=d.last_error,
                        next_attempt_at=d.next_attempt_at,
                        sent_at=d.sent_at,
                    )
                    for d, username in row.deliveries
                ],
            )
            for row in _rows(db, request.user, month, found)
        ]

    @get("/{report_id:int}/pdf", sync_to_thread=True, media_type="application/pdf")
    def pdf(
        self,
        report_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        """The stored PDF, checked against its checksum (404 outside the caller's reports)."""
        report = visible_report(db, row_id(report_id, "report"), request.user)
        data = read_report(settings.report_folder(), report)
        name = file_name(report_key(report))
        return Response(
            content=data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "Cache-Control": "private, no-cache",
            },
        )
