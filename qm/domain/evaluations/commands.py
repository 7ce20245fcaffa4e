"""Writes of the review loop: starting an evaluation, answering, the lifecycle, disputes.

Every function takes the session first and the acting `User`; the caller commits. Each
call that changes an evaluation's answers or state raises its version by one, appends
`EvaluationChange` rows (who, when, old value, new value, why) and one audit event:
nothing is overwritten without a trace.

Where DESIGN.md leaves room, these rules hold:
- Answers may be edited in `draft` and still in `submitted` (a second look before the
  agent sees it); from `released` on only a dispute resolution changes them.
- Submitting needs an answer for every item, so a submitted evaluation has its total.
- Only a `released` evaluation can be disputed: acknowledging it accepts it.
- Calibration and self evaluations are never released to the agent.
- An evaluation the actor may not see answers NotFound, exactly as a missing one.
"""

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.evaluations.disputes import (
    DISPUTABLE,
    dispute_deadline,
    require_resolver,
    route_dispute,
)
from qm.domain.evaluations.disputes import (
    pick_dispute_resolver as pick_dispute_resolver,  # re-exported: the rule lived here
)
from qm.domain.evaluations.forms import form_for_call, latest_form, parsed_form
from qm.domain.evaluations.queries import (
    managed_teams,
    participants,
    visible_evaluation,
)
from qm.domain.overrides import current_overrides
from qm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from qm.i18n import N_, gettext, library_message
from qm.models import (
    Agent,
    CalibrationSession,
    CalibrationState,
    Call,
    Dispute,
    DisputeOutcome,
    DisputeState,
    Evaluation,
    EvaluationChange,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    KeyPointResult,
    ResultKind,
    Role,
    User,
    utcnow,
)
from scoring.forms import (
    Answer,
    Form,
    FormError,
    FormItem,
    FormSection,
    invalid_answer,
    score_evaluation,
)
from scoring.forms import prefill_answers as machine_answers

REVIEWER_ROLES = (Role.ADMIN, Role.MANAGER, Role.REVIEWER)
MAX_DISPUTES = 1  # per evaluation: a resolved dispute is final
MAX_COMMENT = 2000  # characters of a comment, a dispute or a resolution
MAX_SAMPLE = 100  # the `sample` column
EDITABLE = (EvaluationState.DRAFT, EvaluationState.SUBMITTED)

# Messages people read, in one place for the translation catalogs.
ONLY_REVIEWERS = N_("only reviewers, managers and admins can {what}")
ONLY_ITS_REVIEWER = N_("only the evaluation's reviewer can {what}")
ONLY_THE_AGENT = N_("only the evaluated agent can {what}")
WRONG_STATE = N_("evaluation {id} is {state}; it must be {needed} to {what}")
STALE = N_("evaluation {id} was changed by someone else since version {version}; reload it")


def _require_reviewer(actor: User, what: str) -> None:
    if actor.role not in REVIEWER_ROLES:
        raise Forbidden(gettext(ONLY_REVIEWERS).format(what=what))


def _require_state(evaluation: Evaluation, needed: Sequence[EvaluationState], what: str) -> None:
    if evaluation.state not in needed:
        raise Conflict(
            gettext(WRONG_STATE).format(
                id=evaluation.id,
                state=evaluation.state,
                needed=" or ".join(str(s) for s in needed),
                what=what,
            )
        )


def _form(session: Session, evaluation: Evaluation) -> Form:
    row = session.get(EvaluationForm, evaluation.form_id)
    if row is None:  # the foreign key makes this impossible
        raise NotFound(gettext("no evaluation form %(form_id)s", form_id=evaluation.form_id))
    return parsed_form(row)


