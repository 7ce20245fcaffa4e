"""What the calibration pages show beside `calibration.py`: the list of sessions, who has
submitted, the side-by-side answers once the session is revealed, and the agreement
figures put into words.

The blind rule stays where it is (`queries.may_see`, `calibration_revealed`): progress
says only how many evaluations each participant has submitted, never an answer, and the
side-by-side comparison refuses to exist before the session is revealed.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from qm.domain.evaluations.queries import (
    calibration_revealed,
    may_open_calibration,
    may_see,
    participants,
)
from qm.errors import Conflict
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import (
    CalibrationSession,
    CalibrationState,
    Evaluation,
    EvaluationForm,
    EvaluationState,
    Role,
    User,
)

ORGANISERS = (Role.MANAGER, Role.ADMIN)  # who creates, closes and oversees sessions
STILL_BLIND = N_("calibration session {id} is still blind: it is revealed once closed or complete")

# Landis & Koch (1977): the usual reading of kappa in QA calibration. Each band is
# (upper bound, meaning); a kappa up to the bound (inclusive) has that meaning.
KAPPA_BANDS = (
    (0.0, N_("poor: no better than chance")),
    (0.20, N_("slight agreement")),
    (0.40, N_("fair agreement")),
    (0.60, N_("moderate agreement")),
    (0.80, N_("substantial agreement")),
    (1.0, N_("almost perfect agreement")),
)
# Koo & Li (2016), the common reading of an ICC: (upper bound, meaning), upper excluded.
ICC_BANDS = (
    (0.50, N_("poor reliability: the reviewers' totals differ a lot")),
    (0.75, N_("moderate reliability")),
    (0.90, N_("good reliability")),
)
ICC_TOP = N_("excellent reliability: the reviewers' totals nearly coincide")
KAPPA_UNDEFINED = N_("not defined: every reviewer gave the same single answer on every call")
NOT_ENOUGH = N_("not enough submitted calls to compute")


def kappa_meaning(kappa: float | None, observed: float | None) -> str:
    """Kappa in words (Landis & Koch); says why when there is no kappa."""
    if kappa is None:
        return KAPPA_UNDEFINED if observed == 1.0 else NOT_ENOUGH
    for bound, meaning in KAPPA_BANDS:
        if kappa <= bound:
            return meaning
    return KAPPA_BANDS[-1][1]


def icc_meaning(icc: float | None) -> str:
    """ICC(2,1) in words (Koo & Li)."""
    if icc is None:
        return NOT_ENOUGH
    for bound, meaning in ICC_BANDS:
        if icc < bound:
            return meaning
    return ICC_TOP


@dataclass(frozen=True, slots=True)
class SessionLine:
    """One calibration session in the list, with how far it has got."""

    id: int
    name: str
    form_key: str
    form_version: int
    state: CalibrationState
    calls: int
    participants: int
    submitted: int
    expected: int
    revealed: bool
    created_by: str
    created_at: datetime
    takes_part: bool  # the viewer scores in it


@dataclass(frozen=True, slots=True)
class Participant:
    """A participant of a session and how many of their evaluations are submitted."""

    user_id: int
    username: str
    display_name: str
    expert: bool
    submitted: int
    expected: int


@dataclass(frozen=True, slots=True)
class ItemAnswers:
    """One form item of one call: every participant's answer, in participant order.

    An answer is None where the participant has not submitted (or answered) it.
    `disagree` is True when the submitted answers are not all the same.
    """

    item_id: str
    label: str
    answers: tuple[str | int | None, ...]
    comments: tuple[str, ...]
    auto: str | int | None
    disagree: bool


@dataclass(frozen=True, slots=True)
class CallAnswers:
    """One call of the session: the items side by side and each participant's total."""

    call_id: str
    items: tuple[ItemAnswers, ...]
    totals: tuple[float | None, ...]
    disagreements: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """The whole session side by side; participants in the column order of every row."""

    participants: tuple[Participant, ...]
    calls: tuple[CallAnswers, ...]
    hidden: int  # submitted evaluations the viewer may not see (another team's agent)


def _session_evaluations(session: Session, calibration_ids: list[int]) -> list[Evaluation]:
    if not calibration_ids:
        return []
    return list(
        session.exec(
            select(Evaluation)
            .where(col(Evaluation.calibration_id).in_(calibration_ids))
            .order_by(col(Evaluation.id))
        ).all()
    )


