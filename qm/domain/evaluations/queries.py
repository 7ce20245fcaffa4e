"""Reading evaluations, their history and disputes, with the visibility rule.

Who sees an evaluation (DESIGN.md, "Visibility"):
- an agent: only standard evaluations of their own agent, once released (released,
  acknowledged, disputed or resolved);
- a manager: evaluations of the agents of the teams they manage, and all of a calibration they run;
- reviewers and admins: all.
On top of that, a calibration evaluation stays blind while its session runs: until the
session is closed or every participant has submitted, a participant sees only their
own, and people outside the session only when they run sessions (managers, admins).

An evaluation the viewer may not see is reported exactly as one that does not exist.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from qm.domain.bounds import MAX_ROW_ID
from qm.domain.calls.visibility import visible_call
from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import (
    Agent,
    CalibrationSession,
    CalibrationState,
    Call,
    Dispute,
    DisputeState,
    Evaluation,
    EvaluationChange,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    Role,
    User,
    UserTeam,
)

# States in which the evaluated agent may see a standard evaluation.
AGENT_VISIBLE = (
    EvaluationState.RELEASED,
    EvaluationState.ACKNOWLEDGED,
    EvaluationState.DISPUTED,
    EvaluationState.RESOLVED,
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The transcript span an automatic key-point answer rests on."""

    start: float | None
    end: float | None
    text: str


@dataclass(frozen=True, slots=True)
class AnswerView:
    """One item's answer: the human one (which counts) and the machine's suggestion."""

    item_id: str
    answer: str | int | None
    comment: str
    auto: str | int | None
    evidence: Evidence | None


@dataclass(frozen=True, slots=True)
class DisputeView:
    """A dispute and, once decided, its outcome."""

    id: int
    evaluation_id: int
    agent_user_id: int
    items: tuple[str, ...]
    comment: str
    state: DisputeState
    outcome: str | None
    resolution: str
    resolved_by: int | None
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class EvaluationView:
    """Everything the evaluation page shows; answers in the form's item order."""

    id: int
    call_id: str
    form_id: int
    form_key: str
    form_version: int
    kind: EvaluationKind
    state: EvaluationState
    version: int
    reviewer_id: int
    agent_id: str
    sample: str
    calibration_id: int | None
    answers: tuple[AnswerView, ...]
    total: float | None
    critical_failed: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    released_at: datetime | None
    acknowledged_at: datetime | None
    disputes: tuple[DisputeView, ...]


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """One line of a list of evaluations."""

    id: int
    call_id: str
    agent_id: str
    reviewer_id: int
    form_key: str
    kind: EvaluationKind
    state: EvaluationState
    sample: str
    total: float | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChangeView:
    """One entry of an evaluation's history."""

    version: int
    at: datetime
    actor: str
    action: str
    item_id: str | None
    old: Any
    new: Any
    why: str


@dataclass(frozen=True, slots=True)
class OpenDispute:
    """A dispute waiting for a decision, with what the resolver needs to pick it up."""

    id: int
    evaluation_id: int
    call_id: str
    agent_id: str
    reviewer_id: int
    items: tuple[str, ...]
    comment: str
    created_at: datetime


def managed_teams(session: Session, viewer: User) -> set[str]:
    """The ids of the teams `viewer` manages."""
    return set(
        session.exec(select(UserTeam.team_id).where(col(UserTeam.user_id) == viewer.id)).all()
    )


def calibration_revealed(session: Session, calibration: CalibrationSession) -> bool:
    """True once the session is closed or every one of its evaluations is submitted."""
    if calibration.state == CalibrationState.CLOSED:
        return True
    drafts = session.exec(
        select(Evaluation.id).where(
            col(Evaluation.calibration_id) == calibration.id,
            col(Evaluation.state) == EvaluationState.DRAFT,
        )
    ).first()
    return drafts is None


def participants(calibration: CalibrationSession) -> set[int]:
    """The user ids who score the session's calls (the reviewers and the expert)."""
    ids = set(calibration.reviewer_ids)
    if calibration.expert_id is not None:
        ids.add(calibration.expert_id)
    return ids


def may_open_calibration(session: Session, viewer: User, calibration: CalibrationSession) -> bool:
    """Whether `viewer` may open the session: its participants, admins, the manager who
    runs it, and a manager of the teams of all its calls (a manager sees their teams
    only, and a session shows its calls and every participant's answers)."""
    if viewer.id in participants(calibration) or viewer.role == Role.ADMIN:
        return True
    if viewer.role != Role.MANAGER:
        return False
    if calibration.created_by == viewer.username:
        return True
    call_teams = set(
        session.exec(
            select(Agent.team_id)
            .join(Call, col(Call.agent_id) == col(Agent.id))
            .where(col(Call.id).in_(calibration.call_ids))
        ).all()
    )
    return bool(call_teams) and call_teams <= managed_teams(session, viewer)


