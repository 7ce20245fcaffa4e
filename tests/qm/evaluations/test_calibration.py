"""Blind calibration sessions and their agreement figures, checked against hand arithmetic.

The "two-questions" form has one section with two yes/no items, so a total is
100 x (yeses / 2): 100, 50 or 0.
"""

from collections.abc import Mapping

import pytest
from sqlmodel import Session, col, select

from qm.domain.evaluations import queries
from qm.domain.evaluations.calibration import (
    calibration_results,
    calibration_view,
    close_calibration,
    create_calibration,
)
from qm.domain.evaluations.commands import release, save_answers, start_evaluation, submit
from qm.domain.users import create_user
from qm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from qm.models import CalibrationSession, Evaluation, EvaluationKind, Role, User
from tests.factories import PASSWORD, make_call
from tests.qm.evaluations.conftest import People

CALLS = ["c-1", "c-2", "c-3", "c-4"]


def _score(
    session: Session, calibration: CalibrationSession, user: User, answers: Mapping[str, str]
) -> None:
    """`user` answers q1 and q2 of each call ("yy", "yn", ...) and submits."""
    for call_id, pair in answers.items():
        evaluation = session.exec(
            select(Evaluation).where(
                col(Evaluation.calibration_id) == calibration.id,
                col(Evaluation.call_id) == call_id,
                col(Evaluation.reviewer_id) == user.id,
            )
        ).one()
        yes_no = {"y": "yes", "n": "no"}
        save_answers(
            session,
            evaluation.id or 0,
            actor=user,
            version=evaluation.version,
            answers={"q1": {"answer": yes_no[pair[0]]}, "q2": {"answer": yes_no[pair[1]]}},
        )
        submit(session, evaluation.id or 0, actor=user)
    session.commit()


def _session(
    session: Session, people: People, reviewers: list[User], expert: User | None, calls: int
) -> CalibrationSession:
    if "c-4" in CALLS[:calls]:
        make_call(session, "c-4", agent_id="a-2")
    calibration = create_calibration(
        session,
        actor=people.mgr,
        name="March round",
        form_key="two-questions",
        call_ids=CALLS[:calls],
        reviewers=reviewers,
        expert=expert,
    )
    session.commit()
    return calibration


def test_two_reviewers_cohen_kappa_icc_and_deviations(session: Session, people: People):
    """By hand, totals in units of 50: A = (2, 1, 0), B = (2, 0, 0).

    q1: A yes yes no, B yes no no: observed 2/3, chance 2/3 x 1/3 + 1/3 x 2/3 = 4/9,
    kappa (2/3 - 4/9) / (1 - 4/9) = 0.4. q2: A and B yes no no: kappa 1.
    ICC(2,1): grand mean 5/6; MS rows = 2 x ((7/6)^2 + (1/3)^2 + (5/6)^2) / 2 = 13/6,
    MS columns = 3 x 2 x (1/6)^2 = 1/6, MS error = (SS total 29/6 - 13/3 - 1/6) / 2 = 1/6;
    ICC = (13/6 - 1/6) / (13/6 + 1/6 + 2 x 0 / 3) = 2 / (14/6) = 6/7.
    Deviation from the consensus: call 2 has mean 25, so A +25, B -25 there, 0 elsewhere.
    """
    calibration = _session(session, people, [people.rev1, people.rev2], None, 3)
    _score(session, calibration, people.rev1, {"c-1": "yy", "c-2": "yn", "c-3": "nn"})
    _score(session, calibration, people.rev2, {"c-1": "yy", "c-2": "nn", "c-3": "nn"})
    results = calibration_results(session, calibration.id or 0)
    assert results.calls == 3 and results.baseline == "consensus"
    q1, q2 = results.items
    assert (q1.item_id, q1.calls, q1.method) == ("q1", 3, "cohen")
    assert q1.observed == pytest.approx(2 / 3)
    assert q1.kappa == pytest.approx(0.4)
    assert q2.observed == pytest.approx(1.0) and q2.kappa == pytest.approx(1.0)
    assert results.icc == pytest.approx(6 / 7) and results.icc_calls == 3
    rev1, rev2 = results.deviations
    assert (rev1.reviewer, rev1.calls) == ("rev1", 3)
    assert rev1.mean_signed == pytest.approx(25 / 3) and rev1.mean_absolute == pytest.approx(25 / 3)
    assert rev2.mean_signed == pytest.approx(-25 / 3)


