"""An evaluation's life: prefilled draft, answers, submit, release, acknowledge or dispute.

Totals by hand on the bank-standard form (opening: greeting, verify (critical), weight 1;
handling: accuracy (partial), tone (1-5 scale), weight 2):
- greeting yes, verify yes, accuracy partial, tone 3: opening 100 %, handling
  (0.5 + 0.5) / 2 = 50 %, total (1 x 100 + 2 x 50) / 3 = 66.67.
- the same with accuracy yes: handling (1 + 0.5) / 2 = 75 %, total (100 + 150) / 3 = 83.33.
"""

from datetime import timedelta

import pytest
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, select

from qm.domain.evaluations import commands, queries
from qm.domain.evaluations.commands import (
    acknowledge,
    open_dispute,
    pick_dispute_resolver,
    release,
    resolve_dispute,
    save_answers,
    start_evaluation,
    submit,
)
from qm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from qm.models import (
    AuditEvent,
    Evaluation,
    EvaluationChange,
    EvaluationKind,
    EvaluationState,
    Role,
)
from qm.settings import Settings
from tests.qm.evaluations.conftest import People

FILLED = {
    "verify": {"answer": "yes"},
    "accuracy": {"answer": "partial", "comment": "fee amount was vague"},
    "tone": {"answer": 3},
}


def _submitted(session: Session, people: People, call_id: str = "c-1") -> Evaluation:
    evaluation = start_evaluation(session, call_id, actor=people.rev1)
    answers = dict(FILLED)
    if call_id != "c-1":  # calls without results have no prefilled greeting
        answers["greeting"] = {"answer": "yes"}
    save_answers(session, evaluation.id or 0, actor=people.rev1, version=1, answers=answers)
    submit(session, evaluation.id or 0, actor=people.rev1)
    session.commit()
    return evaluation


def _released(session: Session, people: People, call_id: str = "c-1") -> Evaluation:
    evaluation = _submitted(session, people, call_id)
    release(session, evaluation.id or 0, actor=people.rev1)
    session.commit()
    return evaluation


def _history(session: Session, evaluation_id: int) -> list[tuple[int, str, str | None]]:
    rows = session.exec(
        select(EvaluationChange)
        .where(col(EvaluationChange.evaluation_id) == evaluation_id)
        .order_by(col(EvaluationChange.id))
    ).all()
    return [(r.version, r.action, r.item_id) for r in rows]


def _audit_actions(session: Session, evaluation_id: int) -> list[str]:
    return list(
        session.exec(
            select(AuditEvent.action)
            .where(
                col(AuditEvent.entity) == "evaluation",
                col(AuditEvent.entity_id) == str(evaluation_id),
            )
            .order_by(col(AuditEvent.id))
        ).all()
    )


def test_draft_is_prefilled_from_the_automatic_results(session: Session, people: People):
    evaluation = start_evaluation(session, "c-1", actor=people.rev1, sample="targeted:complaint")
    session.commit()
    assert evaluation.state == EvaluationState.DRAFT and evaluation.version == 1
    assert evaluation.kind == EvaluationKind.STANDARD and evaluation.sample == "targeted:complaint"
    assert evaluation.agent_id == "a-1" and evaluation.reviewer_id == people.rev1.id
    greeting = evaluation.answers["greeting"]
    assert greeting == {
        "answer": "yes",
        "comment": "",
        "auto": "yes",
        "evidence": {"start": 1.5, "end": 3.25, "text": "thank you for calling harper valley"},
    }
    # Uncertain: no machine answer, a person decides.
    assert evaluation.answers["verify"]["auto"] is None
    assert evaluation.answers["verify"]["answer"] is None
    assert evaluation.answers["tone"] == {
        "answer": None,
        "comment": "",
        "auto": None,
        "evidence": None,
    }
    assert evaluation.total is None  # not every item is answered yet
    body = queries.evaluation_body(session, evaluation.id or 0, people.rev2)
    assert body == {
        "id": evaluation.id,
        "call_id": "c-1",
        "form_id": "bank-standard",
        "kind": "standard",
        "state": "draft",
        "version": 1,
        "answers": {
            "greeting": {"answer": "yes", "comment": "", "auto": "yes"},
            "verify": {"answer": None, "comment": "", "auto": None},
            "accuracy": {"answer": None, "comment": "", "auto": None},
            "tone": {"answer": None, "comment": "", "auto": None},
        },
        "total": None,
        "disputes": [],
    }
    view = queries.get_evaluation(session, evaluation.id or 0, people.admin)
    assert view.answers[0].evidence == queries.Evidence(
        1.5, 3.25, "thank you for calling harper valley"
    )
    assert _history(session, evaluation.id or 0) == [(1, "create", None)]


