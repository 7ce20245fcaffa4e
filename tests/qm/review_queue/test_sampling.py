"""Sampling a month for review: each targeted reason, the random sample, idempotence,
reproducible seeds, rules and their scopes, and Chinese data."""

from datetime import timedelta

import pytest
from sqlmodel import Session, col, delete, select

from qm.domain.review_queue.rules import DEFAULT_RULE, RuleInput, list_rules, save_rule
from qm.domain.review_queue.sampling import sample_period
from qm.errors import Forbidden, ValidationFailed
from qm.models import Agent, ReviewPick, Role, Stage, StageStatus, TargetReason, Team
from tests.factories import make_call, make_stage
from tests.qm.review_queue.helpers import (
    MARCH,
    TODAY,
    done_call,
    reason_call,
    user,
    veteran,
)

TARGETED_ONLY = RuleInput(random_per_agent=0)


def picks(session: Session) -> dict[str, ReviewPick]:
    """The stored picks by call id."""
    return {p.call_id: p for p in session.exec(select(ReviewPick)).all()}


@pytest.mark.parametrize("reason", list(TargetReason))
def test_each_targeted_reason_picks_its_call_and_only_it(
    session: Session, reason: TargetReason
) -> None:
    admin = user(session, "admin", Role.ADMIN)
    user(session, "rev1")
    save_rule(session, data=TARGETED_ONLY, actor=admin)
    reason_call(session, reason, "c-hit", "a-1")
    # A plain call of a veteran agent (every call of a new agent is a new agent's call).
    veteran(session, "a-2")
    done_call(session, "c-plain", agent_id="a-2", day=9)

    report = sample_period(session, period=MARCH, today=TODAY, seed=1)

    found = picks(session)
    assert set(found) == {"c-hit"}, {k: p.reasons for k, p in found.items()}
    pick = found["c-hit"]
    assert pick.sample == f"targeted:{reason.value}"
    assert pick.reasons == reason.value
    assert pick.detail  # says what was found
    assert pick.period == "2024-03"
    assert pick.due == TODAY + timedelta(days=DEFAULT_RULE.due_days)
    assert report.by_reason() == {reason.value: 1}
    assert [p.reviewer for p in report.created] == ["rev1"]


def test_a_call_with_several_reasons_is_one_pick_listing_them(session: Session) -> None:
    veteran(session, "a-1")
    done_call(session, "c-1", transfers=2, critical_failed=True, uncertain_items=1)

    sample_period(session, period=MARCH, today=TODAY, seed=1)

    pick = picks(session)["c-1"]
    # Randomly drawn (the default rule draws two per agent): labelled random, reasons kept.
    assert pick.sample == "random"
    assert pick.reasons == "critical-miss,uncertain-keypoints,transfer"
    assert "1 uncertain key point" in pick.detail


def test_random_sample_is_n_per_agent_and_targeted_calls_come_on_top(session: Session) -> None:
    admin = user(session, "admin", Role.ADMIN)
    save_rule(session, data=RuleInput(random_per_agent=2, reasons=["transfer"]), actor=admin)
    for agent in ("a-1", "a-2"):
        veteran(session, agent)
        for day in range(1, 9):
            done_call(session, f"{agent}-{day}", agent_id=agent, day=day)
    done_call(session, "a-2-transfer", agent_id="a-2", day=10, transfers=1)

    report = sample_period(session, period=MARCH, today=TODAY, seed=7)

    by_agent: dict[str, list[str]] = {}
    for p in report.picks:
        by_agent.setdefault(p.agent_id, []).append(p.sample)
    assert sorted(by_agent["a-1"]) == ["random", "random"]
    assert by_agent["a-2"].count("random") == 2
    # The transfer is picked as targeted unless the random draw already took it.
    assert "a-2-transfer" in {p.call_id for p in report.picks}
    assert report.candidates == 17


