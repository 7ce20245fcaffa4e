"""Calibration pages: the sessions list, a form to open a session, and one session's page.

A manager (or admin) picks calls, a form, the reviewers and optionally an expert; each
participant then scores the calls blind on the call page (`/calls/{id}?evaluation=N`).
The session page shows a participant their own evaluations and the organiser who has
submitted; once the session is closed (or everyone has submitted) it shows every answer
side by side with the agreement figures of `scoring.calibration`. Calibration
evaluations never count in scorecards.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain.bounds import MAX_CALL_ID, normalize, text_problem
from qm.domain.calls import listing
from qm.domain.evaluations.calibration import (
    MAX_CALLS,
    calibration_results,
    calibration_view,
    close_calibration,
    create_calibration,
)
from qm.domain.evaluations.calibration_summary import (
    ORGANISERS,
    compare_answers,
    icc_meaning,
    kappa_meaning,
    list_calibrations,
    session_progress,
)
from qm.domain.evaluations.commands import REVIEWER_ROLES
from qm.domain.evaluations.forms import list_forms
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import CalibrationSession, Role, User
from qm.settings import Settings
from qm.web.api_input import row_id
from qm.web.call_query import FILTER_KEYS, parse_call_query, refuse_repeats

WHERE = "calibration session"  # the "file" a ValidationFailed about the form names
# Pasted call ids may be separated by spaces, commas, semicolons or line breaks.
ID_SEPARATORS = re.compile(r"[\s,;]+")


def check_call_id(value: str) -> None:
    """Refuse an id no call could have (too long, a control character), naming the field.

    Raises:
        ValidationFailed: naming `call_ids`.
    """
    problem = text_problem(value, MAX_CALL_ID)
    if problem is not None:
        raise ValidationFailed(
            WHERE,
            None,
            "call_ids",
            _("%(value)s %(problem)s", value=repr(value[:40]), problem=problem),
        )


def split_call_ids(checked: Sequence[str], pasted: str) -> list[str]:
    """The call ids ticked in the search results and pasted in the text box, in order,
    each once; an id that no call could have is refused naming the field.

    Raises:
        ValidationFailed: an id is too long or holds a control character, or there are
            more than a session takes.
    """
    ids: list[str] = []
    for raw in [*checked, *ID_SEPARATORS.split(pasted)]:
        value = normalize(raw)
        if not value:
            continue
        check_call_id(value)
        if value not in ids:
            ids.append(value)
        if len(ids) > MAX_CALLS:
            raise ValidationFailed(
                WHERE, None, "call_ids", _("name at most %(max_calls)s calls", max_calls=MAX_CALLS)
            )
    return ids


def candidates(db: Session) -> list[User]:
    """The people who can score a session: active reviewers, managers and admins."""
    rows = db.exec(select(User).order_by(col(User.username))).all()
    return [u for u in rows if u.active and u.role in REVIEWER_ROLES]


def _listify(value: list[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@dataclass
class CalibrationForm:
    """The new-session form. A checkbox group sends one value as a plain string."""

    name: str = ""
    form_key: str = ""
    call_ids: list[str] | str = field(default_factory=list)
    pasted_ids: str = ""
    reviewer_ids: list[str] | str = field(default_factory=list)
    expert_id: str = ""

    def reviewers(self) -> list[int]:
        """The ticked reviewers' user ids."""
        return [self._user_id(v, "reviewers") for v in _listify(self.reviewer_ids)]

    def expert(self) -> int | None:
        """The expert's user id, or None for the consensus."""
        return self._user_id(self.expert_id, "expert") if self.expert_id.strip() else None

    @staticmethod
    def _user_id(raw: str, name: str) -> int:
        if not raw.strip().isdigit() or len(raw) > 18:
            raise ValidationFailed(
                WHERE, None, name, _("%(raw)s is not a user id", raw=repr(raw[:40]))
            )
        return int(raw)


