"""Disputes: who decides them, the resolvers' queue, and what an agent may still dispute.

Routing (DESIGN.md: a dispute gets a second pair of eyes): a new dispute is assigned to
the least-loaded active reviewer who did not score the evaluation (fewest open disputes
assigned, lowest user id on a tie); when no such reviewer exists, to the scorer; else to an
active manager of the agent's team. The same rule decides who may resolve it: any
reviewer, manager (of the agent's team) or admin except the disputing agent, and the
scorer only while no other reviewer is active.

Every function takes the session first; the caller commits. `commands` opens and resolves
disputes through these rules; this module never imports `commands`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.bounds import MAX_ROW_ID
from qm.domain.evaluations.queries import may_see
from qm.errors import Forbidden, NotFound
from qm.i18n import gettext
from qm.models import (
    Agent,
    Dispute,
    DisputeState,
    Evaluation,
    EvaluationChange,
    EvaluationState,
    Role,
    User,
    UserTeam,
)

RESOLVER_ROLES = (Role.ADMIN, Role.MANAGER, Role.REVIEWER)
# States in which the agent may open a dispute (a resolved one again, below the limit).
DISPUTABLE = (EvaluationState.RELEASED, EvaluationState.RESOLVED)


@dataclass(frozen=True, slots=True)
class QueuedDispute:
    """One open dispute as the resolvers' queue lists it."""

    id: int
    evaluation_id: int
    call_id: str
    agent_id: str
    agent_name: str
    scorer_id: int
    assigned_to: int | None
    assigned_name: str | None
    items: tuple[str, ...]
    comment: str
    created_at: datetime
    mine: bool


@dataclass(frozen=True, slots=True)
class AnswerChange:
    """One answer a resolution changed: the item, its answer before and after."""

    item_id: str
    old: object
    new: object
    at: datetime


def _other_reviewers(session: Session, scorer_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(col(User.role) == Role.REVIEWER, col(User.active), col(User.id) != scorer_id)
            .order_by(col(User.id))
        ).all()
    )


def _open_load(session: Session) -> dict[int, int]:
    """Open disputes per assigned user id."""
    rows = session.exec(
        select(Dispute.assigned_to, sa.func.count())
        .where(col(Dispute.state) == DisputeState.OPEN, col(Dispute.assigned_to).is_not(None))
        .group_by(col(Dispute.assigned_to))
    ).all()
    return {user_id: count for user_id, count in rows if user_id is not None}


def pick_dispute_resolver(session: Session, evaluation: Evaluation) -> User | None:
    """Who should decide a dispute of `evaluation` (the routing rule in the module docstring).

    Among the reviewers who did not score it, the one with the fewest open disputes
    assigned wins (lowest id on a tie), so the work spreads evenly.
    """
    others = _other_reviewers(session, evaluation.reviewer_id)
    if others:
        load = _open_load(session)
        return min(others, key=lambda u: (load.get(u.id or 0, 0), u.id or 0))
    scorer = session.get(User, evaluation.reviewer_id)
    if scorer is not None and scorer.active and scorer.role == Role.REVIEWER:
        return scorer
    agent = session.get(Agent, evaluation.agent_id)
    if agent is None or agent.team_id is None:
        return None
    return session.exec(
        select(User)
        .join(UserTeam, col(UserTeam.user_id) == col(User.id))
        .where(
            col(User.role) == Role.MANAGER,
            col(User.active),
            col(UserTeam.team_id) == agent.team_id,
        )
        .order_by(col(User.id))
    ).first()


def route_dispute(session: Session, dispute: Dispute, evaluation: Evaluation) -> User | None:
    """Assign a new dispute to its resolver (None when nobody can take it) and store it."""
    resolver = pick_dispute_resolver(session, evaluation)
    dispute.assigned_to = None if resolver is None else resolver.id
    session.add(dispute)
    session.flush()
    return resolver


def resolver_problem(
    session: Session, actor: User, dispute: Dispute, evaluation: Evaluation
) -> str | None:
    """Why `actor` may not resolve `dispute` (a translated message), or None when they may.

    Visibility (a manager of another team) is not checked here: the caller has already
    answered NotFound for a dispute the actor may not see.
    """
    if actor.role not in RESOLVER_ROLES:
        return gettext("only reviewers, managers and admins can resolve disputes")
    if actor.id == dispute.agent_user_id:
        return gettext("the disputing agent cannot resolve the dispute")
    if actor.id == evaluation.reviewer_id and _other_reviewers(session, evaluation.reviewer_id):
        return gettext(
            "the reviewer who scored the evaluation may resolve it only while no other "
            "reviewer is active"
        )
    return None