def _bump(session: Session, evaluation: Evaluation, expected: int) -> None:
    """Raise the version from `expected` by one, or refuse when someone got there first.

    The UPDATE is conditional on the stored version, so two writers who both read
    version N cannot both write N + 1: the second one matches no row.
    """
    table = Evaluation.__table__  # type: ignore[attr-defined]
    done = session.execute(
        sa.update(table)
        .where(table.c.id == evaluation.id, table.c.version == expected)
        .values(version=expected + 1)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(gettext(STALE).format(id=evaluation.id, version=expected))
    evaluation.version = expected + 1
    evaluation.updated_at = utcnow()


def _log(
    session: Session,
    evaluation: Evaluation,
    actor: User,
    action: str,
    *,
    item_id: str | None = None,
    old: Any = None,
    new: Any = None,
    why: str = "",
) -> None:
    session.add(
        EvaluationChange(
            evaluation_id=evaluation.id or 0,
            version=evaluation.version,
            actor=actor.username,
            action=action,
            item_id=item_id,
            old=old,
            new=new,
            why=why,
        )
    )


def _audit(
    session: Session, evaluation: Evaluation, actor: User, action: str, detail: dict[str, Any]
) -> None:
    record(
        session,
        actor=actor.username,
        action=f"evaluation.{action}",
        entity="evaluation",
        entity_id=str(evaluation.id),
        detail={"version": evaluation.version, **detail},
    )


def _set_state(
    session: Session,
    evaluation: Evaluation,
    actor: User,
    state: EvaluationState,
    action: str,
    *,
    why: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    """Move to `state` as a new version, with its history row and audit event."""
    old = str(evaluation.state)
    _bump(session, evaluation, evaluation.version)
    evaluation.state = state
    _log(session, evaluation, actor, action, old={"state": old}, new={"state": str(state)}, why=why)
    session.add(evaluation)
    session.flush()
    _audit(session, evaluation, actor, action, {"from": old, "to": str(state), **(extra or {})})


def _rescore(form: Form, evaluation: Evaluation) -> None:
    """Total and critical flag from the human answers; no total while any item is open."""
    answers = {k: v["answer"] for k, v in evaluation.answers.items() if v["answer"] is not None}
    if set(answers) != set(form.items()):
        evaluation.total, evaluation.critical_failed = None, False
        return
    score = score_evaluation(form, answers)
    evaluation.total, evaluation.critical_failed = score.total, score.critical_failed


def _unanswered(evaluation: Evaluation) -> list[str]:
    return sorted(k for k, v in evaluation.answers.items() if v["answer"] is None)


def _check_answer(item: FormItem, raw: Any) -> Answer | None:
    """The answer if valid for `item` (None clears it); FormError names the item if not."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise invalid_answer(item, raw)
    # The library's own rule for this item type: score a one-item form.
    probe = Form("probe", "", (FormSection("probe", "", (item,)),))
    score_evaluation(probe, {item.id: raw})
    return raw


def _where(evaluation: Evaluation) -> str:
    return f"evaluation {evaluation.id}"


def _new_answers(
    evaluation: Evaluation, form: Form, changes: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The answers after applying `changes`, every one checked first.

    Raises:
        ValidationFailed: naming the item (`answers.<item id>`) and what is wrong.
    """
    if not isinstance(changes, Mapping):
        raise ValidationFailed(_where(evaluation), None, "answers", gettext("expected an object"))
    items = form.items()
    result = copy.deepcopy(evaluation.answers)
    for item_id, change in changes.items():
        field = f"answers.{item_id}"
        if item_id not in items:
            raise ValidationFailed(
                _where(evaluation), None, field, gettext("no such item on this form")
            )
        if not isinstance(change, Mapping):
            raise ValidationFailed(_where(evaluation), None, field, gettext("expected an object"))
        unknown = sorted(set(change) - {"answer", "comment"})
        if unknown:
            raise ValidationFailed(
                _where(evaluation),
                None,
                field,
                gettext("unknown key(s): %(value)s", value=", ".join(map(str, unknown))),
            )
        entry = result[item_id]
        if "answer" in change:
            try:
                entry["answer"] = _check_answer(items[item_id], change["answer"])
            except FormError as exc:
                message = library_message(exc)
                raise ValidationFailed(_where(evaluation), None, field, message) from exc
        if "comment" in change:
            comment = change["comment"]
            if comment is None:
                comment = ""
            if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
                raise ValidationFailed(
                    _where(evaluation),
                    None,
                    f"{field}.comment",
                    gettext(
                        "expected a text of at most %(max_comment)s characters",
                        max_comment=MAX_COMMENT,
                    ),
                )
            entry["comment"] = comment
    return result


def _apply_answers(
    session: Session,
    evaluation: Evaluation,
    actor: User,
    changes: Mapping[str, Mapping[str, Any]],
    *,
    expected_version: int,
    why: str,
    action: str,
) -> list[str]:
    """Apply `changes` as one new version; the ids of the items that really changed."""
    form = _form(session, evaluation)
    updated = _new_answers(evaluation, form, changes)
    changed = [k for k in updated if updated[k] != evaluation.answers[k]]
    if not changed:
        return []
    if evaluation.state != EvaluationState.DRAFT:
        missing = sorted(k for k, v in updated.items() if v["answer"] is None)
        if missing:
            raise ValidationFailed(
                _where(evaluation),
                None,
                f"answers.{missing[0]}",
                gettext(
                    "a %(state)s evaluation needs an answer for every item", state=evaluation.state
                ),
            )
    _bump(session, evaluation, expected_version)
    old_answers = evaluation.answers
    # A new dict, not an in-place edit: the JSON column only notices reassignment.
    evaluation.answers = updated
    _rescore(form, evaluation)
    detail: dict[str, Any] = {}
    for item_id in changed:
        old = {"answer": old_answers[item_id]["answer"], "comment": old_answers[item_id]["comment"]}
        new = {"answer": updated[item_id]["answer"], "comment": updated[item_id]["comment"]}
        _log(session, evaluation, actor, action, item_id=item_id, old=old, new=new, why=why)
        detail[item_id] = {"old": old, "new": new}
    session.add(evaluation)
    session.flush()
    _audit(session, evaluation, actor, action, {"items": detail, "total": evaluation.total})
    return changed


def _check_sample(sample: str) -> None:
    reason = sample.removeprefix("targeted:")
    valid = sample == "random" or (sample.startswith("targeted:") and reason.strip() != "")
    if not valid or len(sample) > MAX_SAMPLE:
        raise ValidationFailed(
            "evaluation",
            None,
            "sample",
            gettext(
                "expected 'random' or 'targeted:<reason>', at most %(max_sample)s characters",
                max_sample=MAX_SAMPLE,
            ),
        )


def _prefill(session: Session, call_id: str, form: Form) -> dict[str, Any]:
    """Answers prefilled from the call's stored key-point results, with their evidence.

    `auto` is always the machine's answer (the agreement figures compare it with the
    human's). Where a reviewer has decided the key point (`qm.domain.overrides`), that
    decision is kept beside it as `decided`, with their evidence span when they chose
    one and `override` saying whose decision it was; a draft starts from it, since the
    human's answer beats the machine's.
    """
    results = {
        r.item_id: r
        for r in session.exec(
            select(KeyPointResult).where(
                col(KeyPointResult.call_id) == call_id,
                col(KeyPointResult.kind) == ResultKind.KEY_POINT,
            )
        ).all()
    }
    auto = machine_answers(form, {k: (r.hit, r.uncertain) for k, r in results.items()})
    decided = current_overrides(session, call_id)
    answers: dict[str, Any] = {}
    for item in form.items().values():
        result = results.get(item.key_point) if item.key_point else None
        evidence = None
        if result is not None and (result.start is not None or result.evidence):
            # Kept even for an uncertain result: it is what the reviewer has to judge.
            evidence = {"start": result.start, "end": result.end, "text": result.evidence}
        entry: dict[str, Any] = {
            "answer": None,
            "comment": "",
            "auto": auto.get(item.id),
            "evidence": evidence,
        }
        override = decided.get(item.key_point) if item.key_point else None
        if override is not None and item.type in ("yes_no", "partial"):
            entry["decided"] = "yes" if override.hit else "no"
            entry["override"] = {"id": override.id, "by": override.reviewer}
            if override.start is not None:
                entry["evidence"] = {
                    "start": override.start,
                    "end": override.end,
                    "text": override.evidence,
                }
        answers[item.id] = entry
    return answers


def may_evaluate_agent(session: Session, actor: User, agent_id: str) -> bool:
    """Whether `actor` may evaluate (and so see) the agent: managers only their teams."""
    if actor.role != Role.MANAGER:
        return actor.role in REVIEWER_ROLES
    agent = session.get(Agent, agent_id)
    return agent is not None and agent.team_id in managed_teams(session, actor)


def draft_evaluation(
    session: Session,
    call: Call,
    form_row: EvaluationForm,
    *,
    reviewer: User,
    actor: User,
    kind: EvaluationKind,
    sample: str,
    calibration_id: int | None,
) -> Evaluation:
    """Create the draft, prefilled when it is not a calibration one; checks no permissions.

    The building block of `start_evaluation` and of calibration sessions, which check
    who may do it first. A calibration draft keeps the machine's answers in `auto` but
    starts with every answer open, so that each item is every reviewer's own decision
    and the agreement figures measure people, not the prefill.
    """
    form = parsed_form(form_row)
    answers = _prefill(session, call.id, form)
    if kind != EvaluationKind.CALIBRATION:
        for entry in answers.values():
            entry["answer"] = entry.get("decided", entry["auto"])
    evaluation = Evaluation(
        call_id=call.id,
        form_id=form_row.id or 0,
        kind=kind,
        reviewer_id=reviewer.id or 0,
        agent_id=call.agent_id,
        sample=sample,
        calibration_id=calibration_id,
        answers=answers,
    )
    _rescore(form, evaluation)
    session.add(evaluation)
    session.flush()
    created = {
        "form": form_row.key,
        "form_version": form_row.version,
        "kind": str(kind),
        "sample": sample,
        "reviewer": reviewer.username,
    }
    _log(session, evaluation, actor, "create", new=created)
    session.flush()
    _audit(session, evaluation, actor, "create", {**created, "call": call.id})
    return evaluation


def start_evaluation(
    session: Session,
    call_id: str,
    *,
    actor: User,
    form_key: str | None = None,
    kind: EvaluationKind = EvaluationKind.STANDARD,
    sample: str = "random",
    calibration_id: int | None = None,
) -> Evaluation:
    """Start a draft evaluation of a call by `actor`, prefilled from the automatic results.

    The form is the latest version of `form_key`, else the form assigned to the call's
    queue or its agent's team. A calibration evaluation names its session, uses the
    session's form and must be one of the session's calls and participants.

    Raises:
        Forbidden: `actor` is not a reviewer, manager or admin, or not in the session.
        NotFound: no such call (or a manager's call of another team), form or session.
        ValidationFailed: a bad `sample`, or a calibration id on another kind.
        Conflict: the session is closed, or the actor already scores this call in it.
    """
    _require_reviewer(actor, "start an evaluation")
    call = session.get(Call, call_id)
    if call is None or not may_evaluate_agent(session, actor, call.agent_id):
        raise NotFound(gettext("no call with id %(call_id)s", call_id=repr(call_id)))
    _check_sample(sample)
    kind = EvaluationKind(kind)
    if kind == EvaluationKind.CALIBRATION:
        form_row = _calibration_form(session, call, actor, calibration_id)
    else:
        if calibration_id is not None:
            raise ValidationFailed(
                "evaluation",
                None,
                "calibration_id",
                gettext("only calibration evaluations have one"),
            )
        if form_key is not None:
            form_row, _ = latest_form(session, form_key)
        else:
            found = form_for_call(session, call)
            if found is None:
                raise NotFound(
                    gettext(
                        "no evaluation form is assigned to call %(call_id)s", call_id=repr(call_id)
                    )
                )
            form_row = found
    return draft_evaluation(
        session,
        call,
        form_row,
        reviewer=actor,
        actor=actor,
        kind=kind,
        sample=sample,
        calibration_id=calibration_id,
    )


def _calibration_form(
    session: Session, call: Call, actor: User, calibration_id: int | None
) -> EvaluationForm:
    if calibration_id is None:
        raise ValidationFailed(
            "evaluation",
            None,
            "calibration_id",
            gettext("a calibration evaluation names its session"),
        )
    calibration = session.get(CalibrationSession, calibration_id)
    if calibration is None:
        raise NotFound(
            gettext("no calibration session %(calibration_id)s", calibration_id=calibration_id)
        )
    if actor.id not in participants(calibration):
        raise Forbidden(gettext("only the session's reviewers can score its calls"))
    if calibration.state != CalibrationState.OPEN:
        raise Conflict(
            gettext(
                "calibration session %(calibration_id)s is closed", calibration_id=calibration_id
            )
        )
    if call.id not in calibration.call_ids:
        raise ValidationFailed(
            "evaluation",
            None,
            "call_id",
            gettext("call %(id)s is not in this calibration session", id=repr(call.id)),
        )
    already = session.exec(
        select(Evaluation.id).where(
            col(Evaluation.calibration_id) == calibration_id,
            col(Evaluation.call_id) == call.id,
            col(Evaluation.reviewer_id) == actor.id,
        )
    ).first()
    if already is not None:
        raise Conflict(
            gettext(
                "you already score call %(id)s in this session (evaluation %(already)s)",
                id=repr(call.id),
                already=already,
            )
        )
    form_row = session.get(EvaluationForm, calibration.form_id)
    if form_row is None:  # the foreign key makes this impossible
        raise NotFound(gettext("no evaluation form %(form_id)s", form_id=calibration.form_id))
    return form_row


def _check_calibration_open(session: Session, evaluation: Evaluation) -> None:
    if evaluation.calibration_id is None:
        return
    calibration = session.get(CalibrationSession, evaluation.calibration_id)
    if calibration is not None and calibration.state != CalibrationState.OPEN:
        raise Conflict(gettext("calibration session %(id)s is closed", id=calibration.id))


def save_answers(
    session: Session,
    evaluation_id: int,
    *,
    actor: User,
    version: int,
    answers: Mapping[str, Mapping[str, Any]],
    why: str = "",
) -> Evaluation:
    """Change answers and comments (`{item_id: {"answer"?, "comment"?}}`) as one new version.

    Only items whose answer or comment really changes get a history row; when nothing
    changes, nothing is written. An answer of None clears it (drafts only).

    Raises:
        NotFound: no such evaluation, or `actor` may not see it.
        Forbidden: `actor` is not the evaluation's reviewer.
        Conflict: it is past `submitted`, or `version` is not the stored version (someone
            else changed it since; nothing is written).
        ValidationFailed: an unknown item or an invalid answer, naming the item.
    """
    evaluation = visible_evaluation(session, evaluation_id, actor)
    _require_reviewer(actor, "answer evaluations")
    if actor.id != evaluation.reviewer_id:
        raise Forbidden(gettext(ONLY_ITS_REVIEWER).format(what="change its answers"))
    _require_state(evaluation, EDITABLE, "change its answers")
    _check_calibration_open(session, evaluation)
    if version != evaluation.version:
        raise Conflict(gettext(STALE).format(id=evaluation.id, version=version))
    _apply_answers(
        session, evaluation, actor, answers, expected_version=version, why=why, action="answer"
    )
    return evaluation


def submit(session: Session, evaluation_id: int, *, actor: User) -> Evaluation:
    """Hand in a draft: every item must be answered.

    Raises:
        NotFound, Forbidden (not its reviewer), Conflict (not a draft, or its calibration
        session is closed), ValidationFailed (items without an answer, named).
    """
    evaluation = visible_evaluation(session, evaluation_id, actor)
    _require_reviewer(actor, "submit evaluations")
    if actor.id != evaluation.reviewer_id:
        raise Forbidden(gettext(ONLY_ITS_REVIEWER).format(what="submit it"))
    _require_state(evaluation, (EvaluationState.DRAFT,), "submit it")
    _check_calibration_open(session, evaluation)
    missing = _unanswered(evaluation)
    if missing:
        raise ValidationFailed(
            _where(evaluation),
            None,
            "answers",
            gettext("no answer for item(s): %(value)s", value=", ".join(missing)),
        )
    evaluation.submitted_at = utcnow()
    _set_state(session, evaluation, actor, EvaluationState.SUBMITTED, "submit")
    return evaluation


def release(session: Session, evaluation_id: int, *, actor: User) -> Evaluation:
    """Make a submitted standard evaluation visible to its agent.

    Raises:
        NotFound, Forbidden (not reviewer+), Conflict (not submitted, or a calibration or
        self evaluation, which are never released to the agent).
    """
    evaluation = visible_evaluation(session, evaluation_id, actor)
    _require_reviewer(actor, "release evaluations")
    if evaluation.kind != EvaluationKind.STANDARD:
        raise Conflict(
            gettext("a %(kind)s evaluation is never released to the agent", kind=evaluation.kind)
        )
    _require_state(evaluation, (EvaluationState.SUBMITTED,), "release it")
    evaluation.released_at = utcnow()
    _set_state(session, evaluation, actor, EvaluationState.RELEASED, "release")
    return evaluation


def _require_evaluated_agent(actor: User, evaluation: Evaluation, what: str) -> None:
    if actor.role != Role.AGENT or actor.agent_id != evaluation.agent_id:
        raise Forbidden(gettext(ONLY_THE_AGENT).format(what=what))


def acknowledge(session: Session, evaluation_id: int, *, actor: User) -> Evaluation:
    """The evaluated agent accepts a released evaluation.

    Raises:
        NotFound (not visible to `actor`), Forbidden (not the evaluated agent's user),
        Conflict (not released).
    """
    evaluation = visible_evaluation(session, evaluation_id, actor)
    _require_evaluated_agent(actor, evaluation, "acknowledge it")
    _require_state(evaluation, (EvaluationState.RELEASED,), "acknowledge it")
    evaluation.acknowledged_at = utcnow()
    _set_state(session, evaluation, actor, EvaluationState.ACKNOWLEDGED, "acknowledge")
    return evaluation


def _check_comment(comment: Any, where: str, field: str) -> str:
    if not isinstance(comment, str) or not comment.strip():
        raise ValidationFailed(where, None, field, gettext("required"))
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(
            where,
            None,
            field,
            gettext("at most %(max_comment)s characters", max_comment=MAX_COMMENT),
        )
    return comment.strip()


def open_dispute(
    session: Session,
    evaluation_id: int,
    *,
    actor: User,
    items: Sequence[str],
    comment: str,
    dispute_days: int,
    limit: int = MAX_DISPUTES,
    now: datetime | None = None,
) -> Dispute:
    """The evaluated agent disputes named items of a released evaluation.

    The dispute is routed to a resolver (`disputes.route_dispute`: not the scorer when
    another reviewer is active). Below a `limit` above one, a resolved evaluation may be
    disputed again within the same period.

    Args:
        items: ids of the form's items the agent disagrees with.
        comment: why (required).
        dispute_days: how long after release a dispute is accepted (settings.dispute_days).
        limit: disputes accepted per evaluation (settings.dispute_limit).
        now: the current instant (tests pass one).

    Raises:
        NotFound (not visible to `actor`), Forbidden (not the evaluated agent's user),
        Conflict (not released, the deadline has passed, or the limit is reached),
        ValidationFailed (no items, an item not on the form, an empty or too long comment).
    """
    evaluation = visible_evaluation(session, evaluation_id, actor)
    _require_evaluated_agent(actor, evaluation, "dispute it")
    earlier = session.exec(
        select(sa.func.count()).where(col(Dispute.evaluation_id) == evaluation.id)
    ).one()
    if earlier >= limit:
        raise Conflict(
            f"evaluation {evaluation.id} has already been disputed"
            + ("" if limit == 1 else f" {earlier} times (the limit)")
        )
    _require_state(evaluation, DISPUTABLE, "dispute it")
    deadline = dispute_deadline(evaluation, dispute_days)
    if (now or utcnow()) > deadline:
        raise Conflict(
            gettext(
                "the dispute period of evaluation %(id)s ended on %(value)s",
                id=evaluation.id,
                value=deadline.date(),
            )
        )
    where = _where(evaluation)
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise ValidationFailed(where, None, "items", gettext("name at least one item"))
    known = _form(session, evaluation).items()
    unknown = [str(i) for i in items if i not in known]
    if unknown:
        raise ValidationFailed(
            where, None, "items", gettext("not on this form: %(value)s", value=", ".join(unknown))
        )
    text = _check_comment(comment, where, "comment")
    disputed = list(dict.fromkeys(items))  # in the agent's order, each once
    dispute = Dispute(
        evaluation_id=evaluation.id or 0,
        agent_user_id=actor.id or 0,
        items=disputed,
        comment=text,
    )
    session.add(dispute)
    session.flush()
    resolver = route_dispute(session, dispute, evaluation)
    _set_state(
        session,
        evaluation,
        actor,
        EvaluationState.DISPUTED,
        "dispute",
        why=text,
        extra={
            "dispute": dispute.id,
            "items": disputed,
            "assigned_to": None if resolver is None else resolver.username,
        },
    )
    return dispute


def resolve_dispute(
    session: Session,
    dispute_id: int,
    *,
    actor: User,
    outcome: DisputeOutcome | str,
    comment: str,
    answers: Mapping[str, Mapping[str, Any]] | None = None,
) -> Dispute:
    """Decide an open dispute: `upheld` keeps the answers, `changed` corrects them.

    The corrected answers are applied like any other change, with the resolution
    comment as the reason; the total is recomputed. The evaluation ends `resolved`.

    Raises:
        NotFound: no such dispute, or its evaluation is not visible to `actor`.
        Forbidden: `actor` is not reviewer+, is the disputing agent, or scored the
            evaluation while another reviewer is active (`disputes.resolver_problem`).
        Conflict: the dispute is already resolved.
        ValidationFailed: an unknown outcome, no comment, `changed` without answers that
            change something, or answers sent with `upheld`.
    """
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(gettext("no dispute %(dispute_id)s", dispute_id=dispute_id))
    try:
        evaluation = visible_evaluation(session, dispute.evaluation_id, actor)
    except NotFound:
        raise NotFound(gettext("no dispute %(dispute_id)s", dispute_id=dispute_id)) from None
    require_resolver(session, actor, dispute, evaluation)
    if dispute.state != DisputeState.OPEN:
        raise Conflict(gettext("dispute %(dispute_id)s is already resolved", dispute_id=dispute_id))
    where = f"dispute {dispute_id}"
    try:
        decided = DisputeOutcome(outcome)
    except ValueError:
        raise ValidationFailed(
            where, None, "outcome", gettext("expected upheld or changed")
        ) from None
    text = _check_comment(comment, where, "comment")
    if decided == DisputeOutcome.UPHELD and answers:
        raise ValidationFailed(
            where, None, "answers", gettext("an upheld evaluation keeps its answers")
        )
    if decided == DisputeOutcome.CHANGED:
        if not answers:
            raise ValidationFailed(where, None, "answers", gettext("say which answers change"))
        changed = _apply_answers(
            session,
            evaluation,
            actor,
            answers,
            expected_version=evaluation.version,
            why=text,
            action="answer",
        )
        if not changed:
            raise ValidationFailed(where, None, "answers", gettext("these answers change nothing"))
    dispute.state = DisputeState.RESOLVED
    dispute.outcome = decided
    dispute.resolution = text
    dispute.resolved_by = actor.id
    dispute.resolved_at = utcnow()
    session.add(dispute)
    _set_state(
        session,
        evaluation,
        actor,
        EvaluationState.RESOLVED,
        "resolve",
        why=text,
        extra={"dispute": dispute.id, "outcome": str(decided), "total": evaluation.total},
    )
    record(
        session,
        actor=actor.username,
        action="dispute.resolve",
        entity="dispute",
        entity_id=str(dispute.id),
        detail={"evaluation": evaluation.id, "outcome": str(decided)},
    )
    return dispute