def may_see(session: Session, viewer: User, evaluation: Evaluation) -> bool:
    """Whether `viewer` may see `evaluation` (the rule in the module docstring)."""
    if viewer.role == Role.AGENT:
        return (
            viewer.agent_id is not None
            and evaluation.agent_id == viewer.agent_id
            and evaluation.kind == EvaluationKind.STANDARD
            and evaluation.state in AGENT_VISIBLE
        )
    calibration = (
        session.get(CalibrationSession, evaluation.calibration_id)
        if evaluation.calibration_id is not None
        else None
    )
    # A manager sees their teams' evaluations, and every one of a calibration they run:
    # the session's comparison is theirs to read, whoever's agents the calls belong to.
    organiser = calibration is not None and calibration.created_by == viewer.username
    if viewer.role == Role.MANAGER and not organiser:
        agent = session.get(Agent, evaluation.agent_id)
        if agent is None or agent.team_id not in managed_teams(session, viewer):
            return False
    if (
        calibration is not None
        and evaluation.reviewer_id != viewer.id
        and not calibration_revealed(session, calibration)
    ):
        runs_sessions = viewer.role in (Role.MANAGER, Role.ADMIN)
        return runs_sessions and viewer.id not in participants(calibration)
    return True


def visible_evaluation(session: Session, evaluation_id: int, viewer: User) -> Evaluation:
    """The evaluation, if `viewer` may see it.

    Raises:
        NotFound: no such evaluation, or `viewer` may not see it (the same error).
    """
    # An id no row can have (beyond the 32-bit key) is simply not found: PostgreSQL
    # would refuse to compare it with an integer column.
    in_range = 1 <= evaluation_id <= MAX_ROW_ID
    evaluation = session.get(Evaluation, evaluation_id) if in_range else None
    if evaluation is None or not may_see(session, viewer, evaluation):
        raise NotFound(_("no evaluation %(evaluation_id)s", evaluation_id=evaluation_id))
    return evaluation