def test_released_and_acknowledged(session: Session, people: People):
    evaluation = start_evaluation(session, "c-1", actor=people.rev1)
    session.commit()
    eid = evaluation.id or 0
    save_answers(session, eid, actor=people.rev1, version=1, answers=FILLED, why="listened")
    session.commit()
    assert evaluation.version == 2
    assert evaluation.total == pytest.approx(200 / 3)
    assert not evaluation.critical_failed
    # An unchanged answer writes nothing, not even a version.
    save_answers(session, eid, actor=people.rev1, version=2, answers={"tone": {"answer": 3}})
    assert evaluation.version == 2
    # The agent cannot see a draft or a submitted evaluation.
    with pytest.raises(NotFound):
        queries.evaluation_body(session, eid, people.agent1)
    submit(session, eid, actor=people.rev1)
    # Still editable by its reviewer until released.
    save_answers(session, eid, actor=people.rev1, version=3, answers={"tone": {"answer": 4}})
    assert evaluation.total == pytest.approx((100 + 2 * (0.5 + 0.75) / 2 * 100) / 3)
    save_answers(session, eid, actor=people.rev1, version=4, answers={"tone": {"answer": 3}})
    release(session, eid, actor=people.rev2)
    session.commit()
    assert evaluation.state == EvaluationState.RELEASED and evaluation.released_at is not None
    with pytest.raises(Conflict, match="released"):
        save_answers(session, eid, actor=people.rev1, version=6, answers={"tone": {"answer": 5}})
    assert queries.evaluation_body(session, eid, people.agent1)["state"] == "released"
    acknowledge(session, eid, actor=people.agent1)
    session.commit()
    assert evaluation.state == EvaluationState.ACKNOWLEDGED
    assert evaluation.acknowledged_at is not None and evaluation.version == 7
    assert _history(session, eid) == [
        (1, "create", None),
        (2, "answer", "verify"),
        (2, "answer", "accuracy"),
        (2, "answer", "tone"),
        (3, "submit", None),
        (4, "answer", "tone"),
        (5, "answer", "tone"),
        (6, "release", None),
        (7, "acknowledge", None),
    ]
    history = queries.evaluation_history(session, eid, people.rev1)
    accuracy = history[2]
    assert accuracy.actor == "rev1" and accuracy.why == "listened"
    assert accuracy.old == {"answer": None, "comment": ""}
    assert accuracy.new == {"answer": "partial", "comment": "fee amount was vague"}
    assert history[-1].old == {"state": "released"}
    assert history[-1].new == {"state": "acknowledged"}
    assert _audit_actions(session, eid) == [
        "evaluation.create",
        "evaluation.answer",
        "evaluation.submit",
        "evaluation.answer",
        "evaluation.answer",
        "evaluation.release",
        "evaluation.acknowledge",
    ]
    with pytest.raises(Conflict):
        acknowledge(session, eid, actor=people.agent1)
    with pytest.raises(Conflict, match="must be released"):
        open_dispute(
            session, eid, actor=people.agent1, items=["tone"], comment="no", dispute_days=14
        )


def test_a_stale_version_is_refused_and_nothing_is_lost(session: Session, people: People):
    evaluation = start_evaluation(session, "c-1", actor=people.rev1)
    eid = evaluation.id or 0
    save_answers(session, eid, actor=people.rev1, version=1, answers=FILLED)
    session.commit()
    with pytest.raises(Conflict, match="since version 1; reload"):
        save_answers(
            session, eid, actor=people.rev1, version=1, answers={"verify": {"answer": "no"}}
        )
    session.rollback()
    stored = session.get(Evaluation, eid)
    assert stored is not None
    session.refresh(stored)
    assert stored.version == 2
    assert stored.answers["verify"]["answer"] == "yes"
    assert stored.total == pytest.approx(200 / 3)
    assert len(_history(session, eid)) == 4


