"""The evaluation form beside the transcript: start, answer, save, submit and release.

The form is part of the call page (`/calls/{call_id}?evaluation={id}`); this module
builds what the page shows of it (`evaluation_panel`) and takes its posts:

    POST /calls/{call_id}/evaluations       start a draft (the form assigned to the call)
    GET  /evaluations/{id}                  to the call page, with the form open
    POST /evaluations/{id}                  save answers and comments (the version read)
    POST /evaluations/{id}/submit           save, then hand in
    POST /evaluations/{id}/release          show it to the agent
    GET  /evaluations/{id}/total            the total the answers in the query would give

Every write goes through `qm.domain.evaluations.commands` and answers 303 back to the
call page, so that reloading never posts twice. A save on an old version is refused
with 409 (the domain's message says by whom and what to do) and stores nothing.

A calibration evaluation is blind: its panel never shows anyone else's answers, nor
reviewers' key-point decisions, only the machine's suggestion.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session

from qm.domain.bounds import MAX_ROW_ID
from qm.domain.calls.visibility import visible_call
from qm.domain.evaluations import commands
from qm.domain.evaluations.forms import form_for_call, parsed_form
from qm.domain.evaluations.queries import (
    EvaluationRow,
    evaluation_history,
    evaluations_for_call,
    visible_evaluation,
)
from qm.errors import Conflict, NotFound, ValidationFailed
from qm.i18n import N_, gettext, library_message
from qm.models import (
    Call,
    Evaluation,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    Role,
    User,
)
from scoring.forms import Answer, Form, FormError, FormItem, FormSection, score_evaluation

MAX_WHY = 2000  # characters of the reason given for a change

# The choices of each item type, as (value, label); a scale is 1-5, a count is typed in.
CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "yes_no": (("yes", N_("Yes")), ("no", N_("No"))),
    "partial": (("yes", N_("Yes")), ("partial", N_("Partly")), ("no", N_("No"))),
    "scale": tuple((str(n), str(n)) for n in range(1, 6)),
    "count": (),
}
NA = ("na", N_("N/A"))


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One question of the open form with its answers."""

    item: FormItem
    answer: Answer | None
    comment: str
    # The suggestion the draft was prefilled with, and where it came from.
    auto: Answer | None
    machine: Answer | None
    override_by: str | None
    evidence: dict[str, Any] | None
    choices: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SectionRows:
    """One section of the open form."""

    section: FormSection
    items: tuple[ItemRow, ...]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One line of the evaluation's history, old and new already put into words."""

    version: int
    at: datetime
    actor: str
    action: str
    item_id: str | None
    old: str
    new: str
    why: str


@dataclass(frozen=True, slots=True)
class EvaluationPanel:
    """The open evaluation, as the call page shows it."""

    evaluation: Evaluation
    form_row: EvaluationForm
    form: Form
    reviewer: str
    sections: tuple[SectionRows, ...]
    history: tuple[HistoryRow, ...]
    editable: bool
    can_submit: bool
    can_release: bool
    blind: bool
    unanswered: int


@dataclass(frozen=True, slots=True)
class CallEvaluations:
    """What the call page shows of the call's evaluations."""

    panel: EvaluationPanel | None
    listed: list[EvaluationRow] = field(default_factory=list)
    # The form a new evaluation would use, when the viewer may start one.
    start_form: EvaluationForm | None = None
    # The viewer's own evaluation of the call still being worked on: continued, not doubled.
    resume: EvaluationRow | None = None