def test_running_twice_does_not_double_picks(session: Session) -> None:
    veteran(session, "a-1")
    for day in range(1, 11):
        done_call(session, f"c-{day}", day=day, transfers=1 if day == 3 else 0)

    first = sample_period(session, period=MARCH, today=TODAY, seed=3)
    second = sample_period(session, period=MARCH, today=TODAY)

    assert len(first.created) == len(first.picks) > 0
    assert second.created == ()
    assert len(second.picks) == len(first.picks)
    assert len(picks(session)) == len(first.picks)


def test_a_second_run_tops_up_what_is_missing(session: Session) -> None:
    veteran(session, "a-1")
    done_call(session, "c-1", day=1)

    first = sample_period(session, period=MARCH, today=TODAY, seed=3)
    assert [p.call_id for p in first.created] == ["c-1"]  # one call: one random pick of two
    done_call(session, "c-2", day=2)  # processed later
    second = sample_period(session, period=MARCH, today=TODAY, seed=3)

    assert [p.call_id for p in second.created] == ["c-2"]
    assert len(picks(session)) == 2


def test_the_same_seed_picks_the_same_calls(session: Session) -> None:
    veteran(session, "a-1")
    for day in range(1, 29):
        done_call(session, f"c-{day:02d}", day=day)

    def run(seed: int) -> set[str]:
        report = sample_period(session, period=MARCH, today=TODAY, seed=seed)
        session.exec(delete(ReviewPick))
        return {p.call_id for p in report.picks}

    assert run(11) == run(11)
    assert len({frozenset(run(seed)) for seed in range(6)}) > 1  # seeds do matter


def test_only_calls_whose_pipeline_is_done_in_the_month(session: Session) -> None:
    veteran(session, "a-1")
    done_call(session, "c-done", day=2)
    make_call(
        session,
        "c-pending",
        agent_id="a-1",
        started_at=done_call(session, "x", day=3).started_at + timedelta(hours=1),
    )
    make_stage(session, "c-pending", Stage.TRANSCRIBE, StageStatus.DONE)
    done_call(session, "c-april", day=32)  # 1 April
    session.exec(delete(ReviewPick))

    report = sample_period(session, period=MARCH, today=TODAY, seed=1)

    assert {p.call_id for p in report.picks} == {"c-done", "x"}
    assert report.candidates == 2


def test_targeted_picks_are_capped_per_agent_most_serious_first(session: Session) -> None:
    admin = user(session, "admin", Role.ADMIN)
    save_rule(session, data=RuleInput(random_per_agent=0, targeted_per_agent=2), actor=admin)
    veteran(session, "a-1")
    done_call(session, "c-transfer", day=1, transfers=1)
    done_call(session, "c-uncertain", day=2, uncertain_items=1)
    done_call(session, "c-critical", day=3, critical_failed=True)
    done_call(session, "c-transfer-2", day=4, transfers=1)

    sample_period(session, period=MARCH, today=TODAY)

    assert set(picks(session)) == {"c-critical", "c-uncertain"}


def test_the_most_specific_rule_applies_and_uncovered_calls_are_not_sampled(
    session: Session,
) -> None:
    admin = user(session, "admin", Role.ADMIN)
    session.add(Team(id="north", name="North"))
    session.add(Team(id="south", name="South"))
    session.flush()
    veteran(session, "a-n")
    veteran(session, "a-s")
    for agent, team in (("a-n", "north"), ("a-s", "south")):
        row = session.get(Agent, agent)
        assert row is not None
        row.team_id = team
    for day in range(1, 6):
        done_call(session, f"n-{day}", agent_id="a-n", day=day)
        done_call(session, f"s-{day}", agent_id="a-s", day=day)
    done_call(session, "n-sales", agent_id="a-n", day=7, queue="sales")
    save_rule(session, data=RuleInput(team_id="north", random_per_agent=3), actor=admin)
    save_rule(
        session, data=RuleInput(team_id="north", queue="sales", random_per_agent=1), actor=admin
    )

    report = sample_period(session, period=MARCH, today=TODAY, seed=5)

    mine = [p for p in report.picks if p.agent_id == "a-n"]
    assert sum(1 for p in mine if p.call_id == "n-sales") == 1  # the queue rule's one pick
    assert len(mine) == 4  # three from the team rule, one from the team+queue rule
    assert not [p for p in report.picks if p.agent_id == "a-s"]  # no rule covers south
    assert report.rules == 2