def test_two_writers_of_the_same_version_cannot_both_win(session: Session, people: People):
    evaluation = start_evaluation(session, "c-1", actor=people.rev1)
    session.commit()
    eid = evaluation.id or 0
    with Session(session.get_bind()) as other:
        # The second writer read version 1 and then waited.
        stale = other.get(Evaluation, eid)
        assert stale is not None and stale.version == 1
        other.rollback()
        save_answers(session, eid, actor=people.rev1, version=1, answers=FILLED)
        session.commit()
        # Its version check already passed; the conditional UPDATE still matches no row.
        with pytest.raises(Conflict, match="since version 1"):
            commands._bump(other, stale, 1)
        other.rollback()
    session.refresh(evaluation)
    assert evaluation.version == 2


def test_invalid_answers_name_the_item(session: Session, people: People):
    evaluation = start_evaluation(session, "c-1", actor=people.rev1)
    eid = evaluation.id or 0
    cases = [
        ({"speed": {"answer": "yes"}}, "answers.speed", "no such item"),
        ({"tone": {"answer": 7}}, "answers.tone", "not a valid answer for a scale item"),
        ({"tone": {"answer": True}}, "answers.tone", "not a valid answer"),
        ({"accuracy": {"answer": "maybe"}}, "answers.accuracy", "partial item"),
        ({"tone": {"answer": 3, "score": 1}}, "answers.tone", "unknown key"),
        ({"tone": {"comment": "x" * 2001}}, "answers.tone.comment", "2000"),
    ]
    for answers, field, message in cases:
        with pytest.raises(ValidationFailed) as caught:
            save_answers(session, eid, actor=people.rev1, version=1, answers=answers)
        assert caught.value.field == field
        assert message in caught.value.message
    assert evaluation.version == 1
    with pytest.raises(ValidationFailed, match=r"no answer for item\(s\): accuracy, tone, verify"):
        submit(session, eid, actor=people.rev1)


def test_a_critical_miss_makes_the_total_zero(session: Session, people: People):
    evaluation = start_evaluation(session, "c-1", actor=people.rev1)
    answers = {**FILLED, "verify": {"answer": "no"}}
    save_answers(session, evaluation.id or 0, actor=people.rev1, version=1, answers=answers)
    assert evaluation.total == 0.0 and evaluation.critical_failed


def test_dispute_upheld(session: Session, people: People):
    evaluation = _released(session, people)
    eid = evaluation.id or 0
    dispute = open_dispute(
        session,
        eid,
        actor=people.agent1,
        items=["accuracy", "accuracy"],
        comment="I gave the right fee",
        dispute_days=14,
    )
    session.commit()
    assert evaluation.state == EvaluationState.DISPUTED
    assert dispute.items == ["accuracy"]
    assert [d.id for d in queries.open_disputes(session)] == [dispute.id]
    # A reviewer other than the scorer is picked to decide.
    resolver = pick_dispute_resolver(session, evaluation)
    assert resolver is not None and resolver.id == people.rev2.id
    resolve_dispute(
        session, dispute.id or 0, actor=people.rev2, outcome="upheld", comment="recording is clear"
    )
    session.commit()
    assert evaluation.state == EvaluationState.RESOLVED
    assert evaluation.total == pytest.approx(200 / 3)
    assert dispute.outcome == "upheld" and dispute.resolved_by == people.rev2.id
    assert queries.open_disputes(session) == []
    body = queries.evaluation_body(session, eid, people.agent1)
    assert body["state"] == "resolved"
    assert body["disputes"][0]["outcome"] == "upheld"
    assert body["disputes"][0]["resolution"] == "recording is clear"
    assert [a for _, a, _ in _history(session, eid)][-2:] == ["dispute", "resolve"]
    # One dispute per evaluation.
    with pytest.raises(Conflict, match="already been disputed"):
        open_dispute(
            session, eid, actor=people.agent1, items=["tone"], comment="again", dispute_days=14
        )


