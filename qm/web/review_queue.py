"""The review queue: the page (`/review`), its rules page, and `GET /api/review-queue`.

Reviewers see their own picks by default (any reviewer's, or all, with the reviewer
filter); managers the picks of their teams; admins all. Agents are refused (403): the
queue is QA's work list. "Start review" starts the pick's evaluation (or opens the one
already started) and goes to the call page with it.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, Parameter, QueryParameter
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain.evaluations.queries import managed_teams
from qm.domain.review_queue import queries
from qm.domain.review_queue.commands import skip_pick, start_from_pick
from qm.domain.review_queue.rules import (
    DEFAULT_RULE,
    RuleInput,
    list_rules,
    reviewer_names,
    save_rule,
)
from qm.domain.review_queue.sampling import sample_period
from qm.errors import Forbidden, ValidationFailed, http_status
from qm.i18n import gettext as _
from qm.models import (
    AssignmentMode,
    PickState,
    Queue,
    Role,
    TargetReason,
    Team,
    User,
)
from qm.settings import Settings
from qm.web.api_input import row_id

REVIEWING = (Role.ADMIN, Role.MANAGER, Role.REVIEWER)
LEADS = (Role.ADMIN, Role.MANAGER)
RULE_FORM = "sampling rule form"


def _today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The queue's query parameters, each given at most once."""
    found: dict[str, str] = {}
    for key in queries.QUERY_KEYS:
        values = request.query_params.getall(key, [])
        if len(values) > 1:
            raise ValidationFailed(queries.WHERE, None, key, _("give it at most once"))
        if values:
            found[key] = values[0]
    return found


# --- the JSON API ----------------------------------------------------------------------


@dataclass
class AgentRef:
    """An agent, by id and name."""

    id: str
    name: str


@dataclass
class ReviewerRef:
    """A reviewer, by user id and display name."""

    id: int
    name: str


@dataclass
class QueuedCall:
    """One pick of the review queue."""

    pick_id: int
    call_id: str
    period: str
    agent: AgentRef
    queue: str | None
    started_at: datetime
    # "random", or "targeted:<reason>" for the most serious reason found.
    sample: str
    # Every targeted reason that holds for the call (a random pick lists them too).
    reasons: list[str]
    detail: str
    reviewer: ReviewerRef | None
    due: date
    overdue: bool
    # open, in_progress, done or skipped (done once its evaluation is submitted).
    state: str
    evaluation_id: int | None


@dataclass
class ReviewQueue:
    """One page of the review queue."""

    items: list[QueuedCall]
    total: int
    page: int
    page_size: int
    pages: int


def queued_call(row: queries.QueueRow) -> QueuedCall:
    """One queue row as the API returns it."""
    return QueuedCall(
        pick_id=row.pick_id,
        call_id=row.call_id,
        period=row.period,
        agent=AgentRef(row.agent_id, row.agent_name),
        queue=row.queue,
        started_at=row.started_at,
        sample=row.sample,
        reasons=list(row.reasons),
        detail=row.detail,
        reviewer=(
            ReviewerRef(row.reviewer_id, row.reviewer or "")
            if row.reviewer_id is not None
            else None
        ),
        due=row.due,
        overdue=row.overdue,
        state=row.state.value,
        evaluation_id=row.evaluation_id,
    )


# Query parameters, documented in the OpenAPI schema; text on purpose, so that
# `parse_queue_query` answers a problem naming the parameter, as the page does.
ReasonParam = Annotated[
    str | None,
    Parameter(description="random, or a targeted reason: " + ", ".join(TargetReason)),
]
AgentParam = Annotated[str | None, Parameter(description="Agent id.")]
QueueParam = Annotated[str | None, Parameter(description="Queue id.")]
DueParam = Annotated[
    str | None,
    Parameter(description="overdue (unfinished, due before today), today, or week."),
]
StateParam = Annotated[
    str | None,
    QueryParameter(name="state", description="open, in_progress, done or skipped."),
]
ReviewerParam = Annotated[
    str | None,
    Parameter(
        description="A user id, me, all or none (unassigned). Default: a reviewer's own "
        "picks; all for managers (their teams) and admins."
    ),
]
PeriodParam = Annotated[str | None, Parameter(description="The month sampled, YYYY-MM.")]
PageParam = Annotated[str | None, Parameter(description="1-based page number.")]


