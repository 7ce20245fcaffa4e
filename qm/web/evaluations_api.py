"""The review loop over JSON: evaluations, their lifecycle, history and disputes.

Routes (DESIGN.md, "Users, tokens and the JSON API"):

    POST  /api/calls/{call_id}/evaluations       reviewer+: a draft prefilled from the machine
    GET   /api/calls/{call_id}/evaluations       by visibility: the call's evaluations
    GET   /api/evaluations/{id}                  by visibility
    PATCH /api/evaluations/{id}                  its reviewer: answers, with the version read
    POST  /api/evaluations/{id}/submit           its reviewer
    POST  /api/evaluations/{id}/release          reviewer+
    POST  /api/evaluations/{id}/acknowledge      the evaluated agent
    POST  /api/evaluations/{id}/disputes         the evaluated agent: items and a comment
    GET   /api/evaluations/{id}/history          by visibility: every change, oldest first
    GET   /api/disputes                          reviewer+: the disputes waiting for a decision
    POST  /api/disputes/{id}/resolve             reviewer+, never the disputing agent

Who may do what, the lifecycle and the audit trail are the domain's
(`qm.domain.evaluations.commands`); these handlers only decode, call and encode. Bodies
are msgspec Structs, so the OpenAPI schema documents them and a wrong type answers 400
naming the field; what a type cannot say (an unknown item, an invalid answer) answers 422
naming `answers.<item id>`. An evaluation the caller may not see answers 404.
"""

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, JSONBody
from litestar.response import Response
from sqlmodel import Session

from qm.domain.bounds import MAX_ROW_ID
from qm.domain.evaluations import commands, queries
from qm.models import DisputeOutcome, DisputeState, EvaluationKind, EvaluationState, User
from qm.settings import Settings
from qm.web.api_input import refuse_unstorable, row_id


class AnswerChange(msgspec.Struct, forbid_unknown_fields=True):
    """A change of one item: either key may be left out; an answer of null clears it."""

    answer: Annotated[
        str | int | msgspec.UnsetType | None,
        msgspec.Meta(
            description=(
                '"yes", "no", "partial" or "na"; 1-5 for a scale item; occurrences for a count item'
            )
        ),
    ] = msgspec.UNSET
    comment: str | msgspec.UnsetType | None = msgspec.UNSET


def _changes(answers: dict[str, AnswerChange] | None) -> dict[str, dict[str, Any]]:
    """The domain's `{item_id: {"answer"?, "comment"?}}`, with only the keys sent."""
    result = {
        item_id: {
            key: value
            for key, value in (("answer", change.answer), ("comment", change.comment))
            if value is not msgspec.UNSET
        }
        for item_id, change in (answers or {}).items()
    }
    refuse_unstorable(result, path="answers")
    return result


CalibrationId = Annotated[
    int, msgspec.Meta(ge=1, le=MAX_ROW_ID, description="A calibration evaluation's session.")
]