def test_dispute_changed_recomputes_the_total(session: Session, people: People):
    evaluation = _released(session, people)
    eid = evaluation.id or 0
    dispute = open_dispute(
        session,
        eid,
        actor=people.agent1,
        items=["accuracy"],
        comment="fee was right",
        dispute_days=14,
    )
    session.commit()
    with pytest.raises(ValidationFailed, match="say which answers change"):
        resolve_dispute(
            session, dispute.id or 0, actor=people.rev2, outcome="changed", comment="agreed"
        )
    with pytest.raises(ValidationFailed, match="outcome"):
        resolve_dispute(
            session, dispute.id or 0, actor=people.rev2, outcome="maybe", comment="agreed"
        )
    with pytest.raises(ValidationFailed, match="comment"):
        resolve_dispute(session, dispute.id or 0, actor=people.rev2, outcome="upheld", comment="  ")
    with pytest.raises(Forbidden):
        resolve_dispute(
            session, dispute.id or 0, actor=people.agent1, outcome="upheld", comment="I win"
        )
    resolve_dispute(
        session,
        dispute.id or 0,
        actor=people.rev2,
        outcome="changed",
        comment="the fee quoted was correct",
        answers={"accuracy": {"answer": "yes", "comment": "correct fee"}},
    )
    session.commit()
    assert evaluation.state == EvaluationState.RESOLVED
    assert evaluation.total == pytest.approx(250 / 3)
    assert evaluation.answers["accuracy"]["answer"] == "yes"
    history = queries.evaluation_history(session, eid, people.admin)
    change = next(h for h in history if h.action == "answer" and h.actor == "rev2")
    assert change.item_id == "accuracy"
    assert change.old == {"answer": "partial", "comment": "fee amount was vague"}
    assert change.new == {"answer": "yes", "comment": "correct fee"}
    assert change.why == "the fee quoted was correct"
    assert [h.action for h in history][-3:] == ["dispute", "answer", "resolve"]
    actions = _audit_actions(session, eid)
    assert actions[-3:] == ["evaluation.dispute", "evaluation.answer", "evaluation.resolve"]
    resolved = session.exec(
        select(AuditEvent).where(col(AuditEvent.action) == "dispute.resolve")
    ).one()
    assert resolved.detail == {"evaluation": eid, "outcome": "changed"}
    with pytest.raises(Conflict, match="already resolved"):
        resolve_dispute(
            session, dispute.id or 0, actor=people.rev2, outcome="upheld", comment="again"
        )


def test_dispute_rules(session: Session, people: People):
    evaluation = _released(session, people)
    eid = evaluation.id or 0
    released = evaluation.released_at
    assert released is not None

    def dispute(actor=people.agent1, items=("tone",), comment="unfair", **kw):  # type: ignore[no-untyped-def]
        return open_dispute(
            session, eid, actor=actor, items=list(items), comment=comment, dispute_days=14, **kw
        )

    with pytest.raises(Conflict, match=f"ended on {(released + timedelta(days=14)).date()}"):
        dispute(now=released + timedelta(days=14, seconds=1))
    with pytest.raises(NotFound):  # another agent cannot even see it
        dispute(actor=people.agent2)
    with pytest.raises(Forbidden):  # reviewers see it but are not the agent
        dispute(actor=people.rev2)
    with pytest.raises(ValidationFailed, match="not on this form: speed"):
        dispute(items=["speed"])
    with pytest.raises(ValidationFailed, match="at least one item"):
        dispute(items=[])
    with pytest.raises(ValidationFailed, match="comment"):
        dispute(comment="")
    with pytest.raises(ValidationFailed, match="2000"):
        dispute(comment="x" * 2001)
    assert evaluation.state == EvaluationState.RELEASED
    # On the last day it is still accepted.
    dispute(now=released + timedelta(days=14))
    assert evaluation.state == EvaluationState.DISPUTED