def test_chinese_agents_calls_and_reviewers(session: Session) -> None:
    user(session, "李娜")
    veteran(session, "张伟")
    agent = session.get(Agent, "张伟")
    assert agent is not None
    agent.name = "张伟（客服）"
    done_call(
        session,
        "通话-001",
        agent_id="张伟",
        courtesy={"forbidden_count": 1, "forbidden_phrases": ["你自己看着办"], "polite_count": 1},
    )

    report = sample_period(session, period=MARCH, today=TODAY, seed=1)

    (pick,) = report.picks
    assert (pick.call_id, pick.agent_id, pick.reviewer) == ("通话-001", "张伟", "李娜")
    stored = picks(session)["通话-001"]
    assert "你自己看着办" in stored.detail
    assert "forbidden-phrase" in stored.reasons


def test_every_run_is_audited(session: Session) -> None:
    from qm.models import AuditEvent

    veteran(session, "a-1")
    done_call(session, "c-1")
    sample_period(session, period=MARCH, today=TODAY, seed=1, actor="rita")

    event = session.exec(
        select(AuditEvent).where(col(AuditEvent.action) == "review_queue.sample")
    ).one()
    assert (event.actor, event.entity_id) == ("rita", "2024-03")
    assert event.detail is not None and event.detail["created"] == 1


# --- rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (RuleInput(reasons=["critical-miss", "rudeness"]), "reasons"),
        (RuleInput(random_per_agent=-1), "random_per_agent"),
        (RuleInput(targeted_per_agent=1000), "targeted_per_agent"),
        (RuleInput(due_days=400), "due_days"),
        (RuleInput(low_courtesy_below=1.5), "low_courtesy_below"),
        (RuleInput(assignment="lottery"), "assignment"),
        (RuleInput(team_id="nowhere"), "team_id"),
        (RuleInput(queue="nowhere"), "queue"),
        (RuleInput(reviewers=["ghost"]), "reviewers"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(
    session: Session, data: RuleInput, field: str
) -> None:
    admin = user(session, "admin", Role.ADMIN)
    with pytest.raises(ValidationFailed) as error:
        save_rule(session, data=data, actor=admin)
    assert error.value.field == field
    assert list_rules(session) == []


def test_saving_a_rule_for_the_same_scope_replaces_it(session: Session) -> None:
    admin = user(session, "admin", Role.ADMIN)
    rev = user(session, "rev1")
    save_rule(session, data=RuleInput(random_per_agent=1), actor=admin)
    save_rule(
        session,
        data=RuleInput(random_per_agent=4, reviewers=["rev1"], assignment="by_load"),
        actor=admin,
    )
    (rule,) = list_rules(session)
    assert (rule.random_per_agent, rule.reviewer_ids, rule.assignment) == (4, [rev.id], "by_load")


def test_only_admins_and_managers_of_the_team_set_rules(session: Session) -> None:
    rev = user(session, "rev1")
    mgr = user(session, "mgr", Role.MANAGER, teams=("north",))
    with pytest.raises(Forbidden):
        save_rule(session, data=RuleInput(), actor=rev)
    with pytest.raises(Forbidden):
        save_rule(session, data=RuleInput(), actor=mgr)  # the whole site is not theirs
    session.add(Team(id="south", name="South"))
    with pytest.raises(Forbidden):
        save_rule(session, data=RuleInput(team_id="south"), actor=mgr)
    rule = save_rule(session, data=RuleInput(team_id="north"), actor=mgr)
    assert rule.team_id == "north"
