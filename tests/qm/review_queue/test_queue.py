"""Working the queue: starting a review from a pick, states that follow the evaluation,
filters, workload and who may see which picks."""

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from qm.domain.evaluations import commands as evaluations
from qm.domain.review_queue.commands import skip_pick, start_from_pick
from qm.domain.review_queue.queries import (
    QueueQuery,
    filter_options,
    parse_queue_query,
    queue_page,
    workload,
)
from qm.domain.review_queue.rules import RuleInput, save_rule
from qm.domain.review_queue.sampling import sample_period
from qm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from qm.models import Agent, Evaluation, PickState, ReviewPick, Role, User
from tests.qm.review_queue.helpers import MARCH, TODAY, bank_form, done_call, user, veteran

ANSWERS: dict[str, Any] = {
    "greeting": {"answer": "yes"},
    "verify": {"answer": "yes"},
    "accuracy": {"answer": "yes"},
    "tone": {"answer": 4},
}


def world(session: Session) -> dict[str, User]:
    """Two reviewers in turn, a manager of team north (agent a-1), an agent user; March
    sampled: two random picks of a-1 (north), two of a-2, and a-2's transfer targeted."""
    people = {
        "admin": user(session, "admin", Role.ADMIN),
        "rev1": user(session, "rev1"),
        "rev2": user(session, "rev2"),
        "mgr": user(session, "mgr", Role.MANAGER, teams=("north",)),
    }
    people["agent"] = evaluations_agent(session)
    bank_form(session)
    for agent in ("a-1", "a-2"):
        veteran(session, agent)
        for day in range(1, 4):
            done_call(session, f"{agent}-{day}", agent_id=agent, day=day)
    done_call(session, "a-2-t", agent_id="a-2", day=9, transfers=1)
    row = session.get(Agent, "a-1")
    assert row is not None
    row.team_id = "north"
    save_rule(session, data=RuleInput(reasons=["transfer"]), actor=people["admin"])
    # Seed 0 draws a-2-1 and a-2-2 at random, so a-2-t is a targeted pick.
    sample_period(session, period=MARCH, today=TODAY, seed=0)
    session.commit()
    return people


def evaluations_agent(session: Session) -> User:
    from qm.domain.users import create_user
    from tests.factories import PASSWORD, make_agent

    make_agent(session, "a-1")
    return create_user(
        session, username="agent1", password=PASSWORD, role=Role.AGENT, agent_id="a-1"
    )


def pick_of(session: Session, reviewer: User) -> ReviewPick:
    return session.exec(
        select(ReviewPick).where(ReviewPick.reviewer_id == reviewer.id).order_by(col(ReviewPick.id))
    ).first() or pytest.fail("no pick")


def rows(session: Session, viewer: User, **query: Any) -> list[Any]:
    page = queue_page(session, viewer=viewer, query=QueueQuery(**query), page_size=50, today=TODAY)
    return list(page.items)


def test_starting_a_pick_makes_a_labelled_draft_and_submitting_marks_it_done(
    session: Session,
) -> None:
    people = world(session)
    rev1 = people["rev1"]
    pick = pick_of(session, rev1)

    evaluation = start_from_pick(session, pick_id=pick.id or 0, actor=rev1)

    assert (evaluation.call_id, evaluation.sample, evaluation.reviewer_id) == (
        pick.call_id,
        pick.sample,
        rev1.id,
    )
    assert (pick.state, pick.evaluation_id) == (PickState.IN_PROGRESS, evaluation.id)
    # Starting again opens the same draft.
    assert start_from_pick(session, pick_id=pick.id or 0, actor=rev1).id == evaluation.id
    (row,) = [r for r in rows(session, rev1, reviewer=rev1.id or 0) if r.pick_id == pick.id]
    assert row.state == PickState.IN_PROGRESS

    evaluations.save_answers(
        session, evaluation.id or 0, actor=rev1, version=evaluation.version, answers=ANSWERS
    )
    evaluations.submit(session, evaluation.id or 0, actor=rev1)

    (row,) = [r for r in rows(session, rev1, reviewer=rev1.id or 0) if r.pick_id == pick.id]
    assert row.state == PickState.DONE
    load = {w.reviewer: w for w in workload(session, viewer=rev1, today=TODAY)}
    assert (load["rev1"].assigned, load["rev1"].done, load["rev1"].open) == (
        len(rows(session, rev1, reviewer=rev1.id or 0)),
        1,
        load["rev1"].assigned - 1,
    )


def test_a_targeted_pick_labels_its_evaluation_targeted(session: Session) -> None:
    people = world(session)
    pick = session.exec(select(ReviewPick).where(ReviewPick.call_id == "a-2-t")).one()
    evaluation = start_from_pick(session, pick_id=pick.id or 0, actor=people["admin"])
    assert evaluation.sample == "targeted:transfer"