def test_three_reviewers_fleiss_kappa_and_expert_baseline(session: Session, people: People):
    """By hand, q1 over four calls from rev1, rev2 and the expert (admin):
    yyy, yyn, nnn, ynn. Per call agreement 1, 1/3, 1, 1/3: mean 2/3; yes and no each
    half of all answers, chance 1/2; Fleiss' kappa (2/3 - 1/2) / (1 - 1/2) = 1/3.
    q2 is always yes: observed 1, kappa undefined.
    Totals in units of 50 (rev1, rev2, expert): (2,2,2), (2,2,1), (1,1,1), (2,1,1).
    ICC(2,1): MS rows 5/9, MS columns 1/4, MS error 5/36;
    (5/9 - 5/36) / (5/9 + 2 x 5/36 + 3 x (1/4 - 5/36) / 4) = (15/36) / (33/36) = 5/11.
    From the expert: rev1 +50 on calls 2 and 4 (mean 25), rev2 +50 on call 2 (12.5).
    """
    calibration = _session(session, people, [people.rev1, people.rev2], people.admin, 4)
    _score(session, calibration, people.rev1, {"c-1": "yy", "c-2": "yy", "c-3": "ny", "c-4": "yy"})
    _score(session, calibration, people.rev2, {"c-1": "yy", "c-2": "yy", "c-3": "ny", "c-4": "ny"})
    _score(session, calibration, people.admin, {"c-1": "yy", "c-2": "ny", "c-3": "ny", "c-4": "ny"})
    results = calibration_results(session, calibration.id or 0)
    assert results.baseline == "admin"
    q1, q2 = results.items
    assert (q1.method, q1.calls) == ("fleiss", 4)
    assert q1.observed == pytest.approx(2 / 3)
    assert q1.kappa == pytest.approx(1 / 3)
    assert q2.observed == pytest.approx(1.0) and q2.kappa is None
    assert results.icc == pytest.approx(5 / 11) and results.icc_calls == 4
    assert [(d.reviewer, d.calls, d.mean_signed) for d in results.deviations] == [
        ("rev1", 4, pytest.approx(25.0)),
        ("rev2", 4, pytest.approx(12.5)),
    ]


def test_the_session_is_blind_until_everyone_submitted(session: Session, people: People):
    calibration = _session(session, people, [people.rev1, people.rev2], None, 2)
    cid = calibration.id or 0
    drafts = session.exec(select(Evaluation).where(col(Evaluation.calibration_id) == cid)).all()
    assert len(drafts) == 4
    assert all(e.kind == EvaluationKind.CALIBRATION for e in drafts)
    # Every answer starts open; the machine's answer stays beside it.
    c1 = next(e for e in drafts if e.call_id == "c-1")
    assert all(entry["answer"] is None for entry in c1.answers.values())
    _score(session, calibration, people.rev1, {"c-1": "yy", "c-2": "yn"})
    view = calibration_view(session, cid, people.rev1)
    assert not view.revealed and (view.submitted, view.expected) == (2, 4)
    assert {r.reviewer_id for r in view.evaluations} == {people.rev1.id}
    theirs = next(e for e in drafts if e.reviewer_id == people.rev1.id)
    with pytest.raises(NotFound):
        queries.evaluation_body(session, theirs.id or 0, people.rev2)
    with pytest.raises(NotFound):  # a reviewer outside the session sees nothing of it
        calibration_view(session, cid, _outsider(session))
    # The manager who runs the session sees everything.
    assert len(calibration_view(session, cid, people.mgr).evaluations) == 4
    # Only submitted evaluations count.
    assert calibration_results(session, cid).calls == 2
    assert calibration_results(session, cid).icc is None
    _score(session, calibration, people.rev2, {"c-1": "yy", "c-2": "yy"})
    view = calibration_view(session, cid, people.rev1)
    assert view.revealed and len(view.evaluations) == 4
    assert queries.evaluation_body(session, theirs.id or 0, people.rev2)["state"] == "submitted"
    # Calibration evaluations never reach the agent.
    with pytest.raises(Conflict, match="calibration evaluation is never released"):
        release(session, theirs.id or 0, actor=people.mgr)
    assert queries.evaluations_for_agent(session, "a-1", people.agent1) == []