class NewEvaluation(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/calls/{call_id}/evaluations`."""

    form_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The form's key (its latest version is used); "
            "null: the form assigned to the call's queue or its agent's team."
        ),
    ] = None
    kind: EvaluationKind = EvaluationKind.STANDARD
    sample: Annotated[
        str, msgspec.Meta(description="How the call was picked: random or targeted:<reason>.")
    ] = "random"
    calibration_id: CalibrationId | None = None


class AnswersPatch(msgspec.Struct, forbid_unknown_fields=True):
    """`PATCH /api/evaluations/{id}`: changes made on top of `version`."""

    version: Annotated[
        int,
        msgspec.Meta(ge=1, description="The version the changes were made on (409 if stale)."),
    ]
    answers: dict[str, AnswerChange]
    why: Annotated[
        str, msgspec.Meta(max_length=commands.MAX_COMMENT, description="Why, for the history.")
    ] = ""


class NewDispute(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/evaluations/{id}/disputes`: the items the agent disagrees with, and why."""

    items: list[str]
    comment: str


class Resolution(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/disputes/{id}/resolve`: `changed` names the corrected answers."""

    outcome: DisputeOutcome
    comment: str
    answers: dict[str, AnswerChange] | None = None


class AnswerOut(msgspec.Struct):
    """One item: the human answer (which counts), its comment and the machine's answer."""

    answer: str | int | None
    comment: str
    auto: str | int | None


class DisputeOut(msgspec.Struct):
    """A dispute of an evaluation and, once decided, its outcome."""

    id: int
    items: list[str]
    comment: str
    state: DisputeState
    outcome: DisputeOutcome | None
    resolution: str
    created_at: datetime | None
    resolved_at: datetime | None


class EvaluationOut(msgspec.Struct):
    """An evaluation as DESIGN.md writes it; `form_id` is the form's key."""

    id: int
    call_id: str
    form_id: str
    kind: EvaluationKind
    state: EvaluationState
    version: int
    answers: dict[str, AnswerOut]
    total: float | None
    disputes: list[DisputeOut]


class DisputeCreated(msgspec.Struct):
    """The dispute just opened; its evaluation is now `disputed`."""

    id: int
    evaluation_id: int
    items: list[str]
    comment: str
    state: DisputeState
    evaluation_version: int


class ChangeOut(msgspec.Struct):
    """One entry of an evaluation's history: who, when, what, old and new value, why."""

    version: int
    at: datetime
    actor: str
    action: str
    item_id: str | None
    old: Any
    new: Any
    why: str


class EvaluationRowOut(msgspec.Struct):
    """One evaluation of a list."""

    id: int
    call_id: str
    agent_id: str
    reviewer_id: int
    form_id: str
    kind: EvaluationKind
    state: EvaluationState
    sample: str
    total: float | None
    updated_at: datetime


class OpenDisputeOut(msgspec.Struct):
    """A dispute waiting for a decision, with what the resolver needs to pick it up."""

    id: int
    evaluation_id: int
    call_id: str
    agent_id: str
    reviewer_id: int
    items: list[str]
    comment: str
    created_at: datetime


def evaluation_out(db: Session, evaluation_id: int, viewer: User) -> EvaluationOut:
    """The evaluation as `viewer` may see it, typed (the domain's `evaluation_body`)."""
    body = queries.evaluation_body(db, evaluation_id, viewer)
    return msgspec.convert(body, EvaluationOut, strict=False)


def _evaluation_id(evaluation_id: int) -> int:
    return row_id(evaluation_id, "evaluation")


class CallEvaluationsApiController(Controller):
    """Starting and listing the evaluations of one call."""

    path = "/api/calls/{call_id:str}/evaluations"
    tags = ["evaluations"]  # noqa: RUF012  (Litestar reads a plain list)

    @post("/", sync_to_thread=True, status_code=201)
    def start(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: JSONBody[NewEvaluation],
    ) -> Response[EvaluationOut]:
        """Start a draft evaluation of the call, prefilled from the automatic results."""
        refuse_unstorable(msgspec.to_builtins(data))
        evaluation = commands.start_evaluation(
            db,
            call_id,
            actor=request.user,
            form_key=data.form_id,
            kind=data.kind,
            sample=data.sample,
            calibration_id=data.calibration_id,
        )
        db.flush()
        created = evaluation_out(db, evaluation.id or 0, request.user)
        return Response(
            created, status_code=201, headers={"Location": f"/api/evaluations/{created.id}"}
        )

    @get("/", sync_to_thread=True)
    def list_for_call(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> list[EvaluationRowOut]:
        """The call's evaluations that the caller may see, oldest first."""
        rows = queries.evaluations_for_call(db, call_id, request.user)
        return [
            EvaluationRowOut(
                id=r.id,
                call_id=r.call_id,
                agent_id=r.agent_id,
                reviewer_id=r.reviewer_id,
                form_id=r.form_key,
                kind=r.kind,
                state=r.state,
                sample=r.sample,
                total=r.total,
                updated_at=r.updated_at,
            )
            for r in rows
        ]


class EvaluationApiController(Controller):
    """One evaluation: read, answer, move through its lifecycle, dispute."""

    path = "/api/evaluations/{evaluation_id:int}"
    tags = ["evaluations"]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True)
    def read(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> EvaluationOut:
        """The evaluation with its answers, total and disputes."""
        return evaluation_out(db, _evaluation_id(evaluation_id), request.user)

    @patch("/", sync_to_thread=True)
    def answer(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: JSONBody[AnswersPatch],
    ) -> EvaluationOut:
        """Change answers and comments as one new version (its reviewer, draft or
        submitted). A `version` other than the stored one answers 409 and changes nothing."""
        refuse_unstorable(data.why, path="why")
        commands.save_answers(
            db,
            _evaluation_id(evaluation_id),
            actor=request.user,
            version=data.version,
            answers=_changes(data.answers),
            why=data.why,
        )
        return evaluation_out(db, evaluation_id, request.user)

    @post("/submit", sync_to_thread=True, status_code=200)
    def submit(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> EvaluationOut:
        """Hand in a draft (its reviewer); every item must be answered."""
        commands.submit(db, _evaluation_id(evaluation_id), actor=request.user)
        return evaluation_out(db, evaluation_id, request.user)

    @post("/release", sync_to_thread=True, status_code=200)
    def release(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> EvaluationOut:
        """Show a submitted standard evaluation to its agent (reviewers, managers, admins)."""
        commands.release(db, _evaluation_id(evaluation_id), actor=request.user)
        return evaluation_out(db, evaluation_id, request.user)

    @post("/acknowledge", sync_to_thread=True, status_code=200)
    def acknowledge(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> EvaluationOut:
        """The evaluated agent accepts a released evaluation."""
        commands.acknowledge(db, _evaluation_id(evaluation_id), actor=request.user)
        return evaluation_out(db, evaluation_id, request.user)

    @post("/disputes", sync_to_thread=True, status_code=201)
    def dispute(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: JSONBody[NewDispute],
    ) -> DisputeCreated:
        """The evaluated agent disputes named items of a released evaluation, saying why
        (up to QM_DISPUTE_LIMIT per evaluation, within QM_DISPUTE_DAYS of its release)."""
        refuse_unstorable(msgspec.to_builtins(data))
        dispute = commands.open_dispute(
            db,
            _evaluation_id(evaluation_id),
            actor=request.user,
            items=data.items,
            comment=data.comment,
            dispute_days=settings.dispute_days,
            limit=settings.dispute_limit,
        )
        evaluation = queries.visible_evaluation(db, evaluation_id, request.user)
        return DisputeCreated(
            id=dispute.id or 0,
            evaluation_id=dispute.evaluation_id,
            items=list(dispute.items),
            comment=dispute.comment,
            state=DisputeState(dispute.state),
            evaluation_version=evaluation.version,
        )

    @get("/history", sync_to_thread=True)
    def history(
        self,
        evaluation_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> list[ChangeOut]:
        """Every change of the evaluation, oldest first."""
        changes = queries.evaluation_history(db, _evaluation_id(evaluation_id), request.user)
        return [
            ChangeOut(c.version, c.at, c.actor, c.action, c.item_id, c.old, c.new, c.why)
            for c in changes
        ]


class DisputeApiController(Controller):
    """Deciding disputes."""

    path = "/api/disputes"
    tags = ["evaluations"]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True)
    def waiting(
        self, request: Request[User, Any, State], db: NamedDependency[Session]
    ) -> list[OpenDisputeOut]:
        """The disputes waiting for a decision that the caller may decide, oldest first
        (reviewers and admins: all; managers: their teams'; agents: none)."""
        viewer = request.user
        if viewer.role not in commands.REVIEWER_ROLES:
            return []
        return [
            OpenDisputeOut(
                id=d.id,
                evaluation_id=d.evaluation_id,
                call_id=d.call_id,
                agent_id=d.agent_id,
                reviewer_id=d.reviewer_id,
                items=list(d.items),
                comment=d.comment,
                created_at=d.created_at,
            )
            for d in queries.open_disputes(db)
            if commands.may_evaluate_agent(db, viewer, d.agent_id)
        ]

    @post("/{dispute_id:int}/resolve", sync_to_thread=True, status_code=200)
    def resolve(
        self,
        dispute_id: FromPath[int],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[
            Resolution,
            Body(description="upheld keeps the answers; changed names the corrected ones."),
        ],
    ) -> EvaluationOut:
        """Decide an open dispute; the evaluation ends `resolved` (answers it, updated)."""
        refuse_unstorable(data.comment, path="comment")
        dispute = commands.resolve_dispute(
            db,
            row_id(dispute_id, "dispute"),
            actor=request.user,
            outcome=data.outcome,
            comment=data.comment,
            answers=None if data.answers is None else _changes(data.answers),
        )
        return evaluation_out(db, dispute.evaluation_id, request.user)