def test_refusals_when_starting_a_pick(session: Session) -> None:
    people = world(session)
    pick = pick_of(session, people["rev1"])
    with pytest.raises(NotFound):
        start_from_pick(session, pick_id=pick.id or 0, actor=people["agent"])
    with pytest.raises(NotFound):
        start_from_pick(session, pick_id=99999, actor=people["rev1"])
    with pytest.raises(Forbidden):  # assigned to rev1
        start_from_pick(session, pick_id=pick.id or 0, actor=people["rev2"])
    evaluation = start_from_pick(session, pick_id=pick.id or 0, actor=people["rev1"])
    with pytest.raises(Conflict):  # rev1 reviews it already
        start_from_pick(session, pick_id=pick.id or 0, actor=people["admin"])
    with pytest.raises(Conflict):
        skip_pick(session, pick_id=pick.id or 0, actor=people["rev1"], why="test call")
    assert evaluation.id is not None


def test_a_manager_takes_over_a_pick_of_their_team_but_never_sees_other_teams(
    session: Session,
) -> None:
    people = world(session)
    mgr = people["mgr"]
    north = rows(session, mgr)
    assert north and {r.agent_id for r in north} == {"a-1"}
    taken = start_from_pick(session, pick_id=north[0].pick_id, actor=mgr)
    assert taken.reviewer_id == mgr.id
    south = session.exec(select(ReviewPick).where(ReviewPick.call_id.startswith("a-2"))).first()
    assert south is not None
    with pytest.raises(NotFound):
        start_from_pick(session, pick_id=south.id or 0, actor=mgr)


def test_skipping_a_pick(session: Session) -> None:
    people = world(session)
    pick = pick_of(session, people["rev2"])
    with pytest.raises(ValidationFailed) as error:
        skip_pick(session, pick_id=pick.id or 0, actor=people["rev2"], why="  ")
    assert error.value.field == "why"
    skip_pick(session, pick_id=pick.id or 0, actor=people["rev2"], why="wrong language")
    assert [r.state for r in rows(session, people["rev2"], state=PickState.SKIPPED)] == [
        PickState.SKIPPED
    ]
    with pytest.raises(Conflict):
        start_from_pick(session, pick_id=pick.id or 0, actor=people["rev2"])


def test_filters_and_overdue(session: Session) -> None:
    people = world(session)
    admin = people["admin"]
    everything = rows(session, admin)
    assert len(everything) == 5
    assert {r.agent_id for r in rows(session, admin, agent="a-2")} == {"a-2"}
    assert [r.sample for r in rows(session, admin, reason="random")].count("random") == 4
    transfer = rows(session, admin, reason="transfer")
    assert [r.call_id for r in transfer] == ["a-2-t"]
    assert rows(session, admin, queue="sales") == []
    assert rows(session, admin, period="2024-02") == []
    due = TODAY + timedelta(days=7)
    assert len(rows(session, admin, due="overdue")) == 0  # nothing overdue on the run day
    later = queue_page(
        session,
        viewer=admin,
        query=QueueQuery(due="overdue"),  # type: ignore[arg-type]
        page_size=2,
        today=due + timedelta(days=1),
    )
    assert (later.total, len(later.items), later.pages) == (5, 2, 3)
    assert all(r.overdue for r in later.items)
    load = workload(session, viewer=admin, today=due + timedelta(days=1))
    assert sum(w.overdue for w in load) == 5
    options = filter_options(session, viewer=admin)
    assert options.periods == ("2024-03",)
    assert [a for a, _ in options.agents] == ["a-1", "a-2"]


def test_agents_may_not_read_the_queue(session: Session) -> None:
    people = world(session)
    with pytest.raises(Forbidden):
        rows(session, people["agent"])
    with pytest.raises(Forbidden):
        workload(session, viewer=people["agent"], today=TODAY)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reason": "rudeness"}, "reason"),
        ({"due": "yesterday"}, "due"),
        ({"state": "closed"}, "state"),
        ({"reviewer": "bob"}, "reviewer"),
        ({"period": "2024-13"}, "period"),
        ({"period": "March"}, "period"),
        ({"page": "0"}, "page"),
        ({"agent": "a\x00"}, "agent"),
    ],
)
def test_bad_query_parameters_are_refused_naming_them(
    session: Session, params: dict[str, str], field: str
) -> None:
    viewer = user(session, "rev1")
    with pytest.raises(ValidationFailed) as error:
        parse_queue_query(params, viewer=viewer)
    assert error.value.field == field


def test_a_reviewer_sees_their_own_picks_by_default(session: Session) -> None:
    people = world(session)
    rev1 = people["rev1"]
    assert parse_queue_query({}, viewer=rev1).reviewer == rev1.id
    assert parse_queue_query({}, viewer=people["mgr"]).reviewer == "all"
    assert parse_queue_query({"reviewer": "all"}, viewer=rev1).reviewer == "all"
    mine = rows(session, rev1, reviewer=rev1.id or 0)
    assert mine and all(r.reviewer == "rev1" for r in mine)
    assert session.exec(select(Evaluation)).all() == []


def test_a_draft_started_on_the_call_page_becomes_the_picks_evaluation(session: Session) -> None:
    people = world(session)
    rev1 = people["rev1"]
    pick = pick_of(session, rev1)
    earlier = evaluations.start_evaluation(session, pick.call_id, actor=rev1, sample=pick.sample)

    evaluation = start_from_pick(session, pick_id=pick.id or 0, actor=rev1)

    assert evaluation.id == earlier.id
    assert pick.evaluation_id == earlier.id
    assert len(session.exec(select(Evaluation)).all()) == 1