def _dispute_view(row: Dispute) -> DisputeView:
    return DisputeView(
        id=row.id or 0,
        evaluation_id=row.evaluation_id,
        agent_user_id=row.agent_user_id,
        items=tuple(row.items),
        comment=row.comment,
        state=DisputeState(row.state),
        outcome=None if row.outcome is None else str(row.outcome),
        resolution=row.resolution,
        resolved_by=row.resolved_by,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


def _evidence(raw: Any) -> Evidence | None:
    if not isinstance(raw, dict):
        return None
    return Evidence(raw.get("start"), raw.get("end"), str(raw.get("text") or ""))


def get_evaluation(session: Session, evaluation_id: int, viewer: User) -> EvaluationView:
    """One evaluation with its answers and disputes.

    Raises:
        NotFound: no such evaluation, or `viewer` may not see it.
    """
    evaluation = visible_evaluation(session, evaluation_id, viewer)
    form = session.get(EvaluationForm, evaluation.form_id)
    if form is None:  # the foreign key makes this impossible; keeps the types honest
        raise NotFound(_("no evaluation %(evaluation_id)s", evaluation_id=evaluation_id))
    order = [item["id"] for section in form.body["sections"] for item in section["items"]]
    answers = tuple(
        AnswerView(
            item_id,
            evaluation.answers[item_id].get("answer"),
            evaluation.answers[item_id].get("comment") or "",
            evaluation.answers[item_id].get("auto"),
            _evidence(evaluation.answers[item_id].get("evidence")),
        )
        for item_id in order
        if item_id in evaluation.answers
    )
    disputes = session.exec(
        select(Dispute).where(col(Dispute.evaluation_id) == evaluation.id).order_by(col(Dispute.id))
    ).all()
    return EvaluationView(
        id=evaluation.id or 0,
        call_id=evaluation.call_id,
        form_id=form.id or 0,
        form_key=form.key,
        form_version=form.version,
        kind=EvaluationKind(evaluation.kind),
        state=EvaluationState(evaluation.state),
        version=evaluation.version,
        reviewer_id=evaluation.reviewer_id,
        agent_id=evaluation.agent_id,
        sample=evaluation.sample,
        calibration_id=evaluation.calibration_id,
        answers=answers,
        total=evaluation.total,
        critical_failed=evaluation.critical_failed,
        created_at=evaluation.created_at,
        updated_at=evaluation.updated_at,
        submitted_at=evaluation.submitted_at,
        released_at=evaluation.released_at,
        acknowledged_at=evaluation.acknowledged_at,
        disputes=tuple(_dispute_view(d) for d in disputes),
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def evaluation_body(session: Session, evaluation_id: int, viewer: User) -> dict[str, Any]:
    """The evaluation as DESIGN.md's JSON body (`form_id` is the form's key).

    Raises:
        NotFound: no such evaluation, or `viewer` may not see it.
    """
    view = get_evaluation(session, evaluation_id, viewer)
    return {
        "id": view.id,
        "call_id": view.call_id,
        "form_id": view.form_key,
        "kind": view.kind.value,
        "state": view.state.value,
        "version": view.version,
        "answers": {
            a.item_id: {"answer": a.answer, "comment": a.comment, "auto": a.auto}
            for a in view.answers
        },
        "total": view.total,
        "disputes": [
            {
                "id": d.id,
                "items": list(d.items),
                "comment": d.comment,
                "state": d.state.value,
                "outcome": d.outcome,
                "resolution": d.resolution,
                "created_at": _iso(d.created_at),
                "resolved_at": _iso(d.resolved_at),
            }
            for d in view.disputes
        ],
    }


def evaluation_history(session: Session, evaluation_id: int, viewer: User) -> list[ChangeView]:
    """Every change of the evaluation, oldest first.

    Raises:
        NotFound: no such evaluation, or `viewer` may not see it.
    """
    evaluation = visible_evaluation(session, evaluation_id, viewer)
    rows = session.exec(
        select(EvaluationChange)
        .where(col(EvaluationChange.evaluation_id) == evaluation.id)
        .order_by(col(EvaluationChange.id))
    ).all()
    return [
        ChangeView(r.version, r.at, r.actor, r.action, r.item_id, r.old, r.new, r.why) for r in rows
    ]


def evaluation_rows(
    session: Session, evaluations: Sequence[Evaluation], viewer: User
) -> list[EvaluationRow]:
    """List lines for those of `evaluations` that `viewer` may see, in the given order."""
    keys = {
        f.id: f.key
        for f in session.exec(
            select(EvaluationForm).where(
                col(EvaluationForm.id).in_({e.form_id for e in evaluations})
            )
        ).all()
    }
    return [
        EvaluationRow(
            id=e.id or 0,
            call_id=e.call_id,
            agent_id=e.agent_id,
            reviewer_id=e.reviewer_id,
            form_key=keys.get(e.form_id, ""),
            kind=EvaluationKind(e.kind),
            state=EvaluationState(e.state),
            sample=e.sample,
            total=e.total,
            updated_at=e.updated_at,
        )
        for e in evaluations
        if may_see(session, viewer, e)
    ]


def evaluations_for_call(session: Session, call_id: str, viewer: User) -> list[EvaluationRow]:
    """The evaluations of one call that `viewer` may see, oldest first.

    Raises:
        NotFound: no such call, or `viewer` may not see it.
    """
    visible_call(session, call_id, viewer)
    rows = session.exec(
        select(Evaluation).where(col(Evaluation.call_id) == call_id).order_by(col(Evaluation.id))
    ).all()
    return evaluation_rows(session, rows, viewer)


def evaluations_for_agent(session: Session, agent_id: str, viewer: User) -> list[EvaluationRow]:
    """The evaluations of one agent's calls that `viewer` may see, newest first.

    Raises:
        NotFound: no such agent, or `viewer` may not see that agent's data.
    """
    agent = session.get(Agent, agent_id)
    hidden = agent is None or (
        (viewer.role == Role.AGENT and viewer.agent_id != agent_id)
        or (viewer.role == Role.MANAGER and agent.team_id not in managed_teams(session, viewer))
    )
    if hidden:
        raise NotFound(_("no agent %(agent_id)s", agent_id=repr(agent_id)))
    rows = session.exec(
        select(Evaluation)
        .where(col(Evaluation.agent_id) == agent_id)
        .order_by(col(Evaluation.id).desc())
    ).all()
    return evaluation_rows(session, rows, viewer)


def open_disputes(session: Session) -> list[OpenDispute]:
    """Every dispute still waiting for a decision, oldest first (the resolvers' queue)."""
    rows = session.exec(
        select(Dispute, Evaluation)
        .join(Evaluation, col(Evaluation.id) == col(Dispute.evaluation_id))
        .where(col(Dispute.state) == DisputeState.OPEN)
        .order_by(col(Dispute.created_at), col(Dispute.id))
    ).all()
    return [
        OpenDispute(
            id=d.id or 0,
            evaluation_id=e.id or 0,
            call_id=e.call_id,
            agent_id=e.agent_id,
            reviewer_id=e.reviewer_id,
            items=tuple(d.items),
            comment=d.comment,
            created_at=d.created_at,
        )
        for d, e in rows
    ]