def _outsider(session: Session) -> User:
    user = create_user(session, username="rev3", password=PASSWORD, role=Role.REVIEWER)
    session.commit()
    return user


def test_closing_reveals_and_freezes(session: Session, people: People):
    calibration = _session(session, people, [people.rev1, people.rev2], None, 1)
    cid = calibration.id or 0
    mine = session.exec(
        select(Evaluation).where(
            col(Evaluation.calibration_id) == cid, col(Evaluation.reviewer_id) == people.rev1.id
        )
    ).one()
    with pytest.raises(Forbidden):
        close_calibration(session, cid, actor=people.rev1)
    close_calibration(session, cid, actor=people.mgr)
    session.commit()
    assert calibration_view(session, cid, people.rev2).revealed
    assert len(calibration_view(session, cid, people.rev2).evaluations) == 2
    with pytest.raises(Conflict, match="closed"):
        save_answers(
            session, mine.id or 0, actor=people.rev1, version=1, answers={"q1": {"answer": "yes"}}
        )
    with pytest.raises(Conflict, match="already closed"):
        close_calibration(session, cid, actor=people.admin)


def test_creation_rules(session: Session, people: People):
    def create(**overrides: object) -> CalibrationSession:
        values: dict[str, object] = {
            "actor": people.mgr,
            "name": "round",
            "form_key": "two-questions",
            "call_ids": ["c-1"],
            "reviewers": [people.rev1, people.rev2],
            "expert": None,
        }
        values.update(overrides)
        return create_calibration(session, **values)  # type: ignore[arg-type]

    with pytest.raises(Forbidden):
        create(actor=people.rev1)
    with pytest.raises(ValidationFailed, match="two participants"):
        create(reviewers=[people.rev1])
    with pytest.raises(ValidationFailed, match="agent1 is not an active reviewer"):
        create(reviewers=[people.rev1, people.agent1])
    with pytest.raises(ValidationFailed, match="named twice"):
        create(call_ids=["c-1", "c-1"])
    with pytest.raises(ValidationFailed, match="name"):
        create(name=" ")
    with pytest.raises(NotFound, match="c-404"):
        create(call_ids=["c-404"])
    with pytest.raises(NotFound, match="form 'nope'"):
        create(form_key="nope")
    # A participant may also join a call later through start_evaluation, once.
    calibration = create(call_ids=["c-1", "c-2"])
    with pytest.raises(Conflict, match="already score call 'c-1'"):
        start_evaluation(
            session,
            "c-1",
            actor=people.rev1,
            kind=EvaluationKind.CALIBRATION,
            calibration_id=calibration.id,
        )
    with pytest.raises(Forbidden):
        start_evaluation(
            session,
            "c-1",
            actor=people.admin,
            kind=EvaluationKind.CALIBRATION,
            calibration_id=calibration.id,
        )
    with pytest.raises(ValidationFailed, match="not in this calibration session"):
        start_evaluation(
            session,
            "c-3",
            actor=people.rev1,
            kind=EvaluationKind.CALIBRATION,
            calibration_id=calibration.id,
        )


def test_the_organiser_sees_every_answer_of_their_session_and_no_other_manager_does(
    session: Session, people: People
):
    # c-4 belongs to agent a-2 of team south, which `mgr` (north) does not manage.
    calibration = _session(session, people, [people.rev1, people.rev2], None, 4)
    cid = calibration.id or 0
    _score(session, calibration, people.rev1, dict.fromkeys(CALLS, "yy"))
    _score(session, calibration, people.rev2, dict.fromkeys(CALLS, "yn"))
    south = session.exec(
        select(Evaluation).where(
            col(Evaluation.calibration_id) == cid, col(Evaluation.call_id) == "c-4"
        )
    ).all()
    assert len(south) == 2
    for evaluation in south:
        assert queries.evaluation_body(session, evaluation.id or 0, people.mgr)["id"]
    # The south manager sees the south calls' answers (their team), not the north ones.
    north = session.exec(
        select(Evaluation).where(
            col(Evaluation.calibration_id) == cid, col(Evaluation.call_id) == "c-1"
        )
    ).first()
    assert north is not None
    with pytest.raises(NotFound):
        queries.evaluation_body(session, north.id or 0, people.mgr_south)
    assert queries.evaluation_body(session, south[0].id or 0, people.mgr_south)["id"]
