"""team_dashboard: a team's month from the stored calls, against hand-counted figures."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.dashboard import TRAINING_ROWS, TeamDashboard, latest_period, team_dashboard
from qm.domain.targets import save_targets
from qm.errors import NotFound, ValidationFailed
from qm.models import Agent, Team, TrainingAssignment
from qm.settings import Settings
from tests.factories import make_call, make_metrics
from tests.qm.dashboard_world import MARCH, build_dashboard_world

TODAY = date(2024, 4, 2)


@pytest.fixture
def world(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        build_dashboard_world(session)
    return engine


def dashboard(engine: Engine, settings: Settings, team: str = "north") -> TeamDashboard:
    with Session(engine) as session:
        return team_dashboard(session, team, MARCH, settings, today=TODAY)


def test_headline_counts_the_teams_contacts_only(world: Engine, settings: Settings) -> None:
    d = dashboard(world, settings)
    assert d.team_name == "北区" and d.period == MARCH
    figures = {h.metric: h for h in d.headline}
    # 12 + 3 calls of north; Bob's calls are south's.
    assert figures["transfer_rate"].estimate.n == 15
    assert figures["transfer_rate"].estimate.value == pytest.approx(1 / 15)
    low, high = figures["transfer_rate"].estimate.ci95 or (0, 0)
    assert low < 1 / 15 < high
    # Compliance: a-1 4 x 0.5 + 8 x 1.0, a-2 3 x 0.8 -> (2 + 8 + 2.4) / 15.
    assert figures["script_compliance"].estimate.value == pytest.approx(12.4 / 15)
    # The repeat of k-rep (answered by south) counts against a-1's first call.
    fcr = figures["fcr"].estimate
    assert fcr.n > 0 and fcr.value is not None and fcr.value < 1
    assert figures["composite"].estimate.value is not None
    # Default targets until an admin sets some; higher is better except transfers.
    assert figures["fcr"].target is not None and figures["fcr"].target.value == 0.70
    assert not figures["transfer_rate"].higher_is_better


def test_agents_ranked_only_with_enough_contacts(world: Engine, settings: Settings) -> None:
    d = dashboard(world, settings)
    rows = {r.agent_id: r for r in d.agents}
    assert set(rows) == {"a-1", "a-2"}
    assert rows["a-1"].name == "王芳" and rows["a-1"].card.contacts == 12
    assert rows["a-1"].card.rank == 1 and rows["a-1"].card.enough_data
    # Three calls are below the minimum of 10: never ranked.
    assert rows["a-2"].card.rank is None and not rows["a-2"].card.enough_data
    assert (rows["a-1"].evaluations, rows["a-1"].random, rows["a-1"].targeted) == (2, 1, 1)
    assert d.coverage.calls == 15 and d.coverage.evaluations == 2


def test_trend_distributions_and_scatter(world: Engine, settings: Settings) -> None:
    d = dashboard(world, settings)
    assert [p.period for p in d.trend] == [
        "2023-10",
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    assert [p.contacts for p in d.trend] == [0, 0, 0, 0, 1, 15]
    assert d.trend[0].fcr is None
    # The database's trend agrees with the scorecard's figures for the month.
    figures = {h.metric: h.estimate.value for h in d.headline}
    march = d.trend[-1]
    assert march.fcr == pytest.approx(figures["fcr"])
    assert march.transfer_rate == pytest.approx(figures["transfer_rate"])
    assert march.aht_seconds == pytest.approx(figures["aht_seconds"])
    assert march.script_compliance == pytest.approx(figures["script_compliance"])
    assert sum(b.count for b in d.handle_time) == 15
    # a-1's handle times are 120, 150, ... 450 s; a-2's 307 s each.
    assert [b.count for b in d.handle_time[:4]] == [0, 4, 4 + 3, 4]
    assert d.handle_time[-1].high is None
    assert sum(b.count for b in d.courtesy) == 12
    assert {p.name for p in d.scatter} == {"王芳", "李雷"}


def test_missed_key_points_forbidden_mystery_agreement_training(
    world: Engine, settings: Settings
) -> None:
    d = dashboard(world, settings)
    verify = d.missed_key_points[0]
    assert (verify.item_id, verify.label, verify.count, verify.checked) == (
        "verify",
        "核实身份",
        4,
        15,
    )
    blame = d.forbidden_phrases[0]
    assert (blame.item_id, blame.count, blame.checked) == ("blame", 1, 3)
    [shop] = d.mystery
    assert shop.item_id == "verify" and shop.mystery.value == 1.0
    assert shop.real.value == pytest.approx(11 / 15)
    assert d.agreement.n == 1 and d.agreement.value == 1.0
    assert [t.overdue for t in d.training] == [True, False]
    assert d.training_counts["overdue"] == 1


def test_overdue_assignments_are_all_counted_beyond_the_rows_shown(
    world: Engine, settings: Settings
) -> None:
    with session_scope(world) as session:
        for i in range(TRAINING_ROWS + 5):
            session.add(
                TrainingAssignment(
                    agent_id="a-2",
                    module_id=f"m{i}",
                    module_title=f"课程 m{i}",
                    period=MARCH,
                    criteria=[],
                    due_date=date(2024, 3, 1),
                )
            )
    d = dashboard(world, settings)
    assert len(d.training) == TRAINING_ROWS
    assert d.training_counts["overdue"] == TRAINING_ROWS + 5 + 1


def test_team_targets_replace_the_defaults(world: Engine, settings: Settings) -> None:
    with session_scope(world) as session:
        save_targets(session, {"fcr": 0.9}, actor="boss", team_id="north")
    figures = {h.metric: h for h in dashboard(world, settings).headline}
    assert figures["fcr"].target is not None and figures["fcr"].target.value == 0.9
    assert figures["fcr"].met is False


def test_other_team_and_bad_input(world: Engine, settings: Settings) -> None:
    south = dashboard(world, settings, "south")
    assert [r.agent_id for r in south.agents] == ["a-3"]
    assert south.missed_key_points == [] and south.mystery == []
    with Session(world) as session:
        with pytest.raises(NotFound):
            team_dashboard(session, "nowhere", MARCH, settings)
        with pytest.raises(ValidationFailed) as error:
            team_dashboard(session, "north", "2024-13", settings)
        assert error.value.field == "period"
        assert latest_period(session, "north", settings.tz) == MARCH
        assert latest_period(session, "south", settings.tz) == MARCH


def test_distributions_put_edge_values_in_the_bucket_that_starts_there(
    engine: Engine, settings: Settings
) -> None:
    """[low, high) buckets, the last handle-time one open, the last courtesy one closed."""
    courtesy = {
        0.0: {"polite_count": 0},
        0.2: {
            "polite_count": 1,
            "forbidden_count": 1,
            "interruptions": 5,
            "long_silences": 3,
            "customer_name_used": False,
        },
        0.8: {
            "polite_count": 1,
            "forbidden_count": 0,
            "interruptions": 0,
            "long_silences": 0,
            "customer_name_used": False,
        },
        1.0: {"polite_count": 2},
    }
    with session_scope(engine) as session:
        session.add(Team(id="edge", name="边界"))
        session.flush()
        session.add(Agent(id="e-1", name="边", team_id="edge"))
        handles = [0.0, 119.9, 120.0, 900.0, 5000.0]
        for i, seconds in enumerate(handles):
            make_call(
                session,
                f"e-{i}",
                agent_id="e-1",
                started_at=datetime(2024, 3, 5, 9, i, tzinfo=UTC),
                talk_seconds=seconds,
                hold_seconds=0.0,
                wrap_seconds=0.0,
            )
            if i < len(courtesy):
                make_metrics(session, f"e-{i}", courtesy=list(courtesy.values())[i])
    with Session(engine) as session:
        d = team_dashboard(session, "edge", MARCH, settings, today=TODAY)
    assert [(b.low, b.count) for b in d.handle_time if b.count] == [(0, 2), (120, 1), (900, 2)]
    assert d.handle_time[-1].high is None
    assert [(b.low, b.count) for b in d.courtesy] == [
        (0.0, 1),
        (0.2, 1),
        (0.4, 0),
        (0.6, 0),
        (0.8, 2),
    ]