def require_resolver(
    session: Session, actor: User, dispute: Dispute, evaluation: Evaluation
) -> None:
    """Refuse an actor who may not resolve the dispute.

    Raises:
        Forbidden: with the reason (`resolver_problem`).
    """
    problem = resolver_problem(session, actor, dispute, evaluation)
    if problem is not None:
        raise Forbidden(problem)


def visible_dispute(session: Session, dispute_id: int, viewer: User) -> tuple[Dispute, Evaluation]:
    """The dispute and its evaluation, if `viewer` may see the evaluation.

    Raises:
        NotFound: no such dispute, or its evaluation is hidden from `viewer` (the same error).
    """
    dispute = session.get(Dispute, dispute_id) if 1 <= dispute_id <= MAX_ROW_ID else None
    evaluation = None if dispute is None else session.get(Evaluation, dispute.evaluation_id)
    if dispute is None or evaluation is None or not may_see(session, viewer, evaluation):
        raise NotFound(gettext("no dispute %(id)s", id=dispute_id))
    return dispute, evaluation


def dispute_queue(session: Session, viewer: User) -> list[QueuedDispute]:
    """The open disputes `viewer` may see: those assigned to them first, then the rest,
    each group oldest first. Agents get none (they are never resolvers)."""
    if viewer.role not in RESOLVER_ROLES:
        return []
    rows = session.exec(
        select(Dispute, Evaluation, Agent)
        .join(Evaluation, col(Evaluation.id) == col(Dispute.evaluation_id))
        .join(Agent, col(Agent.id) == col(Evaluation.agent_id))
        .where(col(Dispute.state) == DisputeState.OPEN)
        .order_by(col(Dispute.created_at), col(Dispute.id))
    ).all()
    assigned_ids = {d.assigned_to for d, _, _ in rows if d.assigned_to is not None}
    names = {
        u.id: u.display_name or u.username
        for u in session.exec(select(User).where(col(User.id).in_(assigned_ids))).all()
    }
    queued = [
        QueuedDispute(
            id=d.id or 0,
            evaluation_id=e.id or 0,
            call_id=e.call_id,
            agent_id=e.agent_id,
            agent_name=a.name or a.id,
            scorer_id=e.reviewer_id,
            assigned_to=d.assigned_to,
            assigned_name=names.get(d.assigned_to) if d.assigned_to is not None else None,
            items=tuple(d.items),
            comment=d.comment,
            created_at=d.created_at,
            mine=d.assigned_to is not None and d.assigned_to == viewer.id,
        )
        for d, e, a in rows
        if may_see(session, viewer, e)
    ]
    return sorted(queued, key=lambda q: not q.mine)


def evaluation_disputes(session: Session, evaluation: Evaluation) -> list[Dispute]:
    """The evaluation's disputes, oldest first."""
    return list(
        session.exec(
            select(Dispute)
            .where(col(Dispute.evaluation_id) == evaluation.id)
            .order_by(col(Dispute.id))
        ).all()
    )


def dispute_deadline(evaluation: Evaluation, dispute_days: int) -> datetime:
    """The last instant the evaluated agent may dispute it: `dispute_days` after release."""
    released = evaluation.released_at or evaluation.updated_at
    return released + timedelta(days=dispute_days)


def may_dispute_now(
    disputes: Sequence[Dispute],
    evaluation: Evaluation,
    *,
    dispute_days: int,
    limit: int,
    now: datetime,
) -> bool:
    """Whether the evaluated agent could open a dispute now (state, limit and deadline)."""
    return (
        evaluation.state in DISPUTABLE
        and len(disputes) < limit
        and all(d.state == DisputeState.RESOLVED for d in disputes)
        and now <= dispute_deadline(evaluation, dispute_days)
    )


def resolution_changes(
    session: Session, evaluation: Evaluation, dispute: Dispute
) -> list[AnswerChange]:
    """The answers changed while deciding `dispute`, in the order they were written.

    After release only a dispute's resolution changes answers, so these are the answer
    changes between the dispute being opened and it being resolved.
    """
    if dispute.resolved_at is None:
        return []
    rows = session.exec(
        select(EvaluationChange)
        .where(
            col(EvaluationChange.evaluation_id) == evaluation.id,
            col(EvaluationChange.action) == "answer",
            col(EvaluationChange.item_id).is_not(None),
            col(EvaluationChange.at) >= dispute.created_at,
            col(EvaluationChange.at) <= dispute.resolved_at,
        )
        .order_by(col(EvaluationChange.id))
    ).all()
    return [
        AnswerChange(
            item_id=r.item_id or "",
            old=(r.old or {}).get("answer") if isinstance(r.old, dict) else r.old,
            new=(r.new or {}).get("answer") if isinstance(r.new, dict) else r.new,
            at=r.at,
        )
        for r in rows
    ]