def test_roles_and_visibility(session: Session, people: People):
    with pytest.raises(Forbidden):
        start_evaluation(session, "c-1", actor=people.agent1)
    with pytest.raises(NotFound):
        start_evaluation(session, "c-404", actor=people.rev1)
    # A manager evaluates only the agents of the teams they manage.
    with pytest.raises(NotFound):
        start_evaluation(session, "c-3", actor=people.mgr)
    with pytest.raises(NotFound, match="form 'nope'"):
        start_evaluation(session, "c-1", actor=people.rev1, form_key="nope")
    with pytest.raises(ValidationFailed, match="sample"):
        start_evaluation(session, "c-1", actor=people.rev1, sample="targeted:")
    mine = start_evaluation(session, "c-1", actor=people.mgr, form_key="two-questions")
    session.commit()
    mid = mine.id or 0
    with pytest.raises(Forbidden):  # only its reviewer answers and submits
        save_answers(session, mid, actor=people.rev1, version=1, answers={"q1": {"answer": "yes"}})
    with pytest.raises(Forbidden):
        submit(session, mid, actor=people.admin)
    with pytest.raises(NotFound):  # the other team's manager cannot see it at all
        queries.evaluation_body(session, mid, people.mgr_south)
    with pytest.raises(Conflict, match="must be submitted"):
        release(session, mid, actor=people.rev1)
    evaluation = _released(session, people)
    eid = evaluation.id or 0
    with pytest.raises(Forbidden):
        acknowledge(session, eid, actor=people.rev1)
    with pytest.raises(NotFound):
        acknowledge(session, eid, actor=people.agent2)
    with pytest.raises(NotFound):
        release(session, eid, actor=people.mgr_south)
    assert [r.id for r in queries.evaluations_for_agent(session, "a-1", people.agent1)] == [eid]
    assert {r.id for r in queries.evaluations_for_agent(session, "a-1", people.mgr)} == {eid, mid}
    with pytest.raises(NotFound):
        queries.evaluations_for_agent(session, "a-1", people.agent2)
    with pytest.raises(NotFound):
        queries.evaluations_for_agent(session, "a-1", people.mgr_south)
    assert [r.id for r in queries.evaluations_for_call(session, "c-1", people.agent1)] == [eid]
    assert [r.id for r in queries.evaluations_for_call(session, "c-1", people.rev2)] == [mid, eid]
    with pytest.raises(NotFound):
        queries.evaluations_for_call(session, "c-1", people.agent2)


def test_self_evaluations_are_never_released(session: Session, people: People):
    evaluation = start_evaluation(session, "c-2", actor=people.rev1, kind=EvaluationKind.SELF)
    answers = {**FILLED, "greeting": {"answer": "yes"}}
    save_answers(session, evaluation.id or 0, actor=people.rev1, version=1, answers=answers)
    submit(session, evaluation.id or 0, actor=people.rev1)
    with pytest.raises(Conflict, match="self evaluation is never released"):
        release(session, evaluation.id or 0, actor=people.rev1)
    with pytest.raises(ValidationFailed, match="calibration"):
        start_evaluation(session, "c-2", actor=people.rev1, calibration_id=1)


def test_resolver_falls_back_to_the_scorer_then_the_team_manager(session: Session, people: People):
    evaluation = _released(session, people)
    people.rev2.active = False
    session.add(people.rev2)
    resolver = pick_dispute_resolver(session, evaluation)
    assert resolver is not None and resolver.id == people.rev1.id
    people.rev1.active = False
    session.add(people.rev1)
    resolver = pick_dispute_resolver(session, evaluation)
    assert resolver is not None and resolver.id == people.mgr.id
    assert resolver.role == Role.MANAGER


def test_the_dispute_period_is_a_setting(monkeypatch: pytest.MonkeyPatch):
    assert Settings(_env_file=None).dispute_days == 14  # type: ignore[call-arg]
    monkeypatch.setenv("QM_DISPUTE_DAYS", "30")
    assert Settings(_env_file=None).dispute_days == 30  # type: ignore[call-arg]
    monkeypatch.setenv("QM_DISPUTE_DAYS", "0")
    with pytest.raises(PydanticValidationError, match="dispute_days"):
        Settings(_env_file=None)  # type: ignore[call-arg]