def _users(db: Session, ids: Sequence[int], name: str) -> list[User]:
    found = {u.id: u for u in db.exec(select(User).where(col(User.id).in_(ids))).all()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(
            WHERE, None, name, _("no user with id %(missing)s", missing=missing[0])
        )
    return [found[i] for i in ids]


def open_session(
    db: Session,
    *,
    actor: User,
    name: str,
    form_key: str,
    call_ids: Sequence[str],
    reviewers: Sequence[User],
    expert: User | None,
    form_field: str = "form_key",
) -> CalibrationSession:
    """`create_calibration`, with the expert kept out of the reviewers (they are the
    baseline, not one of the people compared with it) and a missing call or form
    reported as bad input naming the field (`form_field` for the form)."""
    problem = text_problem(name, 200)
    if problem is not None:
        raise ValidationFailed(WHERE, None, "name", problem)
    reviewers = [u for u in reviewers if expert is None or u.id != expert.id]
    try:
        return create_calibration(
            db,
            actor=actor,
            name=name,
            form_key=form_key,
            call_ids=call_ids,
            reviewers=reviewers,
            expert=expert,
        )
    except NotFound as exc:
        # Only the form and the calls are looked up: both were named by the caller.
        missing_form = _("no evaluation form %(key)s", key=repr(form_key))
        field_name = form_field if str(exc) == missing_form else "call_ids"
        raise ValidationFailed(WHERE, None, field_name, str(exc)) from None


def _new_page(
    db: Session,
    request: Request[User, Any, State],
    settings: Settings,
    form: CalibrationForm,
    error: str | None,
    status: int = 200,
) -> Template:
    params = request.query_params
    refuse_repeats(params)
    values = {k: params[k] for k in FILTER_KEYS if params.get(k)}
    query = parse_call_query(values)
    found = listing.list_calls(
        db,
        filters=query.filters,
        page=1,
        page_size=settings.page_size,
        viewer=request.user,
        tz=settings.tz,
    )
    context = {
        "form": form,
        "checked": set(_listify(form.call_ids)),
        "chosen": {str(v) for v in _listify(form.reviewer_ids)},
        "forms": list_forms(db),
        "people": candidates(db),
        "found": found,
        "filters": values,
        "options": listing.filter_options(db, request.user),
        "error": error,
    }
    return Template(template_name="calibrations/new.html", context=context, status_code=status)


class CalibrationController(Controller):
    """Blind calibration sessions in the browser."""

    path = "/calibrations"
    include_in_schema = False

    @get("/", sync_to_thread=True, guards=[requires_role(*REVIEWER_ROLES)])
    def list_sessions(
        self, request: Request[User, Any, State], db: NamedDependency[Session]
    ) -> Template:
        """Managers and admins: every session; reviewers: the ones they score in."""
        context = {
            "sessions": list_calibrations(db, request.user),
            "organiser": request.user.role in ORGANISERS,
        }
        return Template(template_name="calibrations/list.html", context=context)

    @get("/new", sync_to_thread=True, guards=[requires_role(Role.MANAGER, Role.ADMIN)])
    def new_session(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The form: find calls (the call list's filters) or paste ids, pick the rest."""
        return _new_page(db, request, settings, CalibrationForm(), None)

    @post("/", sync_to_thread=True, guards=[requires_role(Role.MANAGER, Role.ADMIN)])
    def create_session(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: URLEncodedBody[CalibrationForm],
    ) -> Redirect | Template:
        """Open the session with one blind draft per participant and call."""
        try:
            expert_id = data.expert()
            reviewers = _users(db, data.reviewers(), "reviewers")
            expert = None if expert_id is None else _users(db, [expert_id], "expert")[0]
            calibration = open_session(
                db,
                actor=request.user,
                name=data.name,
                form_key=data.form_key,
                call_ids=split_call_ids(_listify(data.call_ids), data.pasted_ids),
                reviewers=reviewers,
                expert=expert,
            )
        except ValidationFailed as exc:
            # Raised before anything is written, so the session stays clean.
            return _new_page(db, request, settings, data, str(exc), 422)
        return Redirect(f"/calibrations/{calibration.id}", status_code=303)

    @get("/{calibration_id:int}", sync_to_thread=True)
    def show_session(
        self,
        calibration_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Template:
        """A participant's evaluations to fill, the organiser's progress, and once
        revealed the answers side by side with the agreement figures."""
        viewer = request.user
        calibration_id = row_id(calibration_id, "calibration session")
        view = calibration_view(db, calibration_id, viewer)
        calibration = db.get(CalibrationSession, calibration_id)
        if calibration is None:  # calibration_view has just found it
            raise NotFound(
                _("no calibration session %(calibration_id)s", calibration_id=calibration_id)
            )
        progress = session_progress(db, calibration)
        names = {p.username: p.display_name for p in progress}
        context: dict[str, Any] = {
            "view": view,
            "progress": progress,
            "mine": [e for e in view.evaluations if e.reviewer_id == viewer.id],
            "organiser": viewer.role in ORGANISERS,
            "participant": any(p.user_id == viewer.id for p in progress),
            "results": None,
            "comparison": None,
            "names": names,
            "kappa_meaning": kappa_meaning,
            "icc_meaning": icc_meaning,
        }
        if view.revealed:
            context["results"] = calibration_results(db, calibration_id)
            context["comparison"] = compare_answers(db, calibration, viewer)
        return Template(template_name="calibrations/detail.html", context=context)

    @post(
        "/{calibration_id:int}/close",
        sync_to_thread=True,
        guards=[requires_role(Role.MANAGER, Role.ADMIN)],
    )
    def close_session(
        self,
        calibration_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Close and compare: no more answers; everything is revealed."""
        calibration_id = row_id(calibration_id, "calibration session")
        calibration_view(db, calibration_id, request.user)  # 404 before 409
        close_calibration(db, calibration_id, actor=request.user)
        return Redirect(f"/calibrations/{calibration_id}", status_code=303)