def list_calibrations(session: Session, viewer: User) -> list[SessionLine]:
    """The sessions `viewer` may open (`may_open_calibration`), newest first."""
    rows = session.exec(
        select(CalibrationSession).order_by(col(CalibrationSession.id).desc())
    ).all()
    rows = [r for r in rows if may_open_calibration(session, viewer, r)]
    forms = {
        f.id: f
        for f in session.exec(
            select(EvaluationForm).where(col(EvaluationForm.id).in_({r.form_id for r in rows}))
        ).all()
    }
    evaluations = _session_evaluations(session, [r.id or 0 for r in rows])
    lines = []
    for row in rows:
        mine = [e for e in evaluations if e.calibration_id == row.id]
        form = forms.get(row.form_id)
        submitted = sum(e.state != EvaluationState.DRAFT for e in mine)
        lines.append(
            SessionLine(
                id=row.id or 0,
                name=row.name,
                form_key="" if form is None else form.key,
                form_version=0 if form is None else form.version,
                state=CalibrationState(row.state),
                calls=len(row.call_ids),
                participants=len(participants(row)),
                submitted=submitted,
                expected=len(mine),
                revealed=row.state == CalibrationState.CLOSED or submitted == len(mine),
                created_by=row.created_by,
                created_at=row.created_at,
                takes_part=viewer.id in participants(row),
            )
        )
    return lines


def _people(session: Session, calibration: CalibrationSession) -> list[User]:
    """The participants in a stable order: the reviewers as named, then the expert."""
    ids = list(calibration.reviewer_ids)
    if calibration.expert_id is not None and calibration.expert_id not in ids:
        ids.append(calibration.expert_id)
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}
    return [users[i] for i in ids if i in users]


def session_progress(session: Session, calibration: CalibrationSession) -> list[Participant]:
    """Each participant with their submitted and expected evaluation counts.

    No answer is read out, so this is safe to show while the session is blind; the
    caller has checked that the viewer may open the session (`calibration_view`).
    """
    evaluations = _session_evaluations(session, [calibration.id or 0])
    result = []
    for user in _people(session, calibration):
        theirs = [e for e in evaluations if e.reviewer_id == user.id]
        result.append(
            Participant(
                user_id=user.id or 0,
                username=user.username,
                display_name=user.display_name or user.username,
                expert=user.id == calibration.expert_id,
                submitted=sum(e.state != EvaluationState.DRAFT for e in theirs),
                expected=len(theirs),
            )
        )
    return result


def _item_labels(form: EvaluationForm | None) -> list[tuple[str, str]]:
    if form is None:
        return []
    return [
        (item["id"], item.get("label") or item["id"])
        for section in form.body["sections"]
        for item in section["items"]
    ]


def compare_answers(session: Session, calibration: CalibrationSession, viewer: User) -> Comparison:
    """Every participant's submitted answers side by side, per call and item.

    Drafts are shown as no answer, as the agreement figures leave them out. An
    evaluation the viewer may not see (a manager's view of another team's agent) is
    shown as no answer too.

    Raises:
        Conflict: the session is not revealed yet (closed, or every evaluation submitted).
    """
    if not calibration_revealed(session, calibration):
        raise Conflict(_(STILL_BLIND).format(id=calibration.id))
    people = session_progress(session, calibration)
    column = {p.user_id: i for i, p in enumerate(people)}
    labels = _item_labels(session.get(EvaluationForm, calibration.form_id))
    by_call: dict[str, dict[int, Evaluation]] = {}
    hidden = 0
    for evaluation in _session_evaluations(session, [calibration.id or 0]):
        if evaluation.state == EvaluationState.DRAFT or evaluation.reviewer_id not in column:
            continue
        if may_see(session, viewer, evaluation):
            by_call.setdefault(evaluation.call_id, {})[evaluation.reviewer_id] = evaluation
        else:
            hidden += 1
    calls = []
    for call_id in calibration.call_ids:
        scored = by_call.get(call_id, {})
        ordered = [scored.get(p.user_id) for p in people]
        items = []
        for item_id, label in labels:
            entries = [None if e is None else e.answers.get(item_id) for e in ordered]
            answers = tuple(None if x is None else x.get("answer") for x in entries)
            given = {str(a) for a in answers if a is not None}
            auto = next((x.get("auto") for x in entries if x is not None), None)
            items.append(
                ItemAnswers(
                    item_id=item_id,
                    label=label,
                    answers=answers,
                    comments=tuple("" if x is None else x.get("comment") or "" for x in entries),
                    auto=auto,
                    disagree=len(given) > 1,
                )
            )
        calls.append(
            CallAnswers(
                call_id=call_id,
                items=tuple(items),
                totals=tuple(None if e is None else e.total for e in ordered),
                disagreements=sum(i.disagree for i in items),
            )
        )
    return Comparison(participants=tuple(people), calls=tuple(calls), hidden=hidden)