class ReviewQueueApiController(Controller):
    """The review queue as JSON."""

    path = "/api/review-queue"
    guards = [requires_role(*REVIEWING)]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True)
    def review_queue(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        reason: ReasonParam = None,
        agent: AgentParam = None,
        queue: QueueParam = None,
        due: DueParam = None,
        pick_state: StateParam = None,
        reviewer: ReviewerParam = None,
        period: PeriodParam = None,
        page: PageParam = None,
    ) -> ReviewQueue:
        """The caller's assigned calls (managers: their teams'; admins: all), soonest
        due first, each with the reason it was picked."""
        _params(request)  # refuses a parameter given twice
        given = {
            "reason": reason,
            "agent": agent,
            "queue": queue,
            "due": due,
            "state": pick_state,
            "reviewer": reviewer,
            "period": period,
            "page": page,
        }
        query = queries.parse_queue_query(
            {k: v for k, v in given.items() if v is not None}, viewer=request.user
        )
        found = queries.queue_page(
            db,
            viewer=request.user,
            query=query,
            page_size=settings.page_size,
            today=_today(settings),
        )
        return ReviewQueue(
            items=[queued_call(r) for r in found.items],
            total=found.total,
            page=found.page,
            page_size=found.page_size,
            pages=found.pages,
        )


# --- the pages ---------------------------------------------------------------------------


@dataclass
class SampleForm:
    """The "run sampling" form."""

    period: str = ""


@dataclass
class SkipForm:
    """The "skip" form."""

    why: str = ""


@dataclass
class RuleForm:
    """The sampling-rule form (text fields, checked by `rule_input`)."""

    team_id: str = ""
    queue: str = ""
    random_per_agent: str = str(DEFAULT_RULE.random_per_agent)
    targeted_per_agent: str = str(DEFAULT_RULE.targeted_per_agent)
    low_courtesy_percent: str = str(round(DEFAULT_RULE.low_courtesy_below * 100))
    due_days: str = str(DEFAULT_RULE.due_days)
    assignment: str = DEFAULT_RULE.assignment.value
    # A checkbox list: one value arrives as a string, several as a list.
    reasons: list[str] | str = ""
    reviewers: list[str] | str = ""
    active: str = ""


def _listed(value: list[str] | str) -> list[str]:
    return [value] if isinstance(value, str) and value else list(value or [])


