"""Machine vs human per key point and form item: `GET /agreement?period=YYYY-MM` (the page)
and `GET /api/agreement?period=YYYY-MM` (the same figures as JSON, as `qm agreement --json`).

How often reviewers confirmed or overrode the automatic answers in a month, with the
agreement's 95% interval, the machine's precision and recall against the reviewers, and
a verdict on trusting each item to automation (`qm.domain.agreement` has the rules).
Reviewers, managers and admins only; rows sort worst first.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Template
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain import agreement
from qm.domain.evaluations.commands import REVIEWER_ROLES
from qm.errors import ValidationFailed
from qm.i18n import gettext
from qm.models import User
from qm.settings import Settings
from scoring.stats import Estimate

SOURCE = "query"  # the "file" a ValidationFailed about a query parameter names


def _report(
    request: Request[User, Any, State], db: Session, settings: Settings
) -> tuple[agreement.AgreementReport, str]:
    """The report the query asks for (`period`, default the latest call's month; `sort`).

    Raises:
        ValidationFailed: a parameter given twice, a bad month or an unknown sort.
    """
    params = request.query_params
    for name in ("period", "sort"):
        if len(params.getall(name, [])) > 1:
            raise ValidationFailed(
                SOURCE, None, name, gettext("is given more than once; give it once")
            )
    raw = params.get("period")
    if raw is None:
        period = agreement.latest_period(db, settings.tz)
    else:
        period = agreement.parse_period(raw, source=SOURCE, field="period")
    sort = params.get("sort") or "agreement"
    return agreement.agreement_report(db, period=period, tz=settings.tz, sort=sort), sort


@dataclass
class EstimateBody:
    """A share with its n and Wilson 95% interval; `value` is null when n is 0."""

    value: float | None
    n: int
    ci95: list[float] | None


@dataclass
class AgreementRowBody:
    """Machine vs human on one key point (`form` null) or one form item."""

    source: str
    item_id: str
    label: str
    form: str | None
    reviewed: int
    confirmed: int
    overridden: int
    agreement: EstimateBody
    precision: EstimateBody
    recall: EstimateBody
    machine_hits: int
    human_hits: int
    both_hits: int
    verdict: str
    verdict_text: str


@dataclass
class ThresholdsBody:
    """The verdict's thresholds (see `qm.domain.agreement`)."""

    trust_min_reviewed: int
    trust_min_agreement_ci_low: float
    review_below_agreement: float


@dataclass
class AgreementBody:
    """Every key point and form item with a review on calls of the month, worst first."""

    period: str
    thresholds: ThresholdsBody
    rows: list[AgreementRowBody]


def _estimate(e: Estimate) -> EstimateBody:
    return EstimateBody(e.value, e.n, None if e.ci95 is None else list(e.ci95))


def agreement_body(report: agreement.AgreementReport) -> AgreementBody:
    """The report as the API's typed body."""
    return AgreementBody(
        period=str(report.period),
        thresholds=ThresholdsBody(
            agreement.TRUST_MIN_REVIEWED,
            agreement.TRUST_MIN_AGREEMENT,
            agreement.REVIEW_BELOW_AGREEMENT,
        ),
        rows=[
            AgreementRowBody(
                source=r.source.value,
                item_id=r.item_id,
                label=r.label,
                form=r.form,
                reviewed=r.reviewed,
                confirmed=r.confirmed,
                overridden=r.overridden,
                agreement=_estimate(r.agreement),
                precision=_estimate(r.precision),
                recall=_estimate(r.recall),
                machine_hits=r.machine_hits,
                human_hits=r.human_hits,
                both_hits=r.both_hits,
                verdict=r.verdict.value,
                verdict_text=r.verdict.text,
            )
            for r in report.rows
        ],
    )


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
        report, sort = _report(request, db, settings)
        context = {
            "report": report,
            "sort": sort,
            "previous": report.period.previous(),
            "next": report.period.next(),
            "trust_min_reviewed": agreement.TRUST_MIN_REVIEWED,
            "trust_min_agreement": agreement.TRUST_MIN_AGREEMENT,
            "review_below": agreement.REVIEW_BELOW_AGREEMENT,
        }
        return Template(template_name="agreement/page.html", context=context)


# Documented in the OpenAPI schema; checked by `_report` (a 422 naming the parameter).
PeriodParam = Annotated[
    str | None,
    Parameter(description="Calendar month YYYY-MM in the site's time zone (default: latest)."),
]
SortParam = Annotated[
    str | None,
    Parameter(
        description="Worst first by: agreement (default), reviewed, precision, recall, item."
    ),
]


class AgreementApiController(Controller):
    """Machine vs human as JSON (reviewers, managers and admins)."""

    path = "/api/agreement"
    guards = [requires_role(*REVIEWER_ROLES)]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True)
    def read(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        period: PeriodParam = None,
        sort: SortParam = None,
    ) -> AgreementBody:
        """Per key point and form item: reviews, confirmations, overrides, agreement with
        its 95% interval, the machine's precision and recall, and the verdict."""
        del period, sort  # declared for the schema; `_report` reads and checks them
        report, _ = _report(request, db, settings)
        return agreement_body(report)
