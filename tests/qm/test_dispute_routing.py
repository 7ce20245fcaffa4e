"""Dispute routing: the least-loaded active reviewer who did not score the evaluation, then
the scorer, then the team's manager; and the matching rule for who may resolve."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.domain.evaluations.disputes import pick_dispute_resolver, resolver_problem
from qm.domain.evaluations.forms import load_form_file
from qm.models import (
    Agent,
    Dispute,
    DisputeState,
    Evaluation,
    EvaluationKind,
    Role,
    Team,
    User,
    UserTeam,
)
from tests.factories import make_call, make_user

FORMS = Path(__file__).resolve().parent / "evaluations" / "forms"


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on a fresh database."""
    with Session(engine) as s:
        yield s


def _world(session: Session) -> tuple[Evaluation, dict[str, User]]:
    """Team t-1 (agent a-1, manager mgr), reviewers scorer, r2, r3; scorer's evaluation."""
    session.add(Team(id="t-1", name="一组"))
    session.flush()
    make_call(session, "c-1", agent_id="a-1")
    agent = session.get(Agent, "a-1")
    assert agent is not None
    agent.team_id = "t-1"
    people = {
        name: make_user(session, name, role)
        for name, role in (
            ("scorer", Role.REVIEWER),
            ("r2", Role.REVIEWER),
            ("r3", Role.REVIEWER),
            ("mgr", Role.MANAGER),
        )
    }
    people["agent1"] = make_user(session, "agent1", Role.AGENT, agent_id="a-1")
    session.add(UserTeam(user_id=people["mgr"].id or 0, team_id="t-1"))
    form = load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    evaluation = Evaluation(
        call_id="c-1",
        form_id=form.id or 0,
        kind=EvaluationKind.STANDARD,
        reviewer_id=people["scorer"].id or 0,
        agent_id="a-1",
        answers={},
    )
    session.add(evaluation)
    session.flush()
    return evaluation, people


def _dispute(evaluation: Evaluation, people: dict[str, User], to: str | None = None) -> Dispute:
    return Dispute(
        evaluation_id=evaluation.id or 0,
        agent_user_id=people["agent1"].id or 0,
        items=["tone"],
        comment="不同意",
        assigned_to=None if to is None else people[to].id,
    )


def _picked(session: Session, evaluation: Evaluation) -> str | None:
    user = pick_dispute_resolver(session, evaluation)
    return None if user is None else user.username


def test_least_loaded_other_reviewer_wins(session: Session) -> None:
    evaluation, people = _world(session)
    assert _picked(session, evaluation) == "r2"  # a tie: the lowest id
    session.add(_dispute(evaluation, people, "r2"))
    session.flush()
    assert _picked(session, evaluation) == "r3"
    session.add_all([_dispute(evaluation, people, "r3"), _dispute(evaluation, people, "r3")])
    session.flush()
    assert _picked(session, evaluation) == "r2"


def test_resolved_disputes_are_no_load(session: Session) -> None:
    evaluation, people = _world(session)
    done = _dispute(evaluation, people, "r2")
    done.state = DisputeState.RESOLVED
    session.add(done)
    session.flush()
    assert _picked(session, evaluation) == "r2"
    assert len(session.exec(select(Dispute)).all()) == 1


def test_scorer_then_manager_and_the_same_rule_for_resolving(session: Session) -> None:
    evaluation, people = _world(session)
    dispute = _dispute(evaluation, people)
    assert resolver_problem(session, people["scorer"], dispute, evaluation) is not None
    assert resolver_problem(session, people["r2"], dispute, evaluation) is None
    assert resolver_problem(session, people["mgr"], dispute, evaluation) is None
    assert resolver_problem(session, people["agent1"], dispute, evaluation) is not None
    people["r2"].active = people["r3"].active = False
    session.flush()
    assert _picked(session, evaluation) == "scorer"
    assert resolver_problem(session, people["scorer"], dispute, evaluation) is None
    people["scorer"].active = False
    session.flush()
    assert _picked(session, evaluation) == "mgr"
