"""An agent's own pages: the scorecard, released evaluations (acknowledge, dispute) and the
training plan. Every page shows the signed-in agent's data only; other roles are refused
(403) and another agent's evaluation or assignment answers 404, as a missing one does.

    GET  /me/scorecard?period=YYYY-MM            the month's card, six-month trend, team
    GET  /me/evaluations                         released evaluations, newest first
    GET  /me/evaluations/{id}                    answers, evidence, disputes and outcomes
    POST /me/evaluations/{id}/acknowledge        accept it
    POST /me/evaluations/{id}/dispute            dispute ticked items (`item.<id>`), `comment`
    GET  /me/training                            assignments, why, due date, re-measure
    POST /me/training/{id}/acknowledge           assigned -> acknowledged
    POST /me/training/{id}/complete              assigned or acknowledged -> completed

Writes go through the domain (`qm.domain.evaluations.commands`, `qm.domain.training`),
which audits them, and answer 303 back to the page.
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain.agent_scorecard import AgentScorecard, agent_scorecard, data_months, default_period
from qm.domain.bounds import MAX_ROW_ID
from qm.domain.evaluations import commands
from qm.domain.evaluations.disputes import (
    AnswerChange,
    dispute_deadline,
    evaluation_disputes,
    may_dispute_now,
    resolution_changes,
)
from qm.domain.evaluations.forms import parsed_form
from qm.domain.evaluations.queries import evaluations_for_agent, get_evaluation, visible_evaluation
from qm.domain.targets import scorecard_config
from qm.domain.training import follow_ups, set_status
from qm.errors import Conflict, NotFound, ValidationFailed
from qm.i18n import format_share
from qm.i18n import gettext as _
from qm.models import (
    Agent,
    Dispute,
    Evaluation,
    EvaluationForm,
    Role,
    TrainingAssignment,
    TrainingStatus,
    User,
    utcnow,
)
from qm.settings import Settings
from qm.web.agents_api import visible_agent
from reports.charts import to_svg, trend_chart
from scoring.forms import Answer, Form, FormError, FormItem, score_evaluation
from scoring.training import FollowUp

RowId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]
MAX_PERIOD = 7  # "YYYY-MM"
# Status changes an agent may make to an assignment: the action -> (from, to).
TRAINING_MOVES: dict[str, tuple[tuple[TrainingStatus, ...], TrainingStatus]] = {
    "acknowledge": ((TrainingStatus.ASSIGNED,), TrainingStatus.ACKNOWLEDGED),
    "complete": (
        (TrainingStatus.ASSIGNED, TrainingStatus.ACKNOWLEDGED),
        TrainingStatus.COMPLETED,
    ),
}


@dataclass(frozen=True, slots=True)
class ItemView:
    """One answered item of an evaluation as the agent reads it."""

    item: FormItem
    section: str
    answer: Answer | None
    comment: str
    evidence: dict[str, Any] | None
    disputed: bool


@dataclass(frozen=True, slots=True)
class DisputeOutcomeView:
    """A dispute with what its resolution changed."""

    dispute: Dispute
    changes: tuple[AnswerChange, ...]
    total_before: float | None


@dataclass(frozen=True, slots=True)
class FollowUpView:
    """A criterion re-measured on the calls after the assignment's month."""

    follow: FollowUp
    enough: bool


@dataclass(frozen=True, slots=True)
class TrainingView:
    """One assignment with its re-measure."""

    stored: TrainingAssignment
    overdue: bool
    followups: tuple[FollowUpView, ...]
    can_acknowledge: bool
    can_complete: bool


def _me(db: Session, user: User) -> Agent:
    """The signed-in agent's own agent row (404 for a user linked to no agent)."""
    return visible_agent(db, user.agent_id or "", user)


def _form(db: Session, evaluation: Evaluation) -> Form:
    row = db.get(EvaluationForm, evaluation.form_id)
    if row is None:  # the foreign key makes this impossible
        raise NotFound(_("no evaluation %(id)s", id=evaluation.id))
    return parsed_form(row)


