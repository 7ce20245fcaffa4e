"""`GET /agreement?period=YYYY-MM`: machine vs human per key point and form item.

How often reviewers confirmed or overrode the automatic answers in a month, with the
agreement's 95% interval, the machine's precision and recall against the reviewers, and
a verdict on trusting each item to automation (`qm.domain.agreement` has the rules).
Reviewers, managers and admins only; the table sorts worst first.
"""

from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Template
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain import agreement
from qm.domain.evaluations.commands import REVIEWER_ROLES
from qm.errors import ValidationFailed
from qm.models import User
from qm.settings import Settings

SOURCE = "query"  # the "file" a ValidationFailed about a query parameter names


class AgreementController(Controller):
    """The machine-vs-human agreement page."""

    path = "/agreement"
    include_in_schema = False
    guards = [requires_role(*REVIEWER_ROLES)]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True)
    def show(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The month's table; without `period`, the month of the latest call."""
        params = request.query_params
        for name in ("period", "sort"):
            if len(params.getall(name, [])) > 1:
                raise ValidationFailed(SOURCE, None, name, "is given more than once; give it once")
        raw = params.get("period")
        if raw is None:
            period = agreement.latest_period(db, settings.tz)
        else:
            period = agreement.parse_period(raw, source=SOURCE, field="period")
        sort = params.get("sort") or "agreement"
        report = agreement.agreement_report(db, period=period, tz=settings.tz, sort=sort)
        context = {
            "report": report,
            "sort": sort,
            "sorts": agreement.SORTS,
            "previous": period.previous(),
            "next": period.next(),
            "trust_min_reviewed": agreement.TRUST_MIN_REVIEWED,
            "trust_min_agreement": agreement.TRUST_MIN_AGREEMENT,
            "review_below": agreement.REVIEW_BELOW_AGREEMENT,
        }
        return Template(template_name="agreement/page.html", context=context)
