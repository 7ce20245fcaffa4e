"""Calibration sessions: several reviewers score the same calls blind, then compare.

Creating a session makes one draft calibration evaluation per participant and call.
While the session runs, each participant sees only their own answers (the blind rule
lives in `queries.may_see`); once it is closed or everyone has submitted, all answers
and the agreement figures are open to the participants.

The figures come from `scoring.calibration` over the submitted evaluations: per-item
observed agreement and Cohen's/Fleiss' kappa (answers compared as text), ICC(2,1) of
the totals, and each reviewer's deviation from the expert or the consensus. Calibration
evaluations never count in scorecards (kind `calibration`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.evaluations.commands import REVIEWER_ROLES, draft_evaluation
from qm.domain.evaluations.forms import latest_form
from qm.domain.evaluations.queries import (
    EvaluationRow,
    calibration_revealed,
    evaluation_rows,
    may_open_calibration,
    participants,
)
from qm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from qm.i18n import gettext
from qm.models import (
    CalibrationSession,
    CalibrationState,
    Call,
    Evaluation,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    Role,
    User,
    utcnow,
)
from scoring.calibration import (
    ItemAgreement,
    ReviewerDeviation,
    item_agreement,
    reviewer_deviations,
    totals_icc,
)

MAX_NAME = 200  # the `name` column
MAX_CALLS = 200  # calls in one session: enough for any real calibration round


@dataclass(frozen=True, slots=True)
class CalibrationView:
    """A session as one viewer sees it: the evaluations they may see, and the progress."""

    id: int
    name: str
    form_key: str
    form_version: int
    state: CalibrationState
    call_ids: tuple[str, ...]
    reviewer_ids: tuple[int, ...]
    expert_id: int | None
    created_by: str
    created_at: datetime
    revealed: bool
    submitted: int
    expected: int
    evaluations: tuple[EvaluationRow, ...]


@dataclass(frozen=True, slots=True)
class CalibrationResults:
    """How far the session's reviewers agree, from their submitted evaluations.

    Reviewers are named by username. `baseline` is the expert's username, or
    "consensus" when the session has no expert.
    """

    calibration_id: int
    calls: int
    items: tuple[ItemAgreement, ...]
    icc: float | None
    icc_calls: int
    baseline: str
    deviations: tuple[ReviewerDeviation, ...]


def _require_organiser(actor: User, what: str) -> None:
    if actor.role not in (Role.MANAGER, Role.ADMIN):
        raise Forbidden(gettext("only managers and admins can %(what)s", what=what))


def create_calibration(
    session: Session,
    *,
    actor: User,
    name: str,
    form_key: str,
    call_ids: Sequence[str],
    reviewers: Sequence[User],
    expert: User | None,
) -> CalibrationSession:
    """Open a session on the latest version of `form_key`, with one blind draft per
    participant (reviewers and expert) and call.

    Raises:
        Forbidden: `actor` is not a manager or admin.
        NotFound: no such form or call.
        ValidationFailed: no name, no calls or too many, a call named twice, fewer than
            two participants, or a participant who is not an active reviewer+.
    """
    _require_organiser(actor, "create calibration sessions")
    where = "calibration session"
    if not name.strip() or len(name) > MAX_NAME:
        raise ValidationFailed(
            where,
            None,
            "name",
            gettext("required, at most %(max_name)s characters", max_name=MAX_NAME),
        )
    if not call_ids or len(call_ids) > MAX_CALLS:
        raise ValidationFailed(
            where, None, "call_ids", gettext("name 1 to %(max_calls)s calls", max_calls=MAX_CALLS)
        )
    if len(set(call_ids)) != len(call_ids):
        raise ValidationFailed(where, None, "call_ids", gettext("a call is named twice"))
    form_row, _ = latest_form(session, form_key)
    calls = []
    for call_id in call_ids:
        call = session.get(Call, call_id)
        if call is None:
            raise NotFound(gettext("no call with id %(call_id)s", call_id=repr(call_id)))
        calls.append(call)
    people = {u.id: u for u in reviewers}
    if expert is not None:
        people[expert.id] = expert
    if len(people) < 2:
        raise ValidationFailed(where, None, "reviewers", gettext("name at least two participants"))
    for person in people.values():
        if person.role not in REVIEWER_ROLES or not person.active:
            raise ValidationFailed(
                where,
                None,
                "reviewers",
                gettext("%(username)s is not an active reviewer", username=person.username),
            )
    calibration = CalibrationSession(
        name=name.strip(),
        form_id=form_row.id or 0,
        call_ids=list(call_ids),
        reviewer_ids=list(dict.fromkeys(u.id or 0 for u in reviewers)),
        expert_id=None if expert is None else expert.id,
        created_by=actor.username,
    )
    session.add(calibration)
    session.flush()
    record(
        session,
        actor=actor.username,
        action="calibration.create",
        entity="calibration_session",
        entity_id=str(calibration.id),
        detail={
            "form": f"{form_row.key}@{form_row.version}",
            "calls": list(call_ids),
            "reviewers": [u.username for u in reviewers],
            "expert": None if expert is None else expert.username,
        },
    )
    for call in calls:
        for person in people.values():
            draft_evaluation(
                session,
                call,
                form_row,
                reviewer=person,
                actor=actor,
                kind=EvaluationKind.CALIBRATION,
                sample="random",
                calibration_id=calibration.id,
            )
    return calibration


def close_calibration(session: Session, calibration_id: int, *, actor: User) -> CalibrationSession:
    """End a session: no more answers; everything becomes visible to the participants.

    Raises:
        Forbidden (not manager+), NotFound, Conflict (already closed).
    """
    _require_organiser(actor, "close calibration sessions")
    calibration = session.get(CalibrationSession, calibration_id)
    if calibration is None:
        raise NotFound(
            gettext("no calibration session %(calibration_id)s", calibration_id=calibration_id)
        )
    if calibration.state == CalibrationState.CLOSED:
        raise Conflict(
            gettext(
                "calibration session %(calibration_id)s is already closed",
                calibration_id=calibration_id,
            )
        )
    calibration.state = CalibrationState.CLOSED
    calibration.closed_at = utcnow()
    session.add(calibration)
    session.flush()
    record(
        session,
        actor=actor.username,
        action="calibration.close",
        entity="calibration_session",
        entity_id=str(calibration_id),
    )
    return calibration


def _evaluations(session: Session, calibration_id: int) -> list[Evaluation]:
    return list(
        session.exec(
            select(Evaluation)
            .where(col(Evaluation.calibration_id) == calibration_id)
            .order_by(col(Evaluation.id))
        ).all()
    )


def calibration_view(session: Session, calibration_id: int, viewer: User) -> CalibrationView:
    """The session for those who may open it (`may_open_calibration`); blind while it runs.

    Raises:
        NotFound: no such session, or `viewer` may not open it (the same error).
    """
    calibration = session.get(CalibrationSession, calibration_id)
    if calibration is None or not may_open_calibration(session, viewer, calibration):
        raise NotFound(
            gettext("no calibration session %(calibration_id)s", calibration_id=calibration_id)
        )
    form = session.get(EvaluationForm, calibration.form_id)
    evaluations = _evaluations(session, calibration_id)
    return CalibrationView(
        id=calibration.id or 0,
        name=calibration.name,
        form_key="" if form is None else form.key,
        form_version=0 if form is None else form.version,
        state=CalibrationState(calibration.state),
        call_ids=tuple(calibration.call_ids),
        reviewer_ids=tuple(calibration.reviewer_ids),
        expert_id=calibration.expert_id,
        created_by=calibration.created_by,
        created_at=calibration.created_at,
        revealed=calibration_revealed(session, calibration),
        submitted=sum(e.state != EvaluationState.DRAFT for e in evaluations),
        expected=len(evaluations),
        evaluations=tuple(evaluation_rows(session, evaluations, viewer)),
    )


def calibration_results(session: Session, calibration_id: int) -> CalibrationResults:
    """Agreement figures over the session's submitted evaluations (drafts are left out).

    The caller decides who may read them (see `calibration_view`).

    Raises:
        NotFound: no such session.
    """
    calibration = session.get(CalibrationSession, calibration_id)
    if calibration is None:
        raise NotFound(
            gettext("no calibration session %(calibration_id)s", calibration_id=calibration_id)
        )
    people = {
        u.id: u.username
        for u in session.exec(select(User).where(col(User.id).in_(participants(calibration)))).all()
    }
    answers: dict[str, dict[str, dict[str, str]]] = {}
    totals: dict[str, dict[str, float]] = {}
    for evaluation in _evaluations(session, calibration_id):
        if evaluation.state == EvaluationState.DRAFT:
            continue
        reviewer = people.get(evaluation.reviewer_id, str(evaluation.reviewer_id))
        answers.setdefault(evaluation.call_id, {})[reviewer] = {
            item_id: str(entry["answer"])
            for item_id, entry in evaluation.answers.items()
            if entry["answer"] is not None
        }
        if evaluation.total is not None:
            totals.setdefault(evaluation.call_id, {})[reviewer] = evaluation.total
    expert = None if calibration.expert_id is None else people.get(calibration.expert_id)
    icc, icc_calls = totals_icc(totals)
    return CalibrationResults(
        calibration_id=calibration_id,
        calls=len(answers),
        items=tuple(item_agreement(answers)),
        icc=icc,
        icc_calls=icc_calls,
        baseline=expert or "consensus",
        deviations=tuple(reviewer_deviations(totals, expert=expert)),
    )