def _total_before(form: Form, evaluation: Evaluation, changes: list[AnswerChange]) -> float | None:
    """The total the evaluation had before a resolution changed `changes`."""
    if not changes:
        return None
    answers = {k: v.get("answer") for k, v in evaluation.answers.items()}
    for change in reversed(changes):
        answers[change.item_id] = change.old
    try:
        score = score_evaluation(form, {k: v for k, v in answers.items() if v is not None})
    except FormError:
        return None
    return score.total


def _items(form: Form, evaluation: Evaluation, disputes: list[Dispute]) -> list[ItemView]:
    disputed = {item for d in disputes for item in d.items}
    rows = []
    for section in form.sections:
        for item in section.items:
            stored = evaluation.answers.get(item.id, {})
            evidence = stored.get("evidence")
            rows.append(
                ItemView(
                    item=item,
                    section=section.label,
                    answer=stored.get("answer"),
                    comment=stored.get("comment") or "",
                    evidence=evidence if isinstance(evidence, dict) else None,
                    disputed=item.id in disputed,
                )
            )
    return rows


def _period(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_PERIOD:
        raise ValidationFailed("query", None, "period", _("expected a month as YYYY-MM"))
    return raw


def _trend_svg(card: AgentScorecard) -> str:
    composite = next(r for r in card.rows if r.key == "composite")
    drawing = trend_chart(
        list(zip(card.months, composite.trend, strict=True)),
        title=_("Composite score, six months"),
        empty_label=_("No scores in these months"),
        target=None if composite.target is None else composite.target.value,
        target_label=_("Target"),
        fmt=format_share,
        y_range=(0.0, 1.0),
    )
    return to_svg(drawing, label=_("Composite score, six months"))


def _assignment(db: Session, agent: Agent, assignment_id: int) -> TrainingAssignment:
    stored = db.get(TrainingAssignment, assignment_id)
    if stored is None or stored.agent_id != agent.id:
        raise NotFound(_("no training assignment %(id)s", id=assignment_id))
    return stored


def _move(db: Session, user: User, assignment_id: int, action: str) -> Redirect:
    agent = _me(db, user)
    stored = _assignment(db, agent, assignment_id)
    allowed_from, to = TRAINING_MOVES[action]
    if stored.status not in allowed_from:
        raise Conflict(
            _(
                "training assignment %(id)s is %(status)s; it cannot become %(to)s",
                id=assignment_id,
                status=str(stored.status),
                to=str(to),
            )
        )
    set_status(db, assignment_id, to, actor=user.username)
    return Redirect(f"/me/training#training-{assignment_id}", status_code=303)


class MePagesController(Controller):
    """The agent's own scorecard, evaluations and training plan."""

    path = "/me"
    include_in_schema = False
    guards = [requires_role(Role.AGENT)]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/scorecard", sync_to_thread=True)
    def scorecard(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        period: Annotated[str | None, QueryParameter(description="YYYY-MM")] = None,
    ) -> Template:
        """The month's card with n and 95% intervals, weights, targets, trend and team."""
        agent = _me(db, request.user)
        tz = settings.tz
        month = _period(period) or default_period(db, agent.id, tz, utcnow())
        card = agent_scorecard(
            db, agent, month, tz=tz, config=scorecard_config(db, settings, agent.team_id)
        )
        months = data_months(db, agent.id, tz)
        context = {
            "agent": agent,
            "card": card,
            "months": months if card.period in months else [card.period, *months],
            "trend_svg": _trend_svg(card),
        }
        return Template(template_name="me/scorecard.html", context=context)

    @get("/evaluations", sync_to_thread=True)
    def evaluations(
        self, request: Request[User, Any, State], db: NamedDependency[Session]
    ) -> Template:
        """The agent's released evaluations, newest first."""
        agent = _me(db, request.user)
        rows = evaluations_for_agent(db, agent.id, request.user)
        return Template(template_name="me/evaluations.html", context={"rows": rows})

    @get("/evaluations/{evaluation_id:int}", sync_to_thread=True)
    def evaluation(
        self,
        evaluation_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """One evaluation: answers with evidence, acknowledge, dispute, and outcomes."""
        _me(db, request.user)
        view = get_evaluation(db, evaluation_id, request.user)
        evaluation = visible_evaluation(db, evaluation_id, request.user)
        form = _form(db, evaluation)
        disputes = evaluation_disputes(db, evaluation)
        outcomes = []
        for dispute in disputes:
            changes = resolution_changes(db, evaluation, dispute)
            before = _total_before(form, evaluation, changes)
            outcomes.append(DisputeOutcomeView(dispute, tuple(changes), before))
        context = {
            "view": view,
            "form": form,
            "items": _items(form, evaluation, disputes),
            "outcomes": outcomes,
            "deadline": dispute_deadline(evaluation, settings.dispute_days),
            "can_dispute": may_dispute_now(
                disputes,
                evaluation,
                dispute_days=settings.dispute_days,
                limit=settings.dispute_limit,
                now=utcnow(),
            ),
            "can_acknowledge": str(evaluation.state) == "released",
            "labels": {i.id: i.label for i in form.items().values()},
        }
        return Template(template_name="me/evaluation.html", context=context)

    @post("/evaluations/{evaluation_id:int}/acknowledge", sync_to_thread=True, status_code=303)
    def acknowledge(
        self,
        evaluation_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Accept a released evaluation."""
        commands.acknowledge(db, evaluation_id, actor=request.user)
        return Redirect(f"/me/evaluations/{evaluation_id}", status_code=303)

    @post("/evaluations/{evaluation_id:int}/dispute", sync_to_thread=True, status_code=303)
    def dispute(
        self,
        evaluation_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect:
        """Dispute the ticked items with a comment (routed to a reviewer who did not score)."""
        items = [key.removeprefix("item.") for key in data if key.startswith("item.")]
        commands.open_dispute(
            db,
            evaluation_id,
            actor=request.user,
            items=items,
            comment=(data.get("comment") or "").replace("\r\n", "\n"),
            dispute_days=settings.dispute_days,
            limit=settings.dispute_limit,
        )
        return Redirect(f"/me/evaluations/{evaluation_id}#disputes", status_code=303)

    @get("/training", sync_to_thread=True)
    def training(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """Assignments with why, due date, buttons and the before/after re-measure."""
        agent = _me(db, request.user)
        rows = db.exec(
            select(TrainingAssignment)
            .where(col(TrainingAssignment.agent_id) == agent.id)
            .order_by(
                col(TrainingAssignment.period).desc(), col(TrainingAssignment.priority).desc()
            )
        ).all()
        config = scorecard_config(db, settings, agent.team_id)
        today = date.today()
        views = [
            TrainingView(
                stored=r,
                overdue=r.status != TrainingStatus.COMPLETED and r.due_date < today,
                followups=tuple(
                    FollowUpView(f, f.after.n >= settings.min_contacts)
                    for f in follow_ups(db, r, tz=settings.tz, config=config)
                ),
                can_acknowledge=r.status in TRAINING_MOVES["acknowledge"][0],
                can_complete=r.status in TRAINING_MOVES["complete"][0],
            )
            for r in rows
        ]
        context = {"views": views, "min_calls": settings.min_contacts}
        return Template(template_name="me/training.html", context=context)

    @post("/training/{assignment_id:int}/acknowledge", sync_to_thread=True, status_code=303)
    def acknowledge_training(
        self,
        assignment_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Say the assignment has been read."""
        return _move(db, request.user, assignment_id, "acknowledge")

    @post("/training/{assignment_id:int}/complete", sync_to_thread=True, status_code=303)
    def complete_training(
        self,
        assignment_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Say the module has been done."""
        return _move(db, request.user, assignment_id, "complete")
