"""Sharing picks among reviewers: in turn, by load, only people who may evaluate the agent."""

from collections import Counter

from sqlmodel import Session, select

from qm.domain.review_queue.rules import RuleInput, save_rule
from qm.domain.review_queue.sampling import sample_period
from qm.models import Agent, ReviewPick, Role
from scoring.period import Period
from tests.qm.review_queue.helpers import MARCH, TODAY, done_call, user, veteran


def assigned(session: Session) -> Counter[int | None]:
    return Counter(p.reviewer_id for p in session.exec(select(ReviewPick)).all())


def calls_for(session: Session, agents: int, per_agent: int, *, first_day: int = 1) -> None:
    for a in range(agents):
        veteran(session, f"a-{a}")
        for d in range(per_agent):
            done_call(session, f"a-{a}-{first_day + d}", agent_id=f"a-{a}", day=first_day + d)


def test_round_robin_shares_picks_evenly_and_goes_on_where_it_stopped(session: Session) -> None:
    admin = user(session, "admin", Role.ADMIN)
    r1, r2, r3 = user(session, "r1"), user(session, "r2"), user(session, "r3")
    save_rule(session, data=RuleInput(random_per_agent=2, reasons=[]), actor=admin)
    calls_for(session, agents=3, per_agent=4)

    report = sample_period(session, period=MARCH, today=TODAY, seed=2)

    assert len(report.created) == 6
    assert assigned(session) == {r1.id: 2, r2.id: 2, r3.id: 2}
    order = [p.reviewer for p in sorted(report.created, key=lambda p: (p.agent_id, p.call_id))]
    assert order == ["r1", "r2", "r3", "r1", "r2", "r3"]

    # A later run (a new agent's calls arrive) continues with the next in turn.
    for day in (10, 11):
        done_call(session, f"late-{day}", agent_id="a-late", day=day)
    veteran(session, "a-late")
    later = sample_period(session, period=MARCH, today=TODAY, seed=2)
    assert [p.reviewer for p in later.created] == ["r1", "r2"]


def test_by_load_gives_new_picks_to_whoever_has_the_fewest_open(session: Session) -> None:
    admin = user(session, "admin", Role.ADMIN)
    busy, idle = user(session, "busy"), user(session, "idle")
    # February: three open picks for `busy`.
    save_rule(
        session,
        data=RuleInput(random_per_agent=3, reasons=[], reviewers=["busy"]),
        actor=admin,
    )
    veteran(session, "a-0")
    for day in (1, 2, 3):
        done_call(session, f"feb-{day}", agent_id="a-0", day=day - 29)  # 1-3 February
    sample_period(session, period=Period(2024, 2), today=TODAY, seed=1)
    assert assigned(session) == {busy.id: 3}

    save_rule(
        session,
        data=RuleInput(random_per_agent=4, reasons=[], assignment="by_load"),
        actor=admin,
    )
    for day in range(1, 5):
        done_call(session, f"mar-{day}", agent_id="a-0", day=day)
    report = sample_period(session, period=MARCH, today=TODAY, seed=1)

    counts = Counter(p.reviewer for p in report.created)
    # idle takes picks until it has as many open as busy: 3 of 4, then they alternate.
    assert counts == {"idle": 3, "busy": 1}
    assert idle.id is not None


def test_a_manager_in_the_pool_only_gets_their_teams_calls(session: Session) -> None:
    admin = user(session, "admin", Role.ADMIN)
    user(session, "mgr", Role.MANAGER, teams=("north",))
    calls_for(session, agents=2, per_agent=3)
    north = session.get(Agent, "a-0")
    assert north is not None
    north.team_id = "north"
    session.add(north)
    save_rule(
        session,
        data=RuleInput(random_per_agent=2, reasons=[], reviewers=["mgr"]),
        actor=admin,
    )

    report = sample_period(session, period=MARCH, today=TODAY, seed=4)

    by_agent = {(p.agent_id, p.reviewer) for p in report.created}
    assert by_agent == {("a-0", "mgr"), ("a-1", None)}  # nobody may review a-1's calls


def test_no_reviewers_leaves_picks_unassigned(session: Session) -> None:
    calls_for(session, agents=1, per_agent=2)
    report = sample_period(session, period=MARCH, today=TODAY, seed=4)
    assert len(report.created) == 2
    assert report.by_reviewer() == {"": 2}