def _words(value: Any) -> str:
    """A history value as text: `answer: yes, comment: ...`, a state, or a dash."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        parts = [f"{k}: {'—' if v in (None, '') else v}" for k, v in value.items()]
        return ", ".join(parts)
    return str(value)


def _item_rows(evaluation: Evaluation, form: Form, blind: bool) -> tuple[SectionRows, ...]:
    sections = []
    for section in form.sections:
        rows = []
        for item in section.items:
            stored = evaluation.answers.get(item.id, {})
            machine = stored.get("auto")
            override = stored.get("override") if isinstance(stored.get("override"), dict) else None
            evidence = stored.get("evidence") if isinstance(stored.get("evidence"), dict) else None
            if blind and override is not None:
                # A reviewer's decision is someone else's answer: show the machine's only.
                evidence, override = None, None
            choices = CHOICES[item.type] + ((NA,) if item.na_allowed else ())
            rows.append(
                ItemRow(
                    item=item,
                    answer=stored.get("answer"),
                    comment=stored.get("comment") or "",
                    auto=machine if blind else stored.get("decided", machine),
                    machine=machine,
                    override_by=None if override is None else str(override.get("by", "")),
                    evidence=evidence,
                    choices=choices,
                )
            )
        sections.append(SectionRows(section, tuple(rows)))
    return tuple(sections)


def evaluation_panel(
    session: Session, call: Call, viewer: User, evaluation_id: int
) -> EvaluationPanel:
    """The evaluation `evaluation_id` of `call`, as `viewer` may see and work on it.

    Raises:
        NotFound: no such evaluation, `viewer` may not see it, or it is of another call.
    """
    evaluation = visible_evaluation(session, evaluation_id, viewer)
    if evaluation.call_id != call.id:
        raise NotFound(gettext("no evaluation %(evaluation_id)s", evaluation_id=evaluation_id))
    form_row = session.get(EvaluationForm, evaluation.form_id)
    if form_row is None:  # the foreign key makes this impossible
        raise NotFound(gettext("no evaluation %(evaluation_id)s", evaluation_id=evaluation_id))
    form = parsed_form(form_row)
    reviewer = session.get(User, evaluation.reviewer_id)
    own = viewer.id == evaluation.reviewer_id and viewer.role != Role.AGENT
    state = EvaluationState(evaluation.state)
    blind = evaluation.kind == EvaluationKind.CALIBRATION
    history = tuple(
        HistoryRow(
            h.version, h.at, h.actor, h.action, h.item_id, _words(h.old), _words(h.new), h.why
        )
        for h in evaluation_history(session, evaluation_id, viewer)
    )
    return EvaluationPanel(
        evaluation=evaluation,
        form_row=form_row,
        form=form,
        reviewer=reviewer.username if reviewer else str(evaluation.reviewer_id),
        sections=_item_rows(evaluation, form, blind),
        history=history,
        editable=own and state in commands.EDITABLE,
        can_submit=own and state == EvaluationState.DRAFT,
        can_release=(
            viewer.role in commands.REVIEWER_ROLES
            and state == EvaluationState.SUBMITTED
            and evaluation.kind == EvaluationKind.STANDARD
        ),
        blind=blind,
        unanswered=sum(1 for v in evaluation.answers.values() if v.get("answer") is None),
    )


def call_evaluations(
    session: Session, call: Call, viewer: User, evaluation_id: int | None
) -> CallEvaluations:
    """The open evaluation (if any), the call's other evaluations and whether one can start.

    While a calibration evaluation is open, nothing else is listed: it is scored blind.
    """
    panel = evaluation_panel(session, call, viewer, evaluation_id) if evaluation_id else None
    if panel is not None and panel.blind:
        return CallEvaluations(panel=panel)
    listed = [
        row
        for row in evaluations_for_call(session, call.id, viewer)
        if row.kind != EvaluationKind.CALIBRATION or panel is None
    ]
    resume = next(
        (
            row
            for row in listed
            if row.reviewer_id == viewer.id
            and row.kind == EvaluationKind.STANDARD
            and row.state in commands.EDITABLE
        ),
        None,
    )
    start_form = None
    if resume is None and commands.may_evaluate_agent(session, viewer, call.agent_id):
        start_form = form_for_call(session, call)
    return CallEvaluations(panel=panel, listed=listed, start_form=start_form, resume=resume)


def _call_page(call_id: str, evaluation_id: int | None = None, anchor: str = "evaluation") -> str:
    url = f"/calls/{quote(call_id, safe='')}"
    if evaluation_id is not None:
        url += f"?evaluation={evaluation_id}"
    return f"{url}#{anchor}"


def _answer(item: FormItem, data: dict[str, str], where: str) -> Answer | None:
    """The answer the posted fields give for `item`; None when left open."""
    if data.get(f"na.{item.id}"):
        return "na"
    raw = (data.get(f"answer.{item.id}") or "").strip()
    if raw == "":
        return None
    if raw == "na" or item.type in ("yes_no", "partial"):
        return raw
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise ValidationFailed(
            where, None, f"answers.{item.id}", gettext("expected a whole number")
        )
    return int(raw)


def posted_answers(form: Form, data: dict[str, str], where: str) -> dict[str, dict[str, Any]]:
    """`{item_id: {"answer", "comment"}}` from the posted form, for the items it holds.

    An item is in the post when its comment field is (every editable item has one).
    """
    answers: dict[str, dict[str, Any]] = {}
    for item in form.items().values():
        if f"comment.{item.id}" not in data:
            continue
        answers[item.id] = {
            "answer": _answer(item, data, where),
            "comment": data[f"comment.{item.id}"].replace("\r\n", "\n").strip(),
        }
    return answers


def _version(data: dict[str, str], where: str) -> int:
    raw = data.get("version", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ValidationFailed(
            where, None, "version", gettext("expected the version the form was read at")
        )
    return int(raw)


def _why(data: dict[str, str], where: str) -> str:
    why = (data.get("why") or "").strip()
    if len(why) > MAX_WHY:
        raise ValidationFailed(
            where, None, "why", gettext("at most %(max_why)s characters", max_why=MAX_WHY)
        )
    return why


def _stale_page(
    evaluation: Evaluation, form: Form, answers: dict[str, dict[str, Any]], message: str
) -> Template:
    """409: someone saved first. Nothing was stored; the answers typed are shown so that
    they can be entered again on the reloaded form."""
    items = form.items()
    typed = [
        (items[item_id], entry["answer"], entry["comment"])
        for item_id, entry in answers.items()
        if entry["answer"] is not None or entry["comment"]
    ]
    context = {"evaluation": evaluation, "message": message, "typed": typed}
    return Template(template_name="evaluations/stale.html", context=context, status_code=409)


def _save(
    session: Session, evaluation: Evaluation, actor: User, data: dict[str, str]
) -> Template | None:
    """Save the posted answers; the 409 page when the form was read at an older version."""
    where = f"evaluation {evaluation.id}"
    form_row = session.get(EvaluationForm, evaluation.form_id)
    if form_row is None:  # the foreign key makes this impossible
        raise NotFound(gettext("no evaluation %(id)s", id=evaluation.id))
    form = parsed_form(form_row)
    answers = posted_answers(form, data, where)
    version = _version(data, where)
    try:
        commands.save_answers(
            session,
            evaluation.id or 0,
            actor=actor,
            version=version,
            answers=answers,
            why=_why(data, where),
        )
    except Conflict as exc:
        if str(exc) != commands.STALE.format(id=evaluation.id, version=version):
            raise  # another conflict (the wrong state, a closed calibration session)
        return _stale_page(evaluation, form, answers, str(exc))
    return None


EvaluationId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]


class EvaluationPagesController(Controller):
    """The evaluation form's posts (the form itself is drawn on the call page)."""

    include_in_schema = False

    @post("/calls/{call_id:str}/evaluations", sync_to_thread=True, status_code=303)
    def start(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Start a draft on the form assigned to the call, prefilled, and open it."""
        call = visible_call(db, call_id, request.user)
        evaluation = commands.start_evaluation(db, call.id, actor=request.user)
        return Redirect(_call_page(call.id, evaluation.id), status_code=303)

    @get("/evaluations/{evaluation_id:int}", sync_to_thread=True)
    def show(
        self,
        evaluation_id: EvaluationId,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """The call page with this evaluation's form open."""
        evaluation = visible_evaluation(db, evaluation_id, request.user)
        return Redirect(_call_page(evaluation.call_id, evaluation.id), status_code=303)

    @post("/evaluations/{evaluation_id:int}", sync_to_thread=True, status_code=303)
    def save(
        self,
        evaluation_id: EvaluationId,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect | Template:
        """Save the posted answers and comments as one new version (a draft stays open)."""
        evaluation = visible_evaluation(db, evaluation_id, request.user)
        stale = _save(db, evaluation, request.user, data)
        return stale or Redirect(_call_page(evaluation.call_id, evaluation.id), status_code=303)

    @post("/evaluations/{evaluation_id:int}/submit", sync_to_thread=True, status_code=303)
    def submit(
        self,
        evaluation_id: EvaluationId,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect | Template:
        """Save the posted answers, then hand the evaluation in (all in one transaction)."""
        evaluation = visible_evaluation(db, evaluation_id, request.user)
        if "version" in data and (stale := _save(db, evaluation, request.user, data)):
            return stale
        commands.submit(db, evaluation_id, actor=request.user)
        return Redirect(_call_page(evaluation.call_id, evaluation.id), status_code=303)

    @post("/evaluations/{evaluation_id:int}/release", sync_to_thread=True, status_code=303)
    def release(
        self,
        evaluation_id: EvaluationId,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Redirect:
        """Release a submitted evaluation to the agent."""
        evaluation = commands.release(db, evaluation_id, actor=request.user)
        return Redirect(_call_page(evaluation.call_id, evaluation.id), status_code=303)

    @get("/evaluations/{evaluation_id:int}/total", sync_to_thread=True)
    def total(
        self,
        evaluation_id: EvaluationId,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> dict[str, Any]:
        """The total the answers in the query string would give, scored as the server does.

        The query holds the form's own fields (`answer.<item>`, `na.<item>`); the page
        asks on every change so the number it shows is exactly the one stored on saving.
        """
        evaluation = visible_evaluation(db, evaluation_id, request.user)
        form_row = db.get(EvaluationForm, evaluation.form_id)
        if form_row is None:  # the foreign key makes this impossible
            raise NotFound(gettext("no evaluation %(evaluation_id)s", evaluation_id=evaluation_id))
        form = parsed_form(form_row)
        where = f"evaluation {evaluation_id}"
        query = {k: str(v) for k, v in request.query_params.items()}
        answers = {item.id: _answer(item, query, where) for item in form.items().values()}
        open_items = sorted(k for k, v in answers.items() if v is None)
        if open_items:
            return {"total": None, "critical_failed": False, "unanswered": open_items}
        try:
            score = score_evaluation(form, {k: v for k, v in answers.items() if v is not None})
        except FormError as exc:
            field = f"answers.{exc.field}" if exc.field else "answers"
            raise ValidationFailed(where, None, field, library_message(exc)) from exc
        return {
            "total": None if score.total is None else round(score.total, 2),
            "critical_failed": score.critical_failed,
            "unanswered": [],
        }
