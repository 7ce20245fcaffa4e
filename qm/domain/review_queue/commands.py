"""Working a pick: starting (or reopening) its evaluation, or skipping it.

The evaluation itself is made by `qm.domain.evaluations.commands.start_evaluation`, with
the pick's sample label, so that reports can keep random and targeted reviews apart.
Finishing that evaluation is not written back here: `states` derives `done` from it.
"""

from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.evaluations.commands import may_evaluate_agent, start_evaluation
from qm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import (
    Call,
    Evaluation,
    EvaluationKind,
    EvaluationState,
    PickState,
    ReviewPick,
    Role,
    User,
)

REVIEWING_ROLES = (Role.REVIEWER, Role.MANAGER, Role.ADMIN)
MAX_WHY = 500

# Messages people read, in one place for the translation catalogs.
NO_PICK = N_("no review pick {id}")
ASSIGNED_TO_OTHER = N_("pick {id} is assigned to another reviewer")
TAKEN = N_("call {call} is already being reviewed by someone else (evaluation {evaluation})")
SKIPPED = N_("pick {id} was skipped")
STARTED = N_("pick {id} already has an evaluation; it cannot be skipped")


def visible_pick(session: Session, pick_id: int, actor: User) -> tuple[ReviewPick, Call]:
    """The pick and its call, when `actor` may see them (reviewers all, managers their
    teams' agents); NotFound otherwise, exactly as for a missing pick."""
    pick = session.get(ReviewPick, pick_id)
    call = session.get(Call, pick.call_id) if pick is not None else None
    if (
        pick is None
        or call is None
        or actor.role not in REVIEWING_ROLES
        or not may_evaluate_agent(session, actor, call.agent_id)
    ):
        raise NotFound(_(NO_PICK).format(id=pick_id))
    return pick, call


def _require_own_or_lead(pick: ReviewPick, actor: User) -> None:
    """Reviewers work their own picks and unassigned ones; managers and admins any."""
    if actor.role == Role.REVIEWER and pick.reviewer_id not in (None, actor.id):
        raise Forbidden(_(ASSIGNED_TO_OTHER).format(id=pick.id))


def _own_unlinked_draft(session: Session, pick: ReviewPick, actor: User) -> Evaluation | None:
    """A standard draft of the pick's call, with the pick's sample label, that `actor`
    started from the call page before opening the pick: it becomes the pick's evaluation
    instead of a second draft. (A draft labelled otherwise is left alone: the label is
    what reports keep random and targeted reviews apart by.)"""
    linked = select(ReviewPick.evaluation_id).where(col(ReviewPick.evaluation_id).is_not(None))
    return session.exec(
        select(Evaluation)
        .where(
            col(Evaluation.call_id) == pick.call_id,
            col(Evaluation.sample) == pick.sample,
            col(Evaluation.reviewer_id) == actor.id,
            col(Evaluation.kind) == EvaluationKind.STANDARD.value,
            col(Evaluation.state) == EvaluationState.DRAFT.value,
            col(Evaluation.id).not_in(linked),
        )
        .order_by(col(Evaluation.id).desc())
    ).first()


def start_from_pick(session: Session, *, pick_id: int, actor: User) -> Evaluation:
    """Start the review of a pick: a draft evaluation labelled with the pick's sample.

    When the pick already has an evaluation by `actor`, that one is returned (opening it
    again); a standard draft of the call with the same sample label that `actor` started
    elsewhere and no pick holds is linked rather than doubled. A manager or admin who
    starts someone else's pick takes it over.

    Raises:
        NotFound: no such pick, or `actor` may not see it (agents never do).
        Forbidden: a reviewer starting a pick assigned to another reviewer.
        Conflict: the pick was skipped, or someone else already reviews it.
        NotFound: no evaluation form is assigned to the call (from `start_evaluation`).
    """
    pick, call = visible_pick(session, pick_id, actor)
    if pick.state == PickState.SKIPPED:
        raise Conflict(_(SKIPPED).format(id=pick_id))
    if pick.evaluation_id is not None:
        evaluation = session.get(Evaluation, pick.evaluation_id)
        if evaluation is not None and evaluation.reviewer_id == actor.id:
            return evaluation
        raise Conflict(_(TAKEN).format(call=call.id, evaluation=pick.evaluation_id))
    _require_own_or_lead(pick, actor)
    evaluation = _own_unlinked_draft(session, pick, actor) or start_evaluation(
        session, call.id, actor=actor, sample=pick.sample
    )
    previous = pick.reviewer_id
    pick.evaluation_id = evaluation.id
    pick.reviewer_id = actor.id
    pick.state = PickState.IN_PROGRESS
    session.add(pick)
    session.flush()
    record(
        session,
        actor=actor.username,
        action="review_pick.start",
        entity="review_pick",
        entity_id=str(pick.id),
        detail={
            "call": call.id,
            "evaluation": evaluation.id,
            "sample": pick.sample,
            "assigned_to": previous,
        },
    )
    return evaluation


def skip_pick(session: Session, *, pick_id: int, actor: User, why: str) -> ReviewPick:
    """Leave a pick out of review (a call unfit to review: wrong language, test call).

    Raises:
        NotFound: no such pick, or `actor` may not see it.
        Forbidden: a reviewer skipping a pick assigned to another reviewer.
        Conflict: it has an evaluation already, or is already skipped.
        ValidationFailed: `why` is empty or longer than MAX_WHY (field `why`).
    """
    pick, call = visible_pick(session, pick_id, actor)
    _require_own_or_lead(pick, actor)
    if pick.state == PickState.SKIPPED:
        raise Conflict(_(SKIPPED).format(id=pick_id))
    if pick.evaluation_id is not None:
        raise Conflict(_(STARTED).format(id=pick_id))
    reason = why.strip()
    if not reason or len(reason) > MAX_WHY:
        raise ValidationFailed(
            f"pick {pick_id}",
            None,
            "why",
            _("say why, in at most %(max_why)s characters", max_why=MAX_WHY),
        )
    pick.state = PickState.SKIPPED
    session.add(pick)
    session.flush()
    record(
        session,
        actor=actor.username,
        action="review_pick.skip",
        entity="review_pick",
        entity_id=str(pick.id),
        detail={"call": call.id, "why": reason},
    )
    return pick