def _whole(text: str, field: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise ValidationFailed(RULE_FORM, None, field, _("expected a whole number"))
    return int(value)


def rule_input(form: RuleForm) -> RuleInput:
    """The form's values as a rule; ValidationFailed names a field that is not a number."""
    percent = _whole(form.low_courtesy_percent, "low_courtesy_percent")
    if percent > 100:
        raise ValidationFailed(RULE_FORM, None, "low_courtesy_percent", _("expected 0 to 100"))
    return RuleInput(
        team_id=form.team_id or None,
        queue=form.queue or None,
        random_per_agent=_whole(form.random_per_agent, "random_per_agent"),
        targeted_per_agent=_whole(form.targeted_per_agent, "targeted_per_agent"),
        low_courtesy_below=percent / 100,
        due_days=_whole(form.due_days, "due_days"),
        assignment=form.assignment,
        reasons=_listed(form.reasons),
        reviewers=_listed(form.reviewers),
        active=form.active == "on",
    )


def _rules_page(
    db: Session, viewer: User, form: RuleForm, error: str | None, status: int = 200
) -> Template:
    rules = list_rules(db)
    if viewer.role == Role.MANAGER:
        teams = sorted(managed_teams(db, viewer))
        # A manager sees the rules that reach their teams: their teams' and the unscoped.
        rules = [r for r in rules if r.team_id is None or r.team_id in teams]
    else:
        teams = list(db.exec(select(Team.id).order_by(col(Team.id))).all())
    context = {
        "rules": [(r, reviewer_names(db, r)) for r in rules],
        "default": DEFAULT_RULE,
        "form": form,
        "chosen_reasons": set(_listed(form.reasons)) if form.reasons else None,
        "chosen_reviewers": set(_listed(form.reviewers)),
        "error": error,
        "teams": teams,
        "queues": list(db.exec(select(Queue.id).order_by(col(Queue.id))).all()),
        "reasons": [r.value for r in TargetReason],
        "modes": [m.value for m in AssignmentMode],
        "reviewers": list(
            db.exec(
                select(User.username)
                .where(col(User.role).in_(REVIEWING), col(User.active))
                .order_by(col(User.username))
            ).all()
        ),
        "site_wide": viewer.role == Role.ADMIN,
    }
    return Template(template_name="review_queue/rules.html", context=context, status_code=status)


class ReviewQueueController(Controller):
    """The reviewer's work list, and the leads' sampling controls."""

    path = "/review"
    guards = [requires_role(*REVIEWING)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def queue_page(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The queue with its filters, the workload per reviewer, and paging links."""
        viewer = request.user
        query = queries.parse_queue_query(_params(request), viewer=viewer)
        today = _today(settings)
        found = queries.queue_page(
            db, viewer=viewer, query=query, page_size=settings.page_size, today=today
        )
        values = query.values()

        def page_url(number: int) -> str:
            return "/review?" + urlencode(values | {"page": str(number)})

        sampled = request.query_params.get("sampled")
        context = {
            "page": found,
            "query": query,
            "values": values,
            "options": queries.filter_options(db, viewer=viewer),
            "workload": queries.workload(db, viewer=viewer, today=today, period=query.period),
            "reasons": ["random", *(r.value for r in TargetReason)],
            "states": [s.value for s in PickState],
            "dues": [d.value for d in queries.DueFilter],
            "today": today,
            "is_lead": viewer.role in LEADS,
            "sampled": sampled if sampled and sampled.isdigit() else None,
            "previous_url": page_url(found.page - 1) if found.page > 1 else None,
            "next_url": page_url(found.page + 1) if found.page < found.pages else None,
        }
        return Template(template_name="review_queue/list.html", context=context)

    @post("/{pick_id:int}/start", sync_to_thread=True)
    def start_review(
        self,
        pick_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Start (or reopen) the pick's evaluation and go to the call page with it."""
        evaluation = start_from_pick(db, pick_id=row_id(pick_id, "pick"), actor=request.user)
        target = f"/calls/{quote(evaluation.call_id, safe='')}?evaluation={evaluation.id}"
        return Redirect(target, status_code=303)

    @post("/{pick_id:int}/skip", sync_to_thread=True)
    def skip(
        self,
        pick_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[SkipForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Leave the pick out of review, with the reason."""
        skip_pick(db, pick_id=row_id(pick_id, "pick"), actor=request.user, why=data.why)
        return Redirect("/review", status_code=303)

    @post("/sample", guards=[requires_role(*LEADS)], sync_to_thread=True)
    def run_sampling(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: Annotated[SampleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Sample a month now (as `qm sample --period` does) and show its picks."""
        period = queries.parse_period(data.period)
        report = sample_period(
            db,
            period=period,
            today=_today(settings),
            tz=settings.tz,
            actor=request.user.username,
        )
        target = {"reviewer": "all", "period": str(period), "sampled": len(report.created)}
        return Redirect("/review?" + urlencode(target), status_code=303)

    @get("/rules", guards=[requires_role(*LEADS)], sync_to_thread=True)
    def rules_page(
        self, request: Request[User, Any, State], db: NamedDependency[Session]
    ) -> Template:
        """The sampling rules, and the form to set one."""
        return _rules_page(db, request.user, RuleForm(active="on"), None)

    @post("/rules", guards=[requires_role(*LEADS)], sync_to_thread=True)
    def set_rule(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[RuleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        """Create or replace the rule of a scope; a bad field re-shows the form saying why."""
        try:
            save_rule(db, data=rule_input(data), actor=request.user)
        except (ValidationFailed, Forbidden) as exc:
            # Nothing was written before these are raised, so the session stays clean.
            return _rules_page(db, request.user, data, str(exc), http_status(exc)[0])
        return Redirect("/review/rules", status_code=303)
