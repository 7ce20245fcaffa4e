"""`POST /api/calibrations` and `GET /api/calibrations/{id}`: blind calibration sessions.

Managers and admins open sessions; the participants (reviewers and expert) and the
organisers read them; anyone else gets 404, as for a session that does not exist. While
a session is blind, a participant's body lists only their own evaluations and carries no
figures; `results` appears once it is closed or everyone has submitted. Calibration
evaluations never count in scorecards (`counts_in_scorecards` is always false).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Body, FromPath
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain.evaluations.calibration import (
    MAX_CALLS,
    calibration_results,
    calibration_view,
)
from qm.domain.evaluations.calibration_summary import (
    icc_meaning,
    kappa_meaning,
    session_progress,
)
from qm.domain.users import get_user
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import CalibrationSession, Role, User
from qm.web.api_input import row_id
from qm.web.calibrations import WHERE, check_call_id, open_session

MAX_PEOPLE = 100  # reviewers named in one request: far more than any session needs


@dataclass
class CalibrationRequest:
    """A new session: the latest version of form `form_id` (the form's key), the calls,
    the reviewers' usernames and optionally an expert whose totals are the baseline."""

    name: str
    form_id: str
    call_ids: list[str]
    reviewers: list[str]
    expert: str | None = None


@dataclass
class ParticipantBody:
    """A participant and how many of their evaluations are submitted."""

    username: str
    display_name: str
    expert: bool
    submitted: int
    expected: int


@dataclass
class EvaluationRef:
    """One of the session's evaluations the caller may see (`GET /api/evaluations/{id}`)."""

    id: int
    call_id: str
    reviewer: str
    state: str
    total: float | None


@dataclass
class ItemAgreementBody:
    """Agreement on one form item: share of identical answers, kappa and its meaning."""

    item_id: str
    calls: int
    observed: float | None
    kappa: float | None
    method: str
    meaning: str


@dataclass
class DeviationBody:
    """How one reviewer's totals differ from the baseline (points; positive: more lenient)."""

    reviewer: str
    calls: int
    mean_signed: float | None
    mean_absolute: float | None


@dataclass
class ResultsBody:
    """The agreement figures over the submitted evaluations."""

    calls: int
    items: list[ItemAgreementBody]
    icc_2_1: float | None
    icc_calls: int
    icc_meaning: str
    baseline: str
    deviations: list[DeviationBody]


@dataclass
class CalibrationBody:
    """A session as the caller may see it."""

    id: int
    name: str
    form_id: str
    form_version: int
    state: str
    revealed: bool
    counts_in_scorecards: bool
    call_ids: list[str]
    created_by: str
    created_at: datetime
    submitted: int
    expected: int
    participants: list[ParticipantBody]
    evaluations: list[EvaluationRef]
    results: ResultsBody | None


def calibration_body(db: Session, calibration_id: int, viewer: User) -> CalibrationBody:
    """The session's body for `viewer`.

    Raises:
        NotFound: no such session, or `viewer` neither takes part nor organises.
    """
    view = calibration_view(db, calibration_id, viewer)
    calibration = db.get(CalibrationSession, calibration_id)
    if calibration is None:  # calibration_view has just found it
        raise NotFound(
            _("no calibration session %(calibration_id)s", calibration_id=calibration_id)
        )
    progress = session_progress(db, calibration)
    usernames = {p.user_id: p.username for p in progress}
    results = None
    if view.revealed:
        r = calibration_results(db, calibration_id)
        results = ResultsBody(
            calls=r.calls,
            items=[
                ItemAgreementBody(
                    a.item_id,
                    a.calls,
                    a.observed,
                    a.kappa,
                    a.method,
                    kappa_meaning(a.kappa, a.observed),
                )
                for a in r.items
            ],
            icc_2_1=r.icc,
            icc_calls=r.icc_calls,
            icc_meaning=icc_meaning(r.icc),
            baseline=r.baseline,
            deviations=[
                DeviationBody(d.reviewer, d.calls, d.mean_signed, d.mean_absolute)
                for d in r.deviations
            ],
        )
    return CalibrationBody(
        id=view.id,
        name=view.name,
        form_id=view.form_key,
        form_version=view.form_version,
        state=view.state.value,
        revealed=view.revealed,
        counts_in_scorecards=False,
        call_ids=list(view.call_ids),
        created_by=view.created_by,
        created_at=view.created_at,
        submitted=view.submitted,
        expected=view.expected,
        participants=[
            ParticipantBody(p.username, p.display_name, p.expert, p.submitted, p.expected)
            for p in progress
        ],
        evaluations=[
            EvaluationRef(
                e.id,
                e.call_id,
                usernames.get(e.reviewer_id, str(e.reviewer_id)),
                e.state.value,
                e.total,
            )
            for e in view.evaluations
        ],
        results=results,
    )


def _person(db: Session, username: str, field: str) -> User:
    try:
        return get_user(db, username)
    except NotFound:
        raise ValidationFailed(
            WHERE, None, field, _("no user named %(username)s", username=repr(username))
        ) from None


class CalibrationApiController(Controller):
    """Blind calibration sessions and their agreement figures."""

    path = "/api/calibrations"

    @post("/", sync_to_thread=True, guards=[requires_role(Role.MANAGER, Role.ADMIN)])
    def create(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[CalibrationRequest, Body(description="The new session.")],
    ) -> CalibrationBody:
        """Open a session (managers and admins) with one blind draft per participant and
        call; answers with the session as the organiser sees it."""
        if len(data.reviewers) > MAX_PEOPLE:
            raise ValidationFailed(
                WHERE, None, "reviewers", _("name at most %(max_people)s", max_people=MAX_PEOPLE)
            )
        if len(data.call_ids) > MAX_CALLS:
            raise ValidationFailed(
                WHERE, None, "call_ids", _("name at most %(max_calls)s calls", max_calls=MAX_CALLS)
            )
        for call_id in data.call_ids:
            check_call_id(call_id)
        reviewers = [_person(db, name, "reviewers") for name in dict.fromkeys(data.reviewers)]
        expert = None if data.expert is None else _person(db, data.expert, "expert")
        calibration = open_session(
            db,
            actor=request.user,
            name=data.name,
            form_key=data.form_id,
            call_ids=data.call_ids,
            reviewers=reviewers,
            expert=expert,
            form_field="form_id",
        )
        db.flush()
        return calibration_body(db, calibration.id or 0, request.user)

    @get("/{calibration_id:int}", sync_to_thread=True)
    def read(
        self,
        calibration_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> CalibrationBody:
        """The session: participants, progress, the evaluations the caller may see and,
        once revealed, kappa per item, ICC of the totals and each reviewer's deviation."""
        return calibration_body(db, row_id(calibration_id, "calibration session"), request.user)
